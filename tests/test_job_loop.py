"""The live job loop at RunPod's cadence: the poller's per-job schedule, the worker's direct
progress reports, automatic retries of transient failures, jobs RunPod never confirmed, and the
job ttl against the upload URLs. Over HTTP, against PostgreSQL and SQLite."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openv_app.models import Video, utcnow, videos
from openv_app.services.attempts import TTL_MARGIN_S, job_ttl_s
from openv_app.services.errors import ConfigurationError
from openv_app.services.poller import poll_due_jobs, poll_interval_s
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.signing import callback_url
from openv_app.settings import Settings
from tests.support.factories import insert_in_flight_videos
from tests.support.handlers import GatedHandler, quick_video_handler
from tests.support.runpod_standin import RunEndpoint, SlowStatusEndpoint
from tests.support.servers import ServerThread, wait_until

REQUEST = {"prompt": "a heron in the reeds", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 4}


def submit(app) -> dict:
    response = httpx.post(f"{app.url}/api/runpod", json=REQUEST, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def video_of(app, video_id: str) -> dict:
    return httpx.get(f"{app.url}/api/videos/{video_id}").json()


def report(app, route: str, video_id: str, body: dict[str, Any], attempt: int = 0) -> httpx.Response:
    """A webhook (RunPod) or a direct progress report (the worker) as they would send it."""
    return httpx.post(callback_url(app.url, "test-webhook-secret", route, video_id, attempt), json=body)


def row(engine, video_id: str) -> Video:
    with engine.connect() as connection:
        found = connection.execute(sa.select(videos).where(videos.c.id == uuid.UUID(video_id))).one()
    return Video.model_validate(found._mapping)


# --- the poller's cadence ----------------------------------------------------------------------


def test_a_job_is_polled_again_one_interval_after_its_last_poll(database_url, engine, app_factory):
    [video] = insert_in_flight_videos(engine, 1)
    standin = SlowStatusEndpoint(delay_s=0.0)
    with ServerThread(standin.app) as server:
        app = app_factory(runpod_client=RunPodClient(f"{server.url}/v2", "ep", "key"), poll_interval_s=1.0)
        assert app.run(poll_due_jobs(app.service)) == 1
        polled = row(engine, str(video.id))
        # The lease ended with the poll: the job is due one interval after it, not after a lease.
        assert polled.next_poll_at - polled.polled_at == timedelta(seconds=1)
        assert app.run(poll_due_jobs(app.service)) == 0
        wait_until(lambda: utcnow() >= polled.next_poll_at, timeout=5)
        assert app.run(poll_due_jobs(app.service)) == 1
    assert standin.asked[video.runpod_job_id] == 2


def test_the_interval_grows_with_jobs_in_flight_to_stay_within_the_status_rate(engine, app_factory):
    insert_in_flight_videos(engine, 54)
    app = app_factory(poll_interval_s=1.0, runpod_status_rate_per_s=20)
    assert app.run(poll_interval_s(app.service)) == pytest.approx(3.0)  # 54 jobs / (90 % of 20 calls a second)


def test_jobs_due_at_once_are_polled_no_faster_than_the_status_rate(engine, app_factory):
    insert_in_flight_videos(engine, 60)
    standin = SlowStatusEndpoint(delay_s=0.0)
    with ServerThread(standin.app) as server:
        client = RunPodClient(f"{server.url}/v2", "ep", "key")
        app = app_factory(runpod_client=client, poll_interval_s=10.0, runpod_status_rate_per_s=20)
        started = time.monotonic()
        assert app.run(poll_due_jobs(app.service)) == 60
        took = time.monotonic() - started
    # A burst of one second's worth, then 20 a second: the 40 others take two more seconds.
    assert took >= 1.8, took
    assert sum(standin.asked.values()) == 60


# --- direct progress reports -------------------------------------------------------------------


def test_direct_progress_reports_apply_once_forward_and_put_the_poll_off(app_factory, runpod_factory, engine):
    gate = GatedHandler()
    app = app_factory(runpod_factory(gate), poll_interval_s=2.0)
    video = submit(app)
    assert gate.started.wait(10)
    job = {"job_id": video["runpod_job_id"]}
    progress = {**job, "stage": "denoising", "step": 6, "total": 10}

    assert report(app, "progress", video["id"], progress).json()["changed"] is True
    assert video_of(app, video["id"])["progress"] == 60
    assert row(engine, video["id"]).next_poll_at > utcnow() + timedelta(seconds=1)  # polled later
    assert report(app, "progress", video["id"], progress).json()["changed"] is False  # duplicate
    backwards = {**progress, "step": 2}
    assert report(app, "progress", video["id"], backwards).json()["changed"] is False
    assert video_of(app, video["id"])["progress"] == 60

    bad = httpx.post(callback_url(app.url, "wrong-secret", "progress", video["id"], 0), json=progress)
    assert bad.status_code == 401 and bad.json()["field"] == "token"
    no_job = report(app, "progress", video["id"], {"stage": "denoising", "step": 1, "total": 2})
    assert no_job.status_code == 422 and no_job.json()["field"] == "job_id"

    gate.release.set()
    wait_until(lambda: video_of(app, video["id"])["status"] == "COMPLETED", timeout=20)
    late = {**progress, "stage": "encoding", "step": 10}
    assert report(app, "progress", video["id"], late).json()["changed"] is False
    assert video_of(app, video["id"])["progress"] == 100


def test_a_worker_that_keeps_reporting_is_still_polled_now_and_then(app_factory, runpod_factory, engine):
    gate = GatedHandler()
    app = app_factory(runpod_factory(gate), poll_interval_s=1.0, poll_interval_with_reports_s=3.0)
    video = submit(app)
    assert gate.started.wait(10)
    with engine.begin() as connection:  # last polled long ago
        old = utcnow() - timedelta(seconds=10)
        connection.execute(
            sa.update(videos).where(videos.c.id == uuid.UUID(video["id"])).values(polled_at=old, next_poll_at=old)
        )
    body = {"job_id": video["runpod_job_id"], "stage": "denoising", "step": 3, "total": 4}
    assert report(app, "progress", video["id"], body).json()["changed"] is True
    assert row(engine, video["id"]).next_poll_at == old  # stays due: no push past the longer interval
    gate.release.set()


# --- automatic retries -------------------------------------------------------------------------


def test_a_timed_out_job_runs_again_on_the_same_video_charged_for_what_ran(app_factory, runpod_factory):
    runpod = runpod_factory(quick_video_handler, concurrency=0)  # jobs stay queued
    app = app_factory(runpod, daily_gpu_seconds=1000)
    video = submit(app)
    first_job = video["runpod_job_id"]
    timed_out = {"id": first_job, "status": "TIMED_OUT", "executionTime": 600_000}

    assert report(app, "webhook", video["id"], timed_out).json()["changed"] is True
    again = video_of(app, video["id"])
    assert (again["status"], again["attempts"], again["earlier_attempts_ms"]) == ("PENDING", 1, 600_000)
    assert again["runpod_job_id"] not in (None, first_job) and "time limit" in again["error"]
    assert len(runpod.endpoint.jobs) == 2
    second_job = runpod.endpoint.jobs[again["runpod_job_id"]]
    assert second_job.webhook and "attempt=1" in second_job.webhook and "attempt=1" in second_job.input["progress_url"]

    # RunPod's retried delivery of the first job's webhook changes nothing.
    assert report(app, "webhook", video["id"], timed_out).json()["changed"] is False
    assert len(runpod.endpoint.jobs) == 2
    assert app.run(app.service.quota.usage("dev-user")).gpu_seconds_today == 600

    done = {"id": again["runpod_job_id"], "status": "COMPLETED", "executionTime": 40_000, "output": {"video": "v"}}
    assert report(app, "webhook", video["id"], done, attempt=1).json()["changed"] is True
    finished = video_of(app, video["id"])
    assert (finished["status"], finished["error"], finished["execution_ms"]) == ("COMPLETED", None, 40_000)
    assert app.run(app.service.quota.usage("dev-user")).gpu_seconds_today == 640


def test_retries_stop_after_two_and_refusals_are_not_retried(app_factory, runpod_factory):
    runpod = runpod_factory(quick_video_handler, concurrency=0)
    app = app_factory(runpod)
    video = submit(app)
    for attempt in range(3):
        job_id = video_of(app, video["id"])["runpod_job_id"]
        died = {"id": job_id, "status": "FAILED", "error": "worker exited with exit code 137"}
        assert report(app, "webhook", video["id"], died, attempt).json()["changed"] is True
    failed = video_of(app, video["id"])
    assert (failed["status"], failed["attempts"]) == ("FAILED", 2) and "exit code 137" in failed["error"]
    assert len(runpod.endpoint.jobs) == 3

    refused = submit(app)
    body = {"id": refused["runpod_job_id"], "status": "FAILED", "error": "invalid input: width: too large"}
    assert report(app, "webhook", refused["id"], body).json()["changed"] is True
    assert video_of(app, refused["id"])["status"] == "FAILED"


def test_no_retry_once_the_daily_gpu_time_is_used_up(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), daily_gpu_seconds=100)
    video = submit(app)
    timed_out = {"id": video["runpod_job_id"], "status": "TIMED_OUT", "executionTime": 100_000}
    with_time_used = {**timed_out}
    assert report(app, "webhook", video["id"], with_time_used).json()["changed"] is True
    again = video_of(app, video["id"])
    assert again["status"] == "PENDING"  # the failed attempt's time was not yet counted
    over = {"id": again["runpod_job_id"], "status": "TIMED_OUT", "executionTime": 100_000}
    assert report(app, "webhook", video["id"], over, attempt=1).json()["changed"] is True
    assert video_of(app, video["id"])["status"] == "FAILED"


# --- a /run without an answer ------------------------------------------------------------------


def test_an_unconfirmed_job_frees_its_slot_and_its_progress_still_brings_the_video(app_factory):
    endpoint = RunEndpoint(answer_after_s=3)
    with ServerThread(endpoint.app) as server:
        client = RunPodClient(f"{server.url}/v2", "ep", "key", timeout_s=0.5)
        app = app_factory(runpod_client=client, max_concurrent_jobs=1)
        started = time.monotonic()
        video = submit(app)
        assert time.monotonic() - started < 60
        assert (video["status"], video["stage"]) == ("PENDING", "unconfirmed")
        assert app.run(app.service.quota.usage("dev-user")).unfinished == 0
        assert submit(app)["stage"] == "unconfirmed"  # the slot was free

    job_id = endpoint.runs[0]["id"]
    progress_url = endpoint.runs[0]["input"]["progress_url"]
    body = {"job_id": job_id, "stage": "denoising", "step": 1, "total": 2}
    assert httpx.post(progress_url, json=body).json()["changed"] is True
    adopted = video_of(app, video["id"])
    assert (adopted["status"], adopted["runpod_job_id"]) == ("PROCESSING", job_id)
    done = {"id": job_id, "status": "COMPLETED", "output": {"video": "v"}}
    assert httpx.post(endpoint.runs[0]["webhook"], json=done).json()["changed"] is True
    assert video_of(app, video["id"])["status"] == "COMPLETED"


# --- the job's ttl and its upload URLs ---------------------------------------------------------


def test_the_job_ttl_never_outlives_its_upload_urls(app_factory, runpod_factory):
    runpod = runpod_factory(quick_video_handler, concurrency=0)
    app = app_factory(runpod)
    video = submit(app)
    lifetime = app.storage.upload_url_lifetime_s
    assert runpod.endpoint.jobs[video["runpod_job_id"]].ttl_ms == (lifetime - TTL_MARGIN_S) * 1000

    assert job_ttl_s(Settings(_env_file=None), 7200) == 7200 - TTL_MARGIN_S  # Supabase: two hours
    assert job_ttl_s(Settings(_env_file=None, runpod_job_ttl_s=3600), 7200) == 3600
    with pytest.raises(ConfigurationError, match="RUNPOD_JOB_TTL_S"):
        job_ttl_s(Settings(_env_file=None, runpod_job_ttl_s=24 * 3600), 7200)
    with pytest.raises(ConfigurationError, match="RUNPOD_EXECUTION_TIMEOUT_S"):
        job_ttl_s(Settings(_env_file=None, runpod_execution_timeout_s=7200), 7200)


def test_run_past_runpods_rate_limit_is_sent_again_after_a_backoff(app_factory):
    """RunPod answers 429 when /run passes 1,000 requests per 10 s: nothing was queued, so the
    app sends it again after a pause instead of failing the video."""
    answers = [429, 429, 200]

    async def run(request: Request) -> JSONResponse:
        status = answers.pop(0)
        body = {"id": "job-after-429", "status": "IN_QUEUE"} if status == 200 else {"error": "rate limited"}
        return JSONResponse(body, status_code=status)

    standin = Starlette(routes=[Route("/v2/{endpoint}/run", run, methods=["POST"])])
    with ServerThread(standin) as server:
        app = app_factory(runpod_client=RunPodClient(f"{server.url}/v2", "ep", "key", backoff_s=0.01))
        video = submit(app)
    assert (video["status"], video["runpod_job_id"], answers) == ("PENDING", "job-after-429", [])
