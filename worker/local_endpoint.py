"""A local stand-in for a RunPod serverless endpoint, speaking RunPod's HTTP protocol.

Serves `/v2/{endpoint_id}/run`, `/runsync`, `/status/{id}`, `/cancel/{id}`, `/retry/{id}`,
`/health` and `/purge-queue` with the cloud's JSON shapes and statuses, runs any RunPod
handler (sync, async, generator) on a background queue, and POSTs the webhook when a job
ends. The `runpod` SDK's own `--rp_serve_api` is not this protocol (no `/v2` prefix, no GET
status, no cancel), hence this module.

The handler's direct progress reports (`progress_url`, worker/progress.py) go out from the
handler itself, here as on RunPod. For benchmarks and tests of RunPod's real cadence,
`drop_webhooks` never POSTs the completion webhook (a lost one) and `drop_progress_reports`
hides `progress_url` from the handler (progress only through `/status`).

Run it: `python -m worker.local_endpoint` (127.0.0.1:8765, the tiny engine unless weights are set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from worker import progress
from worker.local_jobs import TERMINAL, LocalJob, call_handler, send_webhook

__all__ = ["TERMINAL", "LocalEndpoint", "LocalJob"]


class LocalEndpoint:
    def __init__(
        self,
        handler: Callable[[dict[str, Any]], Any],
        api_key: str,
        concurrency: int = 1,
        result_retention_s: float = 30 * 60,
        webhook_retry_delay_s: float = 10.0,
        webhook_attempts: int = 3,
        drop_webhooks: bool = False,
        drop_progress_reports: bool = False,
    ) -> None:
        """`drop_webhooks`: never POST a job's webhook (a lost one: the app must poll).
        `drop_progress_reports`: the handler sees no `progress_url` (progress only via /status)."""
        self.handler = handler
        self.api_key = api_key
        self.concurrency = concurrency
        self.result_retention_s = result_retention_s
        self.webhook_retry_delay_s = webhook_retry_delay_s
        self.webhook_attempts = webhook_attempts
        self.drop_webhooks = drop_webhooks
        self.drop_progress_reports = drop_progress_reports
        self.jobs: dict[str, LocalJob] = {}
        self.counts = {"completed": 0, "failed": 0, "retried": 0}
        self.running = 0
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.app = Starlette(
            routes=[
                Route("/v2/{endpoint_id}/run", self.run, methods=["POST"]),
                Route("/v2/{endpoint_id}/runsync", self.runsync, methods=["POST"]),
                Route("/v2/{endpoint_id}/status/{job_id}", self.status, methods=["GET", "POST"]),
                Route("/v2/{endpoint_id}/cancel/{job_id}", self.cancel, methods=["POST"]),
                Route("/v2/{endpoint_id}/retry/{job_id}", self.retry, methods=["POST"]),
                Route("/v2/{endpoint_id}/health", self.health, methods=["GET"]),
                Route("/v2/{endpoint_id}/purge-queue", self.purge_queue, methods=["POST"]),
            ],
            lifespan=self._lifespan,
        )

    # --- lifecycle ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.start()
        yield
        await self.stop()

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        self._workers.append(asyncio.create_task(self._expire_loop()))

    async def stop(self) -> None:
        for task in [*self._workers, *self._background]:
            task.cancel()
        await asyncio.gather(*self._workers, *self._background, return_exceptions=True)

    # --- HTTP ---------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        # The cloud accepts the key with or without the Bearer prefix.
        return header.removeprefix("Bearer ").strip() == self.api_key

    def _job_or_none(self, request: Request) -> LocalJob | None:
        self._expire()
        return self.jobs.get(request.path_params["job_id"])

    async def _guarded(self, request: Request) -> JSONResponse | None:
        if not self._authorized(request):
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        return None

    async def _new_job(self, request: Request) -> LocalJob | JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        job = LocalJob.from_request(body)
        if isinstance(job, str):
            return JSONResponse({"error": job}, status_code=400)
        self.jobs[job.id] = job
        await self._queue.put(job.id)
        return job

    async def run(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        job = await self._new_job(request)
        if isinstance(job, JSONResponse):
            return job
        return JSONResponse({"id": job.id, "status": job.status})

    async def runsync(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        job = await self._new_job(request)
        if isinstance(job, JSONResponse):
            return job
        deadline = time.monotonic() + 90  # the cloud hands back a pending job after ~90 s too
        while job.status not in TERMINAL and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return JSONResponse(job.body())

    async def status(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        job = self._job_or_none(request)
        if job is None:
            return JSONResponse({"error": "job not found"}, status_code=404)
        return JSONResponse(job.body())

    async def cancel(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        job = self._job_or_none(request)
        if job is None:
            return JSONResponse({"error": "job not found"}, status_code=404)
        if job.status not in TERMINAL:
            # A running handler thread cannot be killed; its result is discarded on return.
            self._finish(job, "CANCELLED")
        return JSONResponse({"id": job.id, "status": job.status})

    async def retry(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        job = self._job_or_none(request)
        if job is None:
            return JSONResponse({"error": "job not found"}, status_code=404)
        if job.status not in ("FAILED", "TIMED_OUT"):
            return JSONResponse(
                {"error": f"job is {job.status}; only FAILED or TIMED_OUT jobs can be retried"}, status_code=400
            )
        job.status, job.output, job.error = "IN_QUEUE", None, None
        job.started = job.finished = None
        job.retries += 1
        self.counts["retried"] += 1
        await self._queue.put(job.id)
        return JSONResponse({"id": job.id, "status": job.status})

    async def health(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        statuses = [job.status for job in self.jobs.values()]
        return JSONResponse(
            {
                "jobs": {
                    **self.counts,
                    "inProgress": statuses.count("IN_PROGRESS"),
                    "inQueue": statuses.count("IN_QUEUE"),
                },
                "workers": {"idle": self.concurrency - self.running, "running": self.running},
            }
        )

    async def purge_queue(self, request: Request) -> JSONResponse:
        if denied := await self._guarded(request):
            return denied
        queued = [job for job in self.jobs.values() if job.status == "IN_QUEUE"]
        for job in queued:
            del self.jobs[job.id]
        return JSONResponse({"removed": len(queued), "status": "completed"})

    # --- running jobs -------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            job = self.jobs.get(job_id)
            if job is None or job.status != "IN_QUEUE":
                continue  # purged, cancelled or expired while queued
            self.running += 1
            try:
                await self._execute(job)
            finally:
                self.running -= 1

    async def _execute(self, job: LocalJob) -> None:
        job.status, job.started = "IN_PROGRESS", time.monotonic()
        progress.set_local_reporter(self._record_progress)
        try:
            payload = job.payload(drop_progress_url=self.drop_progress_reports)
            result = await asyncio.wait_for(call_handler(self.handler, payload), job.execution_timeout_ms / 1000)
        except TimeoutError:
            if job.status == "IN_PROGRESS":
                self._finish(job, "TIMED_OUT", error="Job execution timed out")
            return
        except Exception as error:  # the cloud reports a handler's exception as a FAILED job
            if job.status == "IN_PROGRESS":
                self._finish(job, "FAILED", error=f"{type(error).__name__}: {error}")
            return
        if job.status != "IN_PROGRESS":
            return  # cancelled while running: the result is discarded
        if isinstance(result, dict) and result.get("error"):
            self._finish(job, "FAILED", error=result["error"])
        else:
            self._finish(job, "COMPLETED", output=result)

    def _record_progress(self, job: dict[str, Any], update: Any) -> None:
        local = self.jobs.get(job.get("id", ""))
        if local is not None and local.status == "IN_PROGRESS":
            local.output = update

    def _finish(self, job: LocalJob, status: str, output: Any = None, error: Any = None) -> None:
        job.status, job.output, job.error, job.finished = status, output, error, time.monotonic()
        if status == "COMPLETED":
            self.counts["completed"] += 1
        elif status in ("FAILED", "TIMED_OUT"):
            self.counts["failed"] += 1
        progress.finish(job.id)  # the job ended: its pending direct progress reports are dropped
        if job.webhook and not self.drop_webhooks:
            sending = send_webhook(job, self.webhook_attempts, self.webhook_retry_delay_s)
            task = asyncio.get_running_loop().create_task(sending)
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # --- expiry -------------------------------------------------------------------------

    def _expire(self) -> None:
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if job.expired(now, self.result_retention_s):
                del self.jobs[job.id]

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(1)
            self._expire()


def main() -> None:
    import uvicorn

    from worker.handler import handler

    logging.basicConfig(level=logging.INFO)
    # httpx logs every request's URL at INFO, and callback URLs carry the per-video token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    endpoint = LocalEndpoint(
        handler,
        api_key=os.environ.get("LOCAL_RUNPOD_API_KEY", "local-dev-key"),
        concurrency=int(os.environ.get("LOCAL_RUNPOD_CONCURRENCY", "1")),
    )
    uvicorn.run(
        endpoint.app,
        host=os.environ.get("LOCAL_RUNPOD_HOST", "127.0.0.1"),
        port=int(os.environ.get("LOCAL_RUNPOD_PORT", "8765")),
        log_level="warning",
    )


if __name__ == "__main__":
    main()
