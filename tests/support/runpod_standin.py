"""RunPod stand-ins for what the local endpoint does not do on purpose, each speaking RunPod's
protocol to the app's real RunPodClient over HTTP:
- `SlowStatusEndpoint`: `/status` answering after a fixed delay (poller tests and benchmarks);
  every job is IN_PROGRESS; it records calls in flight and which jobs were asked about.
- `RunEndpoint`: `/run` that reports the job's end before answering, or answers too late.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class SlowStatusEndpoint:
    def __init__(self, delay_s: float = 0.1) -> None:
        self.delay_s = delay_s
        self.in_flight = 0
        self.peak_in_flight = 0
        self.asked: Counter[str] = Counter()
        self.app = Starlette(routes=[Route("/v2/{endpoint_id}/status/{job_id}", self.status)])

    async def status(self, request: Request) -> JSONResponse:
        job_id = request.path_params["job_id"]
        self.asked[job_id] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        output = {"stage": "denoising", "step": 1, "total": 4}
        return JSONResponse({"id": job_id, "status": "IN_PROGRESS", "delayTime": 10, "output": output, "workerId": "w"})


DONE = {"video": "uploaded", "poster": "uploaded", "duration_s": 1.0}


class RunEndpoint:
    """A RunPod /run stand-in that can report the job's end before answering, or not answer."""

    def __init__(self, webhook_first: bool = False, answer_after_s: float = 0.0) -> None:
        self.webhook_first, self.answer_after_s = webhook_first, answer_after_s
        self.runs: list[dict] = []
        self.app = Starlette(routes=[Route("/v2/{endpoint}/run", self.run, methods=["POST"])])

    async def run(self, request: Request) -> JSONResponse:
        body = await request.json()
        job_id = f"job-{uuid.uuid4()}"
        self.runs.append({**body, "id": job_id})
        if self.webhook_first:  # RunPod finished before /run's answer got back to the app
            async with httpx.AsyncClient() as client:
                await client.post(body["webhook"], json={"id": job_id, "status": "COMPLETED", "output": DONE})
        await asyncio.sleep(self.answer_after_s)
        return JSONResponse({"id": job_id, "status": "IN_QUEUE"})
