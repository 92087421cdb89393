"""Schemathesis against /api/openapi.json in Clerk mode, with every check it has: the schema must
tell the truth about what the API requires and answers, so that nothing is found.

- Per operation, as user A, as user B and with no token: the examples, coverage (boundaries,
  missing parameters and headers, undeclared methods and media types) and fuzzing phases, with
  valid and invalid data.
- The stateful phase: scenarios that follow the schema's links (submit a video, then read,
  cancel, retry, share and delete it) as user A, each read of A's video replayed as user B
  (object-level authorization), a deleted video used again (use after free), a created one
  read at once (resource availability), and every check above on each step.

Bounded: a fixed number of generated examples per operation and of stateful scenarios."""

from __future__ import annotations

import json
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import overrides
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test

from tests.support.clerk_tokens import TokenMaker
from tests.support.handlers import quick_video_handler

load_all_checks()
# Every check Schemathesis has, by name: one a newer version adds runs too.
ALL_CHECKS = [CHECKS.get_one(name) for name in CHECKS.get_all_names()]
SETTINGS = hypothesis.settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=list(hypothesis.HealthCheck)
)
MAKER = TokenMaker()
USERS = ["user_a", "user_b"]


def auth(caller: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {MAKER.token(sub=caller, lifetime_s=600)}"} if caller else {}


@pytest.fixture
def api_url(app_factory, runpod_factory) -> str:
    app = app_factory(
        runpod_factory(quick_video_handler, concurrency=0),
        max_concurrent_jobs=1000,
        daily_quota=100_000,
        **MAKER.settings(),
    )
    return f"{app.url}/api/openapi.json"


# What no schema can say: an image's size in pixels. Schemathesis' valid upload is its 1x1 sample
# image, which POST /api/images refuses (each side at least 64 px) with a 400 naming `body`.
IMAGE_SIZE = {
    "include-operation-id": "upload_image",
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "413"]}},
}


def load(url: str, **config: Any) -> Any:
    """The schema, with this configuration only (no schemathesis.toml is looked for)."""
    config = {"operations": [IMAGE_SIZE], **config}
    return schemathesis.openapi.from_url(url, config=schemathesis.Config.from_dict(config))


def call(case) -> None:
    case.call_and_validate(checks=ALL_CHECKS)


@pytest.mark.postgres_only
@pytest.mark.parametrize("caller", [*USERS, None])
def test_no_request_finds_anything(api_url, caller):
    # The caller's token as the CLI's `--header` gives it: generation knows it is supplied.
    schema = load(api_url, headers=auth(caller))
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        # What the pytest plugin builds for one operation: the examples, coverage and fuzzing phases.
        test = create_test(
            operation=operation,
            test_func=call,
            config=HypothesisTestConfig(
                project=schema.config,
                modes=list(HypothesisTestMode),
                settings=SETTINGS,
                override=overrides.with_config_headers(schema.config, operation=operation),
            ),
        )
        try:
            test()
        except (Exception, BaseExceptionGroup) as error:  # Schemathesis' FailureGroup among them
            found[operation.label] = error
    assert not found, "\n\n".join(f"{label}:\n{error}" for label, error in found.items())


@pytest.mark.postgres_only
def test_following_links_finds_nothing(api_url, tmp_path):
    # Users A and B as peers (Web Fuzzing Commons auth): neither may get what the other owns.
    users = [
        {"name": user, "fixedHeaders": [{"name": "Authorization", "value": auth(user)["Authorization"]}]}
        for user in USERS
    ]
    (tmp_path / "users.json").write_text(json.dumps({"auth": users}))
    schema = load(api_url, auth={"wfc": {"path": str(tmp_path / "users.json"), "peers": USERS}})

    found: list[FailureGroup] = []

    class EveryCheck(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(
                    response, checks=ALL_CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder
                )
            except FailureGroup as failure:
                found.append(failure)
                raise

    # As Schemathesis' own engine runs state machines: generation only (a scenario's steps depend
    # on the server's answers, so Hypothesis cannot replay one to shrink it), and a replay that
    # went another way (Flaky) is no finding; what a check found is, kept in `found`.
    scenarios = hypothesis.settings(
        SETTINGS, max_examples=30, stateful_step_count=8, phases=[hypothesis.Phase.generate]
    )
    try:
        run_state_machine_as_test(EveryCheck, settings=scenarios)
    except hypothesis.errors.Flaky:
        pass
    assert not found, "\n\n".join(map(str, found))
