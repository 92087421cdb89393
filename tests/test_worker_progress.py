"""The worker's direct progress channel (worker/progress.py): besides RunPod's `/status`, each
job with a `progress_url` POSTs `ProgressReport`s straight to the app, throttled to about two a
second plus every stage change, latest wins, fire-and-forget. Real HTTP to a real receiver."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.factories import tiny_handler_input
from tests.support.servers import ServerThread, free_port, wait_until
from worker import handler as worker_handler
from worker import progress
from worker.contract import ProgressReport


class Receiver:
    """Records the POSTs to /progress. `status` is what it answers; `hold` keeps each request
    waiting until set (or `hold_s` passes), as a slow app would."""

    def __init__(self, status: int = 200, hold_s: float = 0.0) -> None:
        self.status, self.hold_s = status, hold_s
        self.hold = threading.Event()
        self.received: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        self.app = Starlette(routes=[Route("/progress", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> JSONResponse:
        self.arrived.set()
        if self.hold_s:
            await asyncio.to_thread(self.hold.wait, self.hold_s)
        self.received.append(
            {
                "at": time.monotonic(),
                "body": await request.json(),
                "content_type": request.headers.get("content-type"),
                "token": request.query_params.get("token"),
            }
        )
        return JSONResponse({}, status_code=self.status)

    def bodies(self, job_id: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.received if r["body"]["job_id"] == job_id]


@pytest.fixture
def serve():
    """Serves Receivers on real ports; afterwards lets held requests go and stops them."""
    running: list[tuple[Receiver, ServerThread]] = []

    def start(receiver: Receiver) -> str:
        server = ServerThread(receiver.app).__enter__()
        running.append((receiver, server))
        return f"{server.url}/progress?token=video-token"

    yield start
    for receiver, server in running:
        receiver.hold.set()
        server.__exit__()


@pytest.fixture
def runpod_channel():
    """What RunPod's progress_update would get (the local reporter stands in for it)."""
    updates: list[tuple[str, dict[str, Any]]] = []
    progress.set_local_reporter(lambda job, update: updates.append((job["id"], update)))
    yield updates
    progress.set_local_reporter(None)


@pytest.fixture
def new_job():
    """Job dicts with fresh ids; their direct reports are dropped afterwards."""
    ids: list[str] = []

    def make(progress_url: str | None = None, **job_input: Any) -> dict[str, Any]:
        ids.append(f"job-{uuid.uuid4()}")
        if progress_url is not None:
            job_input["progress_url"] = progress_url
        return {"id": ids[-1], "input": job_input}

    yield make
    for job_id in ids:
        progress.finish(job_id)
    assert progress.wait_idle(timeout=10)


def update(stage: str, step: int, total: int = 100) -> dict[str, Any]:
    return {"stage": stage, "step": step, "total": total}


def test_a_second_of_steps_is_throttled_to_stage_changes_and_two_a_second(serve, runpod_channel, new_job):
    receiver = Receiver()
    job = new_job(serve(receiver))
    plan = (
        [update("loading", step, 5) for step in range(5)]
        + [update("denoising", step, 90) for step in range(1, 91)]
        + [update("encoding", step, 5) for step in range(1, 6)]
    )
    started = time.monotonic()
    for item in plan:  # 100 calls in about a second
        progress.report_progress(job, item)
        time.sleep(0.01)
    elapsed = time.monotonic() - started

    # The final step of the run arrives (it was throttled: the newest pending one is sent).
    wait_until(lambda: update("encoding", 5, 5) | {"job_id": job["id"]} in receiver.bodies(job["id"]), timeout=5)
    assert progress.wait_idle(timeout=5)
    bodies = receiver.bodies(job["id"])
    assert all(ProgressReport.model_validate(body) for body in bodies)
    assert len(runpod_channel) == 100  # RunPod's channel still gets every update
    # About two a second, plus one immediate report per stage change, plus the final one.
    assert len(bodies) <= 3 + int(elapsed / progress.MIN_INTERVAL_S) + 1, bodies
    for stage, first in (("loading", 0), ("denoising", 1), ("encoding", 1)):
        assert [b["step"] for b in bodies if b["stage"] == stage][0] == first
    assert bodies[-1] == {"stage": "encoding", "step": 5, "total": 5, "job_id": job["id"]}
    steps = [(b["stage"], b["step"]) for b in bodies]
    assert steps == sorted(steps, key=lambda s: (["loading", "denoising", "encoding"].index(s[0]), s[1]))
    # Reports that are not a stage's first come at least a window after the one before.
    times = [r["at"] for r in receiver.received]
    for index in range(1, len(bodies)):
        if bodies[index]["stage"] == bodies[index - 1]["stage"]:
            assert times[index] - times[index - 1] > progress.MIN_INTERVAL_S - 0.15
    assert {r["content_type"] for r in receiver.received} == {"application/json"}
    assert {r["token"] for r in receiver.received} == {"video-token"}


def test_the_latest_pending_report_wins(serve, runpod_channel, new_job):
    """While the first report is in flight every newer one waits; only the newest is sent."""
    receiver = Receiver(hold_s=30)
    job = new_job(serve(receiver))
    progress.report_progress(job, update("denoising", 1))
    assert receiver.arrived.wait(10)  # the first is in flight, held by the app
    for step in range(2, 51):
        progress.report_progress(job, update("denoising", step))
    receiver.hold.set()
    wait_until(lambda: len(receiver.bodies(job["id"])) == 2, timeout=5)
    assert progress.wait_idle(timeout=5)
    assert [b["step"] for b in receiver.bodies(job["id"])] == [1, 50]


