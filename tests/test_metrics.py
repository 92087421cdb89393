"""`/metrics` over HTTP against the mounted API (PostgreSQL and SQLite), the job statistics it
reads from the database, and the JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from openv_app.db import Database, make_async_engine
from openv_app.logs import configure_logging, json_formatter
from openv_app.metrics import runpod_outcome
from openv_app.models import utcnow
from openv_app.services.endpoints import Endpoints
from openv_app.services.jobs import JobService
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.signing import webhook_token
from openv_app.services.stats import JobStatsReader
from openv_app.services.storage import LocalStorage
from openv_app.settings import PROJECT_ROOT, Settings
from tests.support.factories import insert_videos, video_row
from tests.support.handlers import quick_video_handler
from tests.support.loops import run_sync

TOKEN = "metrics-token-for-tests"
REQUEST = {"prompt": "a lighthouse at dusk", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 4}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(app, token: str | None = TOKEN) -> httpx.Response:
    return httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})


def samples(app) -> Samples:
    """Every sample of a scrape, by name and labels."""
    response = scrape(app)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def webhook(app, video: dict, body: dict, token: str | None = None) -> httpx.Response:
    token = token or webhook_token("test-webhook-secret", video["id"])
    return httpx.post(f"{app.url}/api/runpod/webhook", params={"video_id": video["id"], "token": token}, json=body)


# --- who may read it ------------------------------------------------------------------------------


def test_metrics_answer_404_while_no_token_is_configured(app_factory):
    app = app_factory()
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        response = httpx.get(f"{app.url}/metrics", headers=headers)
        assert response.status_code == 404
        assert response.json() == {"error": "Not Found"}


def test_metrics_need_the_configured_bearer_token(app_factory):
    app = app_factory(metrics_token=TOKEN)
    for token in (None, "wrong-token-of-some-length", TOKEN + "x", TOKEN.upper()):
        response = scrape(app, token)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid metrics token", "field": "authorization"}
    basic = httpx.get(f"{app.url}/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401

    response = scrape(app)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"openv_http_requests", "openv_jobs", "openv_jobs_in_flight", "openv_poll_lag_seconds"} <= names
    # OpenMetrics for a scraper that asks for it (Prometheus does).
    openmetrics = httpx.get(
        f"{app.url}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_a_short_metrics_token_is_refused_at_start_up():
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(_env_file=None, metrics_token="short")


# --- what a job's life leaves in them -------------------------------------------------------------


def test_a_jobs_life_is_counted_by_route_template_outcome_and_status(app_factory, runpod_factory):
    # The job stays queued (no workers): the test sends RunPod's webhook itself.
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), metrics_token=TOKEN)
    app.service.stats.max_age_s = 0  # the database's gauges read afresh at each scrape (see below)
    before = samples(app)

    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    assert httpx.get(f"{app.url}/api/videos/{video['id']}").status_code == 200
    done = {"id": video["runpod_job_id"], "status": "COMPLETED", "output": {"video": "v", "poster": "p"}}
    assert webhook(app, video, done).json()["changed"] is True
    assert webhook(app, video, done).json()["changed"] is False  # RunPod delivers twice
    assert webhook(app, video, done, token="0" * 64).status_code == 401
    assert webhook(app, video, {"id": "another-job", "status": "COMPLETED"}).status_code == 404
    assert httpx.get(f"{app.url}/api/nothing-here").status_code == 404
    after = samples(app)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "openv_http_requests_total"
    assert added(requests, method="POST", route="/api/runpod", status="201") == 1
    assert added(requests, method="GET", route="/api/videos/{video_id}", status="200") == 1
    assert added(requests, method="POST", route="/api/runpod/webhook", status="200") == 2
    assert added(requests, method="POST", route="/api/runpod/webhook", status="401") == 1
    assert added(requests, method="POST", route="/api/runpod/webhook", status="404") == 1
    assert added(requests, method="GET", route="unmatched", status="404") == 1
    assert not any(video["id"] in dict(labels).get("route", "") for _, labels in after)  # no raw paths
    assert added("openv_http_request_duration_seconds_count", method="POST", route="/api/runpod") == 1

    reports = "openv_report_handling_seconds_count"
    assert added(reports, source="webhook", outcome="changed") == 1
    assert added(reports, source="webhook", outcome="unchanged") == 1
    assert added(reports, source="webhook", outcome="rejected") == 2  # the forged token, the other job

    assert added("openv_runpod_requests_total", endpoint="local", operation="run", outcome="ok") == 1
    assert added("openv_runpod_request_duration_seconds_count", endpoint="local", operation="run") == 1

    assert value(after, "openv_jobs", status="COMPLETED") == 1
    assert value(after, "openv_jobs", status="PENDING") == 0
    assert value(after, "openv_jobs_in_flight") == 0
    assert value(after, "openv_poll_lag_seconds") == 0


def test_jobs_in_flight_and_the_most_overdue_poll(app_factory, engine):
    app = app_factory(metrics_token=TOKEN)
    now = utcnow()
    insert_videos(
        engine,
        [
            video_row(status="PENDING", runpod_job_id="job-due-long-ago", next_poll_at=now - timedelta(seconds=90)),
            video_row(status="PROCESSING", runpod_job_id="job-due-soon", next_poll_at=now + timedelta(seconds=5)),
            video_row(status="PROCESSING", runpod_job_id="job-just-due", next_poll_at=now - timedelta(seconds=1)),
            # Not followed: finished, or (below) without a job id yet.
            video_row(status="FAILED", runpod_job_id="job-failed", next_poll_at=now - timedelta(hours=1)),
        ],
    )
    insert_videos(engine, [video_row(status="PENDING", next_poll_at=now - timedelta(hours=1))])
    found = samples(app)
    assert value(found, "openv_jobs", status="PENDING") == 2
    assert value(found, "openv_jobs", status="PROCESSING") == 2
    assert value(found, "openv_jobs", status="FAILED") == 1
    assert value(found, "openv_jobs", status="CANCELLED") == 0  # every status, so a series never vanishes
    assert value(found, "openv_jobs_in_flight") == 3
    assert 90 <= value(found, "openv_poll_lag_seconds") < 150


def test_job_stats_are_read_once_per_interval_however_many_scrapes():
    queries: list[int] = []

    class CountingDatabase:
        async def rows(self, statement):
            queries.append(1)
            return []

    async def scrapes() -> None:
        reader = JobStatsReader(CountingDatabase(), max_age_s=60)  # type: ignore[arg-type]
        stats = await asyncio.gather(*(reader.read() for _ in range(5)))
        assert stats[0].in_flight == 0 and stats[0].by_status["COMPLETED"] == 0
        reader.max_age_s = 0
        await reader.read()

    run_sync(scrapes())
    assert len(queries) == 2


def test_in_multiprocess_mode_a_scrape_sums_every_processes_counts_and_drops_dead_processes_gauges(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}

    def python(code: str, *args: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    worker = (
        "import sys; from openv_app import metrics; n = int(sys.argv[1]); "
        "metrics.observe_request('GET', '/api/health/live', 200); metrics.HTTP_REQUESTS.labels('GET', 'x', '200').inc(n); "
        "metrics.observe_open_tabs(n)"
    )
    for tabs in ("2", "3"):  # two workers that were killed: nothing ran at their shutdown
        python(worker, tabs)
    assert len(list((tmp_path / "metrics").glob("gauge_liveall_*.db"))) == 2
    scrape = (
        "import sys; from openv_app import metrics; "
        "stats = metrics.JobStats(by_status={'PENDING': 4}, in_flight=4, poll_lag_s=1.5); "
        "sys.stdout.write(metrics.exposition(stats, None)[0].decode())"
    )
    found = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(python(scrape))
        for sample in family.samples
    }
    assert value(found, "openv_http_requests_total", method="GET", route="x", status="200") == 5
    assert value(found, "openv_http_requests_total", method="GET", route="/api/health/live", status="200") == 2
    assert not [name for name, _ in found if name == "openv_open_tabs"]  # their processes are gone
    assert value(found, "openv_jobs", status="PENDING") == 4  # once, from the scrape
    assert value(found, "openv_poll_lag_seconds") == 1.5
    assert not list((tmp_path / "metrics").glob("gauge_live*"))


@pytest.mark.parametrize(
    "status,outcome",
    [(None, "network_error"), (200, "ok"), (404, "not_found"), (429, "rate_limited"), (401, "client_error")]
    + [(500, "server_error"), (502, "server_error")],
)
def test_runpod_outcomes_are_a_few_names(status, outcome):
    assert runpod_outcome(status) == outcome


# --- JSON log lines -------------------------------------------------------------------------------


def test_a_log_line_about_a_job_is_json_with_its_ids(tmp_path):
    settings = Settings(_env_file=None, webhook_secret="secret")
    service = JobService(
        settings=settings,
        db=Database(make_async_engine(f"sqlite:///{tmp_path / 'unused.db'}")),
        endpoints=Endpoints.serving(RunPodClient("http://127.0.0.1:9/v2", "none", "key")),
        storage=LocalStorage(tmp_path, settings.public_base_url, "secret", ttl_s=600),
    )

    async def broken_listener(video) -> None:
        raise RuntimeError("the tab went away")

    service.listeners.append(broken_listener)
    video = video_row(runpod_job_id="job-42")
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("openv_app")
    logger.addHandler(handler)
    try:
        run_sync(service._notify(video))  # the job service logs the failure, about this job
    finally:
        logger.removeHandler(handler)

    [line] = output.getvalue().splitlines()
    record = json.loads(line)
    assert record["video_id"] == str(video.id) and record["runpod_job_id"] == "job-42"
    assert record["level"] == "ERROR" and record["logger"] == "openv_app.services.jobs"
    assert record["message"] == "video listener failed"
    assert "the tab went away" in record["exc_info"]
    assert record["time"].endswith("+00:00")


def test_logging_is_configured_once_on_the_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("json")
        configure_logging("json")
        ours = [handler for handler in root.handlers if getattr(handler, "openv", False)]
        assert len(ours) == 1
        assert isinstance(ours[0].formatter, type(json_formatter()))
        assert logging.getLogger("openv_app").getEffectiveLevel() == logging.INFO
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("openv_app").setLevel(logging.NOTSET)
