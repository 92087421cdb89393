"""The local endpoint speaks RunPod's protocol: the official `runpod` SDK client works against it."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
import runpod

from tests.support.handlers import GatedHandler
from tests.support.servers import wait_until
from worker import progress
from worker.progress import report_progress


def echo_handler(job):
    report_progress(job, {"stage": "working", "step": 1, "total": 1})
    return {"echo": job["input"]["value"]}


async def async_handler(job):
    await asyncio.sleep(0.01)
    return {"async": True}


def generator_handler(job):
    yield {"part": 1}
    yield {"part": 2}


def slow_handler(job):
    time.sleep(2)
    return {"late": True}


@pytest.fixture
def sdk(monkeypatch):
    """Points the runpod SDK at a local endpoint, as `runpod.endpoint_url_base` allows."""

    def connect(local):
        monkeypatch.setattr(runpod, "endpoint_url_base", local.base_url)
        monkeypatch.setattr(runpod, "api_key", local.api_key)
        return runpod.Endpoint(local.endpoint_id)

    return connect


def test_runpod_sdk_run_status_output(runpod_factory, sdk):
    endpoint = sdk(runpod_factory(echo_handler))
    job = endpoint.run({"value": 42})
    assert job.status() in {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"}
    assert job.output(timeout=20) == {"echo": 42}
    assert job.status() == "COMPLETED"
    assert endpoint.run_sync({"value": "sync"}, timeout=20) == {"echo": "sync"}


def test_runpod_sdk_cancel_health_purge(runpod_factory, sdk):
    gate = GatedHandler()
    local = runpod_factory(gate)
    endpoint = sdk(local)
    running = endpoint.run({"prompt": "x"})
    assert gate.started.wait(10)
    queued = [endpoint.run({"prompt": str(i)}) for i in range(3)]
    health = endpoint.health()
    assert health["jobs"]["inProgress"] == 1 and health["jobs"]["inQueue"] == 3
    assert health["workers"] == {"idle": 0, "running": 1}
    assert running.cancel()["status"] == "CANCELLED"
    assert queued[0].cancel()["status"] == "CANCELLED"
    assert endpoint.purge_queue()["removed"] == 2
    with pytest.raises(Exception, match="404"):
        queued[1].status()  # purged jobs are gone
    gate.release.set()
    assert running.status() == "CANCELLED"


def test_bad_key_is_401(runpod_factory):
    local = runpod_factory(echo_handler)
    response = httpx.post(f"{local.base_url}/local/run", json={"input": {}}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    bare = httpx.get(f"{local.base_url}/local/health", headers={"Authorization": local.api_key})
    assert bare.status_code == 200


def post(local, path, body=None):
    return httpx.post(f"{local.base_url}/local{path}", json=body, headers={"Authorization": f"Bearer {local.api_key}"})


def get(local, path):
    return httpx.get(f"{local.base_url}/local{path}", headers={"Authorization": f"Bearer {local.api_key}"})


@pytest.mark.parametrize(
    "handler,output", [(async_handler, {"async": True}), (generator_handler, [{"part": 1}, {"part": 2}])]
)
def test_async_and_generator_handlers(runpod_factory, handler, output):
    local = runpod_factory(handler)
    job_id = post(local, "/run", {"input": {}}).json()["id"]
    body = wait_until(lambda: (b := get(local, f"/status/{job_id}").json())["status"] == "COMPLETED" and b)
    assert body["output"] == output
    assert {"delayTime", "executionTime", "workerId"} <= set(body)


def test_progress_is_visible_while_in_progress(runpod_factory):
    gate = GatedHandler()
    local = runpod_factory(gate)
    job_id = post(local, "/run", {"input": {}}).json()["id"]
    assert gate.started.wait(10)
    body = get(local, f"/status/{job_id}").json()
    assert body["status"] == "IN_PROGRESS"
    assert body["output"] == {"stage": "denoising", "step": 1, "total": 4}
    gate.release.set()


def test_execution_timeout_gives_timed_out(runpod_factory):
    local = runpod_factory(slow_handler)
    job_id = post(local, "/run", {"input": {}, "policy": {"executionTimeout": 300}}).json()["id"]
    body = wait_until(lambda: (b := get(local, f"/status/{job_id}").json())["status"] == "TIMED_OUT" and b, timeout=5)
    assert "timed out" in body["error"].lower()


def test_ttl_expiry_and_result_retention_give_404(runpod_factory):
    local = runpod_factory(echo_handler, concurrency=0)
    job_id = post(local, "/run", {"input": {"value": 1}, "policy": {"ttl": 200}}).json()["id"]
    assert get(local, f"/status/{job_id}").status_code == 200
    wait_until(lambda: get(local, f"/status/{job_id}").status_code == 404, timeout=5)

    kept = runpod_factory(echo_handler, result_retention_s=0.3)
    done_id = post(kept, "/run", {"input": {"value": 1}}).json()["id"]
    wait_until(lambda: get(kept, f"/status/{done_id}").json()["status"] == "COMPLETED")
    wait_until(lambda: get(kept, f"/status/{done_id}").status_code == 404, timeout=5)


def test_retry_only_for_failed_jobs(runpod_factory):
    attempts = []

    def flaky(job):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("GPU fell over")
        return {"ok": True}

    local = runpod_factory(flaky)
    job_id = post(local, "/run", {"input": {}}).json()["id"]
    failed = wait_until(lambda: (b := get(local, f"/status/{job_id}").json())["status"] == "FAILED" and b)
    assert "GPU fell over" in failed["error"]
    assert post(local, f"/retry/{job_id}").json() == {"id": job_id, "status": "IN_QUEUE"}
    wait_until(lambda: get(local, f"/status/{job_id}").json()["status"] == "COMPLETED")
    assert post(local, f"/retry/{job_id}").status_code == 400


def test_webhook_is_posted_with_the_cloud_payload_and_retried(runpod_factory):
    """A webhook receiver that fails twice gets the same body three times."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.support.servers import ServerThread

    received = []

    async def receive(request):
        received.append(await request.json())
        return JSONResponse({}, status_code=500 if len(received) < 3 else 200)

    with ServerThread(Starlette(routes=[Route("/hook", receive, methods=["POST"])])) as hook:
        local = runpod_factory(echo_handler, webhook_retry_delay_s=0.1)
        job_id = post(local, "/run", {"input": {"value": 7}, "webhook": f"{hook.url}/hook"}).json()["id"]
        wait_until(lambda: len(received) == 3, timeout=10)
        wait_until(lambda: not local.endpoint._background, timeout=10)  # delivery done: no 4th try
    assert len(received) == 3
    body = received[0]
    assert body["id"] == job_id and body["status"] == "COMPLETED" and body["output"] == {"echo": 7}
    assert body["input"] == {"value": 7} and body["webhook"] == f"{hook.url}/hook"
    assert received[0] == received[2]


