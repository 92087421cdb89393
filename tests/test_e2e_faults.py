"""The production shape survives its own parts failing: a backend worker killed as the OOM
killer would (SIGKILL) is replaced, and the other worker keeps answering meanwhile."""

from __future__ import annotations

import signal
from datetime import timedelta
from urllib.parse import urlsplit

import httpx

from openv_app.db import make_sync_engine
from openv_app.models import utcnow
from openv_app.services.signing import callback_url
from tests.support.factories import insert_videos, video_row
from tests.support.processes import PROD_WORKERS, granian_workers
from tests.support.servers import wait_until


def test_a_killed_worker_is_replaced_while_the_other_keeps_answering(prod_app):
    port = urlsplit(prod_app.url).port
    assert port is not None
    workers = wait_until(lambda: len(found := granian_workers(port)) == PROD_WORKERS and found, timeout=30)
    engine = make_sync_engine(prod_app.database_url)
    # A job only this test reports on: the app's poller leaves it alone for an hour.
    later = utcnow() + timedelta(hours=1)
    job = video_row(user_id="dev-user", runpod_job_id="job-fault", runpod_status="IN_QUEUE", next_poll_at=later)
    [video] = insert_videos(engine, [job])
    engine.dispose()

    victim = workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    # Answers come from the other worker at once: health, and a webhook sent right after.
    assert [httpx.get(f"{prod_app.url}/api/health", timeout=5).status_code for _ in range(20)] == [200] * 20
    done = {"id": "job-fault", "status": "COMPLETED", "output": {"video": "v", "poster": "p", "duration_s": 1.0}}
    webhook = callback_url(prod_app.url, "e2e-secret", "webhook", str(video.id), 0)
    assert httpx.post(webhook, json=done, timeout=10).json()["changed"] is True

    def replaced() -> bool:
        pids = {process.pid for process in granian_workers(port)}
        return len(pids) == PROD_WORKERS and victim.pid not in pids

    wait_until(replaced, timeout=30, interval=0.5)
    status = httpx.get(f"{prod_app.url}/api/runpod/{video.id}", timeout=10).json()
    assert status["status"] == "COMPLETED"
