"""The HTTP API over real HTTP, against PostgreSQL and SQLite, with a local RunPod endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import av
import httpx
import pytest

from openv_app.services.poller import poll_once
from openv_app.services.signing import webhook_token
from openv_app.services.storage import StorageError
from tests.support.factories import insert_videos, video_row
from tests.support.handlers import GatedHandler, failing_handler, quick_video_handler
from tests.support.loops import run_sync
from tests.support.servers import wait_until
from worker.contract import MODELS

REQUEST = {
    "prompt": "a lighthouse at dusk",
    "width": 256,
    "height": 144,
    "num_frames": 9,
    "fps": 8,
    "steps": 4,
    "seed": 11,
}


def video_status(app, video_id: str) -> dict:
    return httpx.get(f"{app.url}/api/runpod/{video_id}").json()


def wait_for_status(app, video_id: str, status: str, timeout: float = 20) -> dict:
    return wait_until(lambda: (body := video_status(app, video_id))["status"] == status and body, timeout=timeout)


def stored_files(app, video: dict) -> list[str]:
    return sorted(p.name for p in (app.storage.root / "dev-user").glob(f"{video['id']}.*"))


# --- submit and the happy path ---------------------------------------------------------------


def test_submit_runs_to_completed_with_files_in_storage(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler))
    response = httpx.post(f"{app.url}/api/runpod", json=REQUEST)
    assert response.status_code == 201, response.text
    video = response.json()
    assert video["status"] == "PENDING" and video["runpod_job_id"]

    done = wait_for_status(app, video["id"], "COMPLETED")
    assert done["progress"] == 100 and done["error"] is None
    assert stored_files(app, video) == [f"{video['id']}.jpg", f"{video['id']}.mp4"]
    # The signed URL serves a real, decodable MP4.
    mp4 = httpx.get(done["video_url"])
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    with av.open(__import__("io").BytesIO(mp4.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    download = httpx.get(done["download_url"])
    assert "attachment" in download.headers["content-disposition"]


def test_runpod_down_at_submit_fails_the_video_with_a_reason(app_factory):
    app = app_factory()  # RunPod client pointed at a closed port
    response = httpx.post(f"{app.url}/api/runpod", json=REQUEST)
    assert response.status_code == 201
    assert response.json()["status"] == "FAILED"
    assert "could not queue" in response.json()["error"].lower()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "ok", "width": 100}, "width"),
        ({"prompt": "ok", "height": 4096}, "height"),
        ({"prompt": "ok", "num_frames": 10}, "num_frames"),
        ({"prompt": "ok", "steps": 0}, "steps"),
        ({"prompt": "ok", "guidance_scale": 99}, "guidance_scale"),
        ({"prompt": "ok", "seed": -1}, "seed"),
        ({"prompt": "ok", "model": "sora"}, "model"),
        ({}, "prompt"),
    ],
)
def test_bad_input_is_400_naming_the_field(app_factory, body, field):
    app = app_factory()
    response = httpx.post(f"{app.url}/api/runpod", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert httpx.get(f"{app.url}/api/videos").json()["videos"] == []  # nothing was created


def test_malformed_json_is_400(app_factory):
    app = app_factory()
    response = httpx.post(f"{app.url}/api/runpod", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_concurrency_limit_is_409_and_quota_is_429(app_factory, runpod_factory):
    gate = GatedHandler()
    app = app_factory(runpod_factory(gate), max_concurrent_jobs=2, daily_quota=3)
    for _ in range(2):
        assert httpx.post(f"{app.url}/api/runpod", json=REQUEST).status_code == 201
    limited = httpx.post(f"{app.url}/api/runpod", json=REQUEST)
    assert limited.status_code == 409 and limited.json()["unfinished"] == 2
    gate.release.set()
    videos = httpx.get(f"{app.url}/api/videos").json()["videos"]
    for video in videos:
        wait_for_status(app, video["id"], "COMPLETED")
    assert httpx.post(f"{app.url}/api/runpod", json=REQUEST).status_code == 201
    quota = httpx.post(f"{app.url}/api/runpod", json=REQUEST)
    assert quota.status_code == 429 and "quota" in quota.json()["error"].lower()


# --- webhook ---------------------------------------------------------------------------------


def queued_video(app) -> dict:
    """A video whose job sits in a local endpoint that never runs it (no workers)."""
    return httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()


def running_video(app_factory, runpod_factory) -> tuple:
    """A video whose job runs on the local endpoint, held IN_PROGRESS until `gate.release`."""
    gate = GatedHandler()
    runpod = runpod_factory(gate)
    app = app_factory(runpod)
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    assert gate.started.wait(10)
    return app, runpod, gate, video


def webhook(app, video_id: str, body, token: str | None = "valid") -> httpx.Response:
    if token == "valid":
        token = webhook_token("test-webhook-secret", video_id)
    params = {"video_id": video_id, **({"token": token} if token else {})}
    kwargs = (
        {"json": body}
        if not isinstance(body, bytes)
        else {"content": body, "headers": {"content-type": "application/json"}}
    )
    return httpx.post(f"{app.url}/api/runpod/webhook", params=params, **kwargs)


def test_webhook_rejects_forged_and_malformed_reports(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0))
    video = queued_video(app)
    report = {"id": video["runpod_job_id"], "status": "COMPLETED", "output": {"video": "x"}}
    assert webhook(app, video["id"], report, token=None).status_code == 401
    assert webhook(app, video["id"], report, token="0" * 64).status_code == 401
    assert webhook(app, str(uuid.uuid4()), report, token=webhook_token("wrong", video["id"])).status_code == 401
    assert webhook(app, video["id"], b"not json").status_code == 400
    as_form = httpx.post(
        f"{app.url}/api/runpod/webhook",
        params={"video_id": video["id"], "token": webhook_token("test-webhook-secret", video["id"])},
        content=b'{"id": "x", "status": "COMPLETED"}',
        headers={"content-type": "text/plain"},
    )
    assert as_form.status_code == 415 and as_form.json()["field"] == "content-type"
    assert webhook(app, video["id"], {"status": "COMPLETED"}).status_code == 422
    assert webhook(app, video["id"], {"id": "another-job", "status": "COMPLETED"}).status_code == 404
    assert webhook(app, video["id"], {"id": video["runpod_job_id"], "status": "EXPLODED"}).status_code == 400
    assert video_status(app, video["id"])["status"] == "PENDING"


def test_duplicate_and_stale_webhooks_change_nothing(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0))
    video = queued_video(app)
    job_id = video["runpod_job_id"]
    done = {"id": job_id, "status": "COMPLETED", "output": {"video": "v", "poster": "p", "duration_s": 1.1}}
    first = webhook(app, video["id"], done)
    assert first.status_code == 200 and first.json()["changed"] is True
    after_first = video_status(app, video["id"])
    again = webhook(app, video["id"], done)
    stale = webhook(app, video["id"], {"id": job_id, "status": "IN_PROGRESS", "output": {"step": 1, "total": 9}})
    failed = webhook(app, video["id"], {"id": job_id, "status": "FAILED", "error": "late"})
    assert [r.status_code for r in (again, stale, failed)] == [200, 200, 200]
    assert [r.json()["changed"] for r in (again, stale, failed)] == [False, False, False]
    unsigned = lambda body: {k: v for k, v in body.items() if not k.endswith("_url")}  # noqa: E731
    assert unsigned(video_status(app, video["id"])) == unsigned(after_first)


# --- the poller repairs missed webhooks -------------------------------------------------------


def sweep(app, service) -> int:
    return app.run(poll_once(service))


def test_poller_completes_jobs_whose_webhooks_were_lost(app_factory, runpod_factory):
    runpod = runpod_factory(quick_video_handler, webhook_attempts=0)  # no webhook is ever delivered
    app = app_factory(runpod)
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    wait_until(lambda: runpod.endpoint.jobs[video["runpod_job_id"]].status == "COMPLETED", timeout=20)
    assert video_status(app, video["id"])["status"] != "COMPLETED"

    poller = app.service_like_another_process(runpod)
    # Due one interval after the worker's last direct progress report.
    assert wait_until(lambda: sweep(app, poller), timeout=5) == 1
    assert video_status(app, video["id"])["status"] == "COMPLETED"
    # A second sweep finds nothing in flight.
    assert sweep(app, poller) == 0


def test_poller_shows_progress_and_leases_each_job_to_one_process(app_factory, runpod_factory):
    app, runpod, gate, video = running_video(app_factory, runpod_factory)
    first, second = app.service_like_another_process(runpod), app.service_like_another_process(runpod)
    # Due one interval after the worker's direct progress report; then polled by one process only.
    assert wait_until(lambda: sweep(app, first), timeout=5) == 1
    assert sweep(app, second) == 0
    status = video_status(app, video["id"])
    assert status["status"] == "PROCESSING" and status["progress"] == 25
    gate.release.set()
    wait_for_status(app, video["id"], "COMPLETED")


def test_expired_job_becomes_failed(app_factory, runpod_factory):
    runpod = runpod_factory(quick_video_handler, concurrency=0)
    app = app_factory(runpod)
    video = queued_video(app)
    runpod.endpoint.jobs.clear()  # RunPod forgot the job (ttl ran out)
    sweep(app, app.service_like_another_process(runpod))
    status = video_status(app, video["id"])
    assert status["status"] == "FAILED" and "expired" in status["error"]


# --- user actions ------------------------------------------------------------------------------


def test_cancel_a_queued_job(app_factory, runpod_factory):
    runpod = runpod_factory(quick_video_handler, concurrency=0)
    app = app_factory(runpod)
    video = queued_video(app)
    assert httpx.post(f"{app.url}/api/videos/{video['id']}/retry", json={}).status_code == 409  # still queued
    response = httpx.post(f"{app.url}/api/videos/{video['id']}/cancel", json={})
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    assert runpod.endpoint.jobs[video["runpod_job_id"]].status == "CANCELLED"
    # The earlier names (/api/runpod/{id}…) still answer, as the same operations.
    assert httpx.post(f"{app.url}/api/runpod/{video['id']}/cancel", json={}).status_code == 409
    assert httpx.get(f"{app.url}/api/runpod/{video['id']}").json()["status"] == "CANCELLED"


def test_cancel_a_running_job_discards_its_result(app_factory, runpod_factory):
    app, runpod, gate, video = running_video(app_factory, runpod_factory)
    assert httpx.post(f"{app.url}/api/runpod/{video['id']}/cancel", json={}).json()["status"] == "CANCELLED"
    gate.release.set()
    wait_until(lambda: runpod.endpoint.running == 0, timeout=10)
    assert video_status(app, video["id"])["status"] == "CANCELLED"


def test_failed_job_shows_error_and_can_be_retried(app_factory, runpod_factory):
    app = app_factory(runpod_factory(failing_handler))
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    failed = wait_for_status(app, video["id"], "FAILED")
    assert "width" in failed["error"]
    retried = httpx.post(f"{app.url}/api/videos/{video['id']}/retry", json={})
    assert retried.status_code == 201
    assert retried.json()["id"] != video["id"] and retried.json()["seed"] == video["seed"]
    assert httpx.post(f"{app.url}/api/runpod/{video['id']}/retry", json={}).status_code == 201  # as often as wanted


def test_delete_removes_row_from_listing_and_files_from_storage(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler))
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    done = wait_for_status(app, video["id"], "COMPLETED")
    assert stored_files(app, video)
    assert httpx.delete(f"{app.url}/api/videos/{video['id']}").status_code == 204
    assert stored_files(app, video) == []
    assert httpx.get(f"{app.url}/api/videos/{video['id']}").status_code == 404
    assert httpx.get(done["video_url"]).status_code == 404
    assert httpx.delete(f"{app.url}/api/videos/{video['id']}").status_code == 404


def test_failed_storage_delete_is_retried_until_done(app_factory, runpod_factory, monkeypatch):
    app = app_factory(runpod_factory(quick_video_handler))
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    wait_for_status(app, video["id"], "COMPLETED")

    async def storage_down(paths):
        raise StorageError("storage is unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(app.storage, "delete", storage_down)
        assert httpx.delete(f"{app.url}/api/videos/{video['id']}").status_code == 204
        assert httpx.get(f"{app.url}/api/videos/{video['id']}").status_code == 404  # gone for the user at once
        assert len(stored_files(app, video)) == 2
        assert app.run(app.service.files.remove_pending_files()) == 0  # still down: kept for later
    assert app.run(app.service.files.remove_pending_files()) == 1
    assert stored_files(app, video) == []
    assert app.run(app.service.files.remove_pending_files()) == 0


def test_other_users_videos_are_404(app_factory, runpod_factory, engine):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0))
    [theirs] = insert_videos(engine, [video_row(user_id="someone-else", prompt="theirs")])
    video_id = str(theirs.id)
    assert httpx.get(f"{app.url}/api/videos/{video_id}").status_code == 404
    assert httpx.get(f"{app.url}/api/runpod/{video_id}").status_code == 404
    assert httpx.post(f"{app.url}/api/runpod/{video_id}/cancel", json={}).status_code == 404
    assert httpx.post(f"{app.url}/api/runpod/{video_id}/retry", json={}).status_code == 404
    assert httpx.delete(f"{app.url}/api/videos/{video_id}").status_code == 404
    assert httpx.get(f"{app.url}/api/videos").json()["videos"] == []
    assert httpx.get(f"{app.url}/api/videos/not-a-uuid").status_code == 404


def test_listing_is_newest_first_with_keyset_pages(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), max_concurrent_jobs=10)
    ids = [httpx.post(f"{app.url}/api/runpod", json={**REQUEST, "prompt": f"p{i}"}).json()["id"] for i in range(5)]
    page1 = httpx.get(f"{app.url}/api/videos", params={"limit": 2}).json()
    page2 = httpx.get(f"{app.url}/api/videos", params={"limit": 2, "before": page1["next_cursor"]}).json()
    page3 = httpx.get(f"{app.url}/api/videos", params={"limit": 2, "before": page2["next_cursor"]}).json()
    listed = [v["id"] for v in page1["videos"] + page2["videos"] + page3["videos"]]
    assert listed == ids[::-1] and page3["next_cursor"] is None
    assert httpx.get(f"{app.url}/api/videos", params={"before": "garbage"}).status_code == 400
    assert httpx.get(f"{app.url}/api/videos", params={"limit": 0}).json()["field"] == "limit"


def test_runpod_health_and_openapi_schema(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler))
    health = httpx.get(f"{app.url}/api/runpod").json()
    assert set(health) == set(MODELS)  # one endpoint serving every model, asked once
    assert all(set(each) == {"jobs", "workers"} for each in health.values())
    schema = httpx.get(f"{app.url}/api/openapi.json").json()
    assert {"/api/runpod", "/api/runpod/webhook", "/api/videos", "/api/videos/{video_id}"} <= set(schema["paths"])
    # One path per operation on a video, under it; the earlier /api/runpod/{id}… names are not listed.
    assert {"/api/videos/{video_id}/cancel", "/api/videos/{video_id}/retry"} <= set(schema["paths"])
    assert not [path for path in schema["paths"] if path.startswith("/api/runpod/{")]
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    links = schema["paths"]["/api/runpod"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} <= operations
    assert httpx.get(f"{app.url}/api/health").json()["status"] == "ok"


def test_signed_storage_urls_are_checked(app_factory):
    app = app_factory()
    upload = run_sync(app.storage.create_upload_url("dev-user/x.mp4"))
    assert httpx.put(upload.replace("sig=", "sig=0"), content=b"x").status_code == 403
    assert httpx.put(upload, content=b"data").status_code == 200
    download = run_sync(app.storage.create_download_url("dev-user/x.mp4"))
    assert httpx.get(download).content == b"data"
    assert httpx.get(download.replace("dev-user/x.mp4", "dev-user/y.mp4")).status_code == 403
    escape = run_sync(app.storage.create_upload_url("../escape.mp4"))
    assert httpx.put(escape, content=b"x").status_code == 404
    assert not (app.storage.root.parent / "escape.mp4").exists()
    with pytest.raises(StorageError):
        app.storage.file_path("dev-user/../../escape.mp4")


def test_gpu_time_is_shown_and_the_daily_gpu_quota_refuses_with_when_it_frees_up(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), daily_gpu_seconds=60)
    first = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    report = {
        "id": first["runpod_job_id"],
        "status": "COMPLETED",
        "delayTime": 3000,
        "executionTime": 61_000,
        "output": {"video": "v", "poster": "p", "duration_s": 1.0},
    }
    assert webhook(app, first["id"], report).json()["changed"] is True
    done = video_status(app, first["id"])
    assert (done["delay_ms"], done["execution_ms"]) == (3000, 61_000)

    refused = httpx.post(f"{app.url}/api/runpod", json=REQUEST)
    assert refused.status_code == 429
    body = refused.json()
    assert "GPU time of 60 s" in body["error"] and "frees up at" in body["error"]
    frees_up = datetime.fromisoformat(body["frees_up_at"])
    created = datetime.fromisoformat(first["created_at"])
    assert frees_up == created + timedelta(days=1)
    assert app.run(app.service.quota.usage("dev-user")).gpu_seconds_today == 61.0
