"""Progress reporting for the handler, on two channels.

1. RunPod's `progress_update` (the `output` of an IN_PROGRESS `/status` answer); it only works
   inside RunPod's worker runtime, so the local endpoint installs its own reporter instead.
2. Straight to the app, when the job's input has a `progress_url`: a `ProgressReport` POSTed as
   JSON, so a progress bar need not wait for the app's next `/status` poll (as Replicate's
   webhooks for `output`/`logs` events do).

The direct channel is hand-written because no library does exactly this: per job at most one
report per `MIN_INTERVAL_S` plus one at once on every stage change, the newest throttled report
replacing older pending ones (latest wins) and sent when the window opens, fire-and-forget from
one daemon sender thread with a short timeout and no retries. It never slows or fails
generation: `report_progress` only files the report; a failed send is logged once per job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from worker.contract import ProgressReport

log = logging.getLogger("worker.progress")

Reporter = Callable[[dict[str, Any], dict[str, Any]], None]
_local_reporter: Reporter | None = None

MIN_INTERVAL_S = 0.5  # at most about two reports a second per job, plus stage changes
# About 2 s a report at worst: 1 s to connect (DNS lookups aside), 1 s for the answer.
TIMEOUT = httpx.Timeout(1.0, connect=1.0)
MAX_QUEUED = 8  # per job; only a handler that flips stages on every call comes near it
FORGET_IDLE_S = 3600.0  # jobs whose handler never called finish() are forgotten after this


def set_local_reporter(reporter: Reporter | None) -> None:
    global _local_reporter
    _local_reporter = reporter


def report_progress(job: dict[str, Any], update: dict[str, Any]) -> None:
    """Report `update` (a `Progress` dump) on RunPod's channel and, when the job's input has a
    `progress_url`, file it for the direct channel; returns at once either way."""
    if _local_reporter is not None:
        _local_reporter(job, update)
    else:
        import runpod

        runpod.serverless.progress_update(job, update)
    try:
        job_input = job.get("input")
        url = job_input.get("progress_url") if isinstance(job_input, dict) else None
        if url:
            _sender.offer(job, str(url), update)
    except Exception:  # the direct channel never fails generation
        log.exception("progress report for job %s not filed", job.get("id"))


def finish(job_id: str) -> None:
    """The job ended: drop its pending direct reports and forget it (an in-flight one ends)."""
    _sender.finish(job_id)


def wait_idle(timeout: float) -> bool:
    """Whether the sender has nothing queued or in flight within `timeout` seconds."""
    return _sender.wait_idle(timeout)


@dataclass
class _Queued:
    body: dict[str, Any]
    stage_first: bool  # the first report of a stage: sent at once, never replaced


@dataclass
class _Channel:
    url: str
    stage: str | None = None  # of the newest report offered
    queue: list[_Queued] = field(default_factory=list)
    sent_at: float = float("-inf")
    touched: float = field(default_factory=time.monotonic)
    warned: bool = False

    def due(self) -> float:
        head = self.queue[0]
        return float("-inf") if head.stage_first else self.sent_at + MIN_INTERVAL_S


class _Sender:
    """One daemon thread per process sending each job's due reports, earliest first."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._channels: dict[str, _Channel] = {}
        self._in_flight = 0
        self._thread: threading.Thread | None = None

    def offer(self, job: dict[str, Any], url: str, update: dict[str, Any]) -> None:
        job_id = str(job.get("id", ""))
        try:
            body = ProgressReport(job_id=job_id, **update).model_dump()
        except Exception as error:  # a malformed update must not fail generation
            self._warn_once(job_id, url, f"not a valid progress report: {error}")
            return
        now = time.monotonic()
        with self._lock:
            self._forget_idle(now)
            channel = self._channels.get(job_id)
            if channel is None or channel.url != url:
                channel = self._channels[job_id] = _Channel(url)
            channel.touched = now
            stage_first = body["stage"] != channel.stage
            channel.stage = body["stage"]
            # Latest wins: a newer report replaces every pending throttled one; a stage's first
            # report stays (at most one a stage change).
            channel.queue = [queued for queued in channel.queue if queued.stage_first][-(MAX_QUEUED - 1) :]
            channel.queue.append(_Queued(body, stage_first))
            self._ensure_thread()
            self._lock.notify_all()

    def finish(self, job_id: str) -> None:
        with self._lock:
            self._channels.pop(job_id, None)
            self._lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._in_flight and not any(c.queue for c in self._channels.values()), timeout
            )

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="progress-sender", daemon=True)
            self._thread.start()

    def _forget_idle(self, now: float) -> None:
        stale = [key for key, c in self._channels.items() if not c.queue and now - c.touched > FORGET_IDLE_S]
        for key in stale:
            del self._channels[key]

    def _next(self) -> tuple[str, _Channel, dict[str, Any]]:
        """Wait for the earliest due report and take it off its queue (under the lock)."""
        while True:
            waiting = [(c.due(), key, c) for key, c in self._channels.items() if c.queue]
            if waiting:
                due, job_id, channel = min(waiting, key=lambda item: item[0])
                delay = due - time.monotonic()
                if delay <= 0:
                    channel.sent_at = time.monotonic()
                    return job_id, channel, channel.queue.pop(0).body
                self._lock.wait(delay)
            else:
                self._lock.notify_all()  # wake wait_idle()
                self._lock.wait()

    def _run(self) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            while True:
                with self._lock:
                    job_id, channel, body = self._next()
                    self._in_flight += 1
                try:
                    self._post(client, job_id, channel, body)
                finally:
                    with self._lock:
                        self._in_flight -= 1
                        self._lock.notify_all()

    def _post(self, client: httpx.Client, job_id: str, channel: _Channel, body: dict[str, Any]) -> None:
        try:  # httpx's json= sends Content-Type: application/json
            response = client.post(channel.url, json=body)
        except Exception as error:  # unreachable, timed out, DNS, a malformed URL: never retried
            self._warn_once(job_id, channel.url, f"{type(error).__name__}: {error}", channel)
            return
        if not response.is_success:
            self._warn_once(job_id, channel.url, f"HTTP {response.status_code}", channel)

    def _warn_once(self, job_id: str, url: str, problem: str, channel: _Channel | None = None) -> None:
        with self._lock:
            channel = channel or self._channels.setdefault(job_id, _Channel(url))
            if channel.warned:
                return
            channel.warned = True
        # The URL's query holds the app's per-video token: log only where it points.
        where = url.split("?", 1)[0]
        problem = problem.replace(url, where)
        log.warning("progress reports of job %s to %s fail (logged once a job): %s", job_id, where, problem)


_sender = _Sender()
