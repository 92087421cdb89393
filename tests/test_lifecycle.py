"""The gaps in a job's life: a webhook before the job id, a /run without an answer, a delete
while the job runs, files nobody owns. Over HTTP, against PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from openv_app.models import Video, utcnow
from openv_app.services.poller import fail_lost_submissions
from openv_app.services.runpod_client import RunPodClient
from tests.support.factories import insert_videos, video_row
from tests.support.handlers import GatedHandler
from tests.support.runpod_standin import DONE, RunEndpoint
from tests.support.servers import ServerThread, wait_until

REQUEST = {"prompt": "a gap in the life cycle", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 2}


def test_a_webhook_before_the_job_id_is_stored_is_adopted(app_factory):
    endpoint = RunEndpoint(webhook_first=True)
    with ServerThread(endpoint.app) as server:
        app = app_factory(runpod_client=RunPodClient(f"{server.url}/v2", "ep", "key"))
        video = httpx.post(f"{app.url}/api/runpod", json=REQUEST, timeout=30).json()
    assert video["status"] == "COMPLETED"  # /run's IN_QUEUE answer did not undo it
    assert video["runpod_job_id"] == endpoint.runs[0]["id"]


def test_a_run_without_answer_waits_for_its_webhook_and_is_never_sent_twice(app_factory, engine):
    endpoint = RunEndpoint(answer_after_s=3)
    with ServerThread(endpoint.app) as server:
        app = app_factory(runpod_client=RunPodClient(f"{server.url}/v2", "ep", "key", timeout_s=0.5))
        video = httpx.post(f"{app.url}/api/runpod", json=REQUEST, timeout=30).json()
        assert (video["status"], video["stage"], video["runpod_job_id"]) == ("PENDING", "unconfirmed", None)
        assert len(endpoint.runs) == 1
        job_id = endpoint.runs[0]["id"]
        # RunPod did queue it: its webhook arrives when it ends, and the video adopts the job.
        report = {"id": job_id, "status": "COMPLETED", "output": DONE}
        assert httpx.post(endpoint.runs[0]["webhook"], json=report).json()["changed"] is True
        done = httpx.get(f"{app.url}/api/runpod/{video['id']}").json()
        assert (done["status"], done["runpod_job_id"]) == ("COMPLETED", job_id)
        assert len(endpoint.runs) == 1  # never billed twice

        # Another one that RunPod never confirms fails once the job's ttl has surely run out.
        lost = httpx.post(f"{app.url}/api/runpod", json=REQUEST, timeout=30).json()
    grace = timedelta(seconds=app.service.job_ttl_s + 6 * 60)
    with engine.begin() as connection:
        connection.execute(
            sa.update(Video)
            .where(Video.id == uuid.UUID(lost["id"]))
            .values(
                created_at=utcnow() - grace + timedelta(minutes=2), updated_at=utcnow() - grace + timedelta(minutes=2)
            )
        )
    assert app.run(fail_lost_submissions(app.service)) == 0  # within the ttl: still waiting
    with engine.begin() as connection:
        connection.execute(
            sa.update(Video)
            .where(Video.id == uuid.UUID(lost["id"]))
            .values(created_at=utcnow() - grace, updated_at=utcnow() - grace)
        )
    assert app.run(fail_lost_submissions(app.service)) == 1
    failed = httpx.get(f"{app.url}/api/runpod/{lost['id']}").json()
    assert failed["status"] == "FAILED" and "never confirmed" in failed["error"]


def stored(app, video_id: str) -> list[str]:
    return sorted(path.name for path in (app.storage.root / "dev-user").glob(f"{video_id}.*"))


def test_deleting_a_running_video_removes_late_uploads_once_upload_urls_expire(app_factory, runpod_factory, engine):
    gate = GatedHandler()
    runpod = runpod_factory(gate)
    app = app_factory(runpod)
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    assert gate.started.wait(10)
    assert httpx.delete(f"{app.url}/api/videos/{video['id']}").status_code == 204
    gate.release.set()  # the worker was mid-job: it still uploads with its signed URLs
    wait_until(lambda: len(stored(app, video["id"])) == 2, timeout=20)
    wait_until(lambda: runpod.endpoint.running == 0, timeout=10)
    assert app.run(app.service.files.remove_pending_files()) == 0  # URLs still valid: a later upload could come
    assert stored(app, video["id"]) == [f"{video['id']}.jpg", f"{video['id']}.mp4"]
    with engine.begin() as connection:  # the upload URLs' lifetime has passed
        connection.execute(
            sa.update(Video)
            .where(Video.id == uuid.UUID(video["id"]))
            .values(uploads_expire_at=utcnow() - timedelta(seconds=1))
        )
    assert app.run(app.service.files.remove_pending_files()) == 1
    assert stored(app, video["id"]) == []


@pytest.mark.parametrize("dry_run", [True, False])
def test_orphan_sweep_removes_only_files_no_live_video_owns(app_factory, engine, dry_run):
    app = app_factory()
    now = utcnow()

    def row(**values) -> Video:
        return insert_videos(engine, [video_row(user_id="dev-user", **values)])[0]

    live = row(status="COMPLETED")
    running = row(status="PROCESSING", uploads_expire_at=now + timedelta(hours=1))
    deleted = row(status="COMPLETED", deleted_at=now)
    gave_up = row(status="FAILED", uploads_expire_at=now - timedelta(minutes=1))
    for video_id in (live.id, running.id, deleted.id, gave_up.id, uuid.uuid4()):
        for suffix in (".mp4", ".jpg"):
            path = app.storage.root / "dev-user" / f"{video_id}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
    (app.storage.root / "someone").mkdir()
    (app.storage.root / "someone" / f"{live.id}.mp4").write_bytes(b"x")  # another user's path

    assert app.run(app.service.files.sweep_orphan_files(dry_run=dry_run)) == 7
    remaining = {
        path.relative_to(app.storage.root).as_posix() for path in app.storage.root.rglob("*") if path.is_file()
    }
    kept = {f"dev-user/{video_id}{suffix}" for video_id in (live.id, running.id) for suffix in (".mp4", ".jpg")}
    assert remaining == kept if not dry_run else len(remaining) == 11
