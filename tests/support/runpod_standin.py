"""A RunPod `/status` stand-in that answers after a fixed delay, for poller tests and benchmarks.

Every job is IN_PROGRESS with some progress; the app asks through its real RunPodClient over
HTTP. Records how many status calls were in flight at once and which jobs were asked about.
"""

from __future__ import annotations

import asyncio
from collections import Counter

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