def test_finishing_a_job_drops_its_pending_reports(serve, runpod_channel, new_job):
    receiver = Receiver()
    job = new_job(serve(receiver))
    progress.report_progress(job, update("denoising", 1))
    wait_until(lambda: receiver.bodies(job["id"]))
    progress.report_progress(job, update("denoising", 90))  # throttled: pending for ~0.5 s
    progress.finish(job["id"])
    assert progress.wait_idle(timeout=5)  # nothing queued or in flight: nothing more will come
    assert [b["step"] for b in receiver.bodies(job["id"])] == [1]


def test_a_job_without_progress_url_posts_nothing(serve, runpod_channel, new_job):
    receiver = Receiver()
    url = serve(receiver)
    quiet = new_job()
    for step in range(1, 11):
        progress.report_progress(quiet, update("denoising", step))
    loud = new_job(url)
    progress.report_progress(loud, update("denoising", 1))
    wait_until(lambda: receiver.bodies(loud["id"]))
    assert progress.wait_idle(timeout=5)
    assert [r["body"]["job_id"] for r in receiver.received] == [loud["id"]]
    assert [job_id for job_id, _ in runpod_channel].count(quiet["id"]) == 10


def unreachable_url(serve, kind: str) -> tuple[str, Receiver | None]:
    if kind == "closed port":
        return f"http://127.0.0.1:{free_port()}/progress?token=t", None
    if kind == "DNS failure":
        return "http://openv-progress.invalid/progress?token=t", None
    receiver = Receiver(hold_s=5) if kind == "app sleeping 5 s" else Receiver(status=int(kind.split()[-1]))
    return serve(receiver), receiver


@pytest.mark.parametrize("kind", ["closed port", "app sleeping 5 s", "DNS failure", "HTTP 500", "HTTP 404"])
def test_an_unreachable_app_slows_nothing_and_is_logged_once(serve, runpod_channel, new_job, caplog, kind):
    url, receiver = unreachable_url(serve, kind)
    job = new_job(url)
    stages = ["loading", "denoising", "encoding"]
    durations = []
    with caplog.at_level(logging.WARNING, logger="worker.progress"):
        for call in range(50):  # every call a stage change: each is sent at once (and fails)
            started = time.perf_counter()
            progress.report_progress(job, update(stages[call % 3], call))
            durations.append(time.perf_counter() - started)
        if kind == "app sleeping 5 s":
            assert receiver is not None and receiver.arrived.wait(5)  # one is in flight
        else:
            assert progress.wait_idle(timeout=10)  # every queued report tried, none retried
        progress.finish(job["id"])
        started = time.monotonic()
        assert progress.wait_idle(timeout=10)
        # A send in flight gives up after about 2 s (1 s to connect, 1 s to answer).
        assert time.monotonic() - started < 4
    assert max(durations) < 0.05, max(durations)
    warnings = [r.getMessage() for r in caplog.records if job["id"] in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "token=" not in warnings[0]  # the per-video token stays out of the logs


def test_the_handler_completes_while_the_app_sleeps(serve, tiny_weights, runpod_channel, new_job):
    job = new_job(serve(Receiver(hold_s=5)), **tiny_handler_input(steps=3))
    result = worker_handler.handler(job)
    assert "error" not in result, result
    assert [u["stage"] for _, u in runpod_channel] == ["loading", "denoising", "denoising", "denoising", "encoding"]


def test_the_real_handler_reports_its_stages_to_the_app(serve, tiny_weights, runpod_channel, new_job, monkeypatch):
    receiver = Receiver()
    job = new_job(serve(receiver), **tiny_handler_input(steps=3))
    real_encode = worker_handler.encode_mp4

    def encode_once_the_app_knows(frames, fps):
        # A real clip encodes for seconds; the tiny one would finish before the report lands.
        wait_until(lambda: any(b["stage"] == "encoding" for b in receiver.bodies(job["id"])), timeout=10)
        return real_encode(frames, fps)

    monkeypatch.setattr(worker_handler, "encode_mp4", encode_once_the_app_knows)
    result = worker_handler.handler(job)
    assert "error" not in result, result
    bodies = receiver.bodies(job["id"])
    assert [ProgressReport.model_validate(b).job_id for b in bodies] == [job["id"]] * len(bodies)
    stages = [b["stage"] for b in bodies]
    assert stages[0] == "loading" and {"denoising", "encoding"} <= set(stages)
    assert bodies[-1] == {"stage": "encoding", "step": 3, "total": 3, "job_id": job["id"]}

    # The channel does not change the result.
    monkeypatch.setattr(worker_handler, "encode_mp4", real_encode)
    plain = worker_handler.handler(new_job(**tiny_handler_input(steps=3)))
    assert {k: v for k, v in result.items() if k != "timings"} == {k: v for k, v in plain.items() if k != "timings"}


def test_a_bad_progress_url_is_an_invalid_input(runpod_channel, new_job):
    result = worker_handler.handler(new_job("file:///etc/passwd", **tiny_handler_input()))
    assert result["error"].startswith("invalid input: progress_url")
    assert runpod_channel == []