def test_concurrency_runs_jobs_in_parallel(runpod_factory):
    active, peak, lock = [0], [0], threading.Lock()

    def counted(job):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        with lock:
            active[0] -= 1
        return {}

    local = runpod_factory(counted, concurrency=2)
    ids = [post(local, "/run", {"input": {}}).json()["id"] for _ in range(4)]
    for job_id in ids:
        wait_until(lambda: get(local, f"/status/{job_id}").json()["status"] == "COMPLETED", timeout=10)
    assert peak[0] == 2


def recorder():
    """A Starlette app recording the JSON bodies POSTed to /hook, and the list they go to."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received = []

    async def receive(request):
        received.append(await request.json())
        return JSONResponse({})

    return Starlette(routes=[Route("/hook", receive, methods=["POST"])]), received


def test_drop_webhooks_leaves_the_app_to_poll_the_latest_progress(runpod_factory):
    """RunPod's real cadence: a lost completion webhook; /status shows the newest progress."""
    from tests.support.servers import ServerThread

    release = threading.Event()

    def two_steps(job):
        report_progress(job, {"stage": "denoising", "step": 1, "total": 2})
        report_progress(job, {"stage": "denoising", "step": 2, "total": 2})
        release.wait(10)
        return {"done": True}

    app, received = recorder()
    with ServerThread(app) as hook:
        local = runpod_factory(two_steps, drop_webhooks=True)
        job_id = post(local, "/run", {"input": {}, "webhook": f"{hook.url}/hook"}).json()["id"]
        body = wait_until(lambda: (b := get(local, f"/status/{job_id}").json()).get("output") and b)
        assert body["status"] == "IN_PROGRESS"
        wait_until(lambda: get(local, f"/status/{job_id}").json()["output"]["step"] == 2)
        release.set()
        done = wait_until(lambda: (b := get(local, f"/status/{job_id}").json())["status"] == "COMPLETED" and b)
        assert done["output"] == {"done": True}
        assert not local.endpoint._background  # no delivery was ever started
    assert received == []


def test_the_handler_reports_to_progress_url_unless_dropped(runpod_factory):
    """The worker's direct channel works locally as on RunPod; `drop_progress_reports` hides
    `progress_url` from the handler, so progress travels only through /status."""
    from tests.support.servers import ServerThread

    def reporting(job):
        report_progress(job, {"stage": "denoising", "step": 1, "total": 1})
        if "progress_url" in job["input"]:  # a real job runs for seconds; the job's end drops pending reports
            wait_until(lambda: any(body["job_id"] == job["id"] for body in received), timeout=5)
        return {"input_seen": job["input"]}

    app, received = recorder()
    with ServerThread(app) as receiver:
        url = f"{receiver.url}/hook?token=v"
        for drop in (False, True):
            local = runpod_factory(reporting, drop_progress_reports=drop)
            job_id = post(local, "/run", {"input": {"progress_url": url, "n": 1}}).json()["id"]
            done = wait_until(lambda: (b := get(local, f"/status/{job_id}").json())["status"] == "COMPLETED" and b)
            if drop:
                assert done["output"] == {"input_seen": {"n": 1}}
                assert progress.wait_idle(timeout=5)
                assert [body for body in received if body["job_id"] == job_id] == []
            else:
                assert done["output"] == {"input_seen": {"progress_url": url, "n": 1}}
                report = next(body for body in received if body["job_id"] == job_id)
                assert report == {"stage": "denoising", "step": 1, "total": 1, "job_id": job_id}
