"""The jobs of the local RunPod endpoint (worker/local_endpoint.py): their state, the cloud's
JSON shapes for them, expiry, running a handler and webhook delivery."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("local_endpoint")

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
DEFAULT_EXECUTION_TIMEOUT_MS = 600_000
DEFAULT_TTL_MS = 24 * 3600 * 1000


@dataclass
class LocalJob:
    id: str
    input: dict[str, Any]
    webhook: str | None
    execution_timeout_ms: int
    ttl_ms: int
    status: str = "IN_QUEUE"
    output: Any = None
    error: Any = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    retries: int = 0

    @classmethod
    def from_request(cls, body: Any) -> LocalJob | str:
        """A new job from a `/run` or `/runsync` body, or what is wrong with the body."""
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return "input: required object"
        policy = body.get("policy") or {}
        return cls(
            id=f"{uuid.uuid4()}-local",
            input=body["input"],
            webhook=body.get("webhook"),
            execution_timeout_ms=int(policy.get("executionTimeout") or DEFAULT_EXECUTION_TIMEOUT_MS),
            ttl_ms=int(policy.get("ttl") or DEFAULT_TTL_MS),
        )

    def body(self) -> dict[str, Any]:
        """The cloud's /status body (a webhook adds `input` and `webhook`)."""
        now = time.monotonic()
        delay = (self.started or now) - self.created
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "delayTime": int(delay * 1000),
            "workerId": "local",
        }
        if self.started is not None:
            body["executionTime"] = int(((self.finished or now) - self.started) * 1000)
        if self.output is not None:
            body["output"] = self.output
        if self.error is not None:
            body["error"] = self.error
        return body

    def payload(self, drop_progress_url: bool = False) -> dict[str, Any]:
        """What the handler gets: `{"id", "input"}`, as on RunPod."""
        job_input = self.input
        if drop_progress_url:
            job_input = {key: value for key, value in job_input.items() if key != "progress_url"}
        return {"id": self.id, "input": job_input}

    def expired(self, now: float, result_retention_s: float) -> bool:
        """Past its TTL, or finished longer ago than results are kept: the cloud answers 404."""
        too_old = now - self.created > self.ttl_ms / 1000
        return too_old or (self.finished is not None and now - self.finished > result_retention_s)


async def call_handler(handler: Callable[[dict[str, Any]], Any], payload: dict[str, Any]) -> Any:
    """Run any RunPod handler (sync, async, generator, async generator) off the event loop."""
    if inspect.isasyncgenfunction(handler):
        return [chunk async for chunk in handler(payload)]
    if inspect.isgeneratorfunction(handler):
        return await asyncio.to_thread(lambda: list(handler(payload)))
    if inspect.iscoroutinefunction(handler):
        return await handler(payload)
    return await asyncio.to_thread(handler, payload)


async def send_webhook(job: LocalJob, attempts: int, retry_delay_s: float) -> None:
    """POST the cloud's webhook body, retrying a failed delivery as the cloud does."""
    if job.webhook is None:
        return
    body = {**job.body(), "input": job.input, "webhook": job.webhook}
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = await client.post(job.webhook, json=body)
                if response.is_success:
                    return
                log.warning("webhook for %s answered %s", job.id, response.status_code)
            except httpx.HTTPError as error:
                log.warning("webhook for %s failed: %r", job.id, error)
            if attempt < attempts:
                await asyncio.sleep(retry_delay_s)
