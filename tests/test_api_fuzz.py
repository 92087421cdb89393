"""Schemathesis against /api/openapi.json: generated requests (valid and invalid, as user A, as
user B and with no token) must never get a 5xx, and every response must match the schema.
The stateful run follows the schema's links (create a video, then read, cancel, retry and
delete it). Bounded: a fixed number of examples per operation."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import ignored_auth

from tests.support.clerk_tokens import TokenMaker
from tests.support.handlers import quick_video_handler

EXAMPLES = 25
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(hypothesis.HealthCheck)
)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
    ignored_auth,
]
MAKER = TokenMaker()


def auth(caller: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {MAKER.token(sub=caller)}"} if caller else {}


@pytest.fixture
def api_schema(app_factory, runpod_factory):
    app = app_factory(
        runpod_factory(quick_video_handler, concurrency=0),
        max_concurrent_jobs=1000,
        daily_quota=100_000,
        **MAKER.settings(),
    )
    return schemathesis.openapi.from_url(f"{app.url}/api/openapi.json")


@pytest.mark.postgres_only
@pytest.mark.parametrize("caller", ["user_a", "user_b", None])
def test_no_request_gets_a_server_error_or_breaks_the_schema(api_schema, caller):
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @SETTINGS
        @hypothesis.given(case=operation.as_strategy())
        def call(case) -> None:
            case.call_and_validate(headers=auth(caller), checks=CHECKS)

        call()


@pytest.mark.postgres_only
def test_following_links_never_breaks_the_api(api_schema):
    machine = api_schema.as_state_machine()

    class AsUserA(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            return {"headers": auth("user_a")}

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS[:4])

    run_state_machine_as_test(AsUserA, settings=hypothesis.settings(SETTINGS, max_examples=15, stateful_step_count=6))
