"""An async client for RunPod's serverless HTTP API (`/v2/{endpoint_id}/...`).

The `runpod` SDK's AsyncioEndpoint cannot send a webhook or an execution policy, and the
SDK is heavy to import, so the app talks to the API with httpx directly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from openv_app.metrics import observe_runpod_request
from openv_app.services.text import storable_text

# Statuses worth retrying on a call that is safe to repeat.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# RunPod's rate limit (/run: 1,000 per 10 s per endpoint): the request was refused, nothing was
# queued, so even /run is sent again after the backoff.
_REFUSED_STATUSES = frozenset({429})


class RunPodError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RunPodJobNotFound(RunPodError):
    """RunPod no longer knows the job (expired results or ttl)."""


class RunPodUnconfirmed(RunPodError):
    """The request reached RunPod but no answer came back: it may have been carried out."""


# Failures after which a request certainly did not reach RunPod.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Answers after which a request may still have been carried out (a gateway lost the reply).
_MAYBE_DONE_STATUSES = frozenset({500, 502, 504})


class RunPodJob(BaseModel):
    """The body of `/status/{id}` and of the webhook RunPod sends when a job ends."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1, max_length=255)
    status: str = Field(max_length=20)
    # Any: odd values must not reject a report (transitions.report_effect cleans them).
    delay_time: Any = Field(default=None, alias="delayTime")
    execution_time: Any = Field(default=None, alias="executionTime")
    output: Any = None
    error: Any = None
    worker_id: str | None = Field(default=None, alias="workerId")

    @field_validator("id")
    @classmethod
    def _storable_id(cls, value: str) -> str:
        return storable_text(value)


class RunPodClient:
    def __init__(
        self,
        base_url: str,
        endpoint_id: str,
        api_key: str,
        timeout_s: float = 10.0,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.endpoint_url = f"{base_url.rstrip('/')}/{endpoint_id}"
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            # The transport retries failed connections (the request never left), which is
            # safe for every call including /run.
            transport=transport or httpx.AsyncHTTPTransport(retries=2),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, json: Any = None, repeatable: bool = True) -> Any:
        """One API call; repeatable calls retry 429/5xx and network errors with backoff, the
        others (/run) only RunPod's rate limit (429).

        httpx has no status-based retry of its own, hence the loop.
        """
        attempts, retried = self.max_attempts, _RETRY_STATUSES if repeatable else _REFUSED_STATUSES
        operation = path.split("/")[1]  # run, status, cancel, health: never the job id
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                response = await self._client.request(method, f"{self.endpoint_url}{path}", json=json)
            except httpx.HTTPError as error:
                observe_runpod_request(self.endpoint_id, operation, None, time.perf_counter() - started)
                if not repeatable and not isinstance(error, _NOT_SENT):
                    raise RunPodUnconfirmed(f"RunPod did not answer: {error!r}") from error
                if attempt == attempts or not repeatable:
                    raise RunPodError(f"RunPod could not be reached: {error!r}") from error
            else:
                observe_runpod_request(self.endpoint_id, operation, response.status_code, time.perf_counter() - started)
                if not repeatable and response.status_code in _MAYBE_DONE_STATUSES:
                    raise RunPodUnconfirmed(f"RunPod answered {response.status_code}", response.status_code)
                if response.status_code not in retried or attempt == attempts:
                    return self._parse(response)
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _parse(response: httpx.Response) -> Any:
        if response.status_code == 404:
            raise RunPodJobNotFound("RunPod does not know this job (it may have expired)", 404)
        if response.status_code == 401:
            raise RunPodError("RunPod refused the API key", 401)
        if response.is_error:
            raise RunPodError(f"RunPod answered {response.status_code}: {response.text[:300]}", response.status_code)
        try:
            return response.json()
        except ValueError as error:
            raise RunPodError(f"RunPod answered with invalid JSON: {response.text[:300]}") from error

    async def run(
        self, job_input: dict[str, Any], webhook: str | None, execution_timeout_ms: int, ttl_ms: int
    ) -> RunPodJob:
        body: dict[str, Any] = {
            "input": job_input,
            "policy": {"executionTimeout": execution_timeout_ms, "ttl": ttl_ms},
        }
        if webhook:
            body["webhook"] = webhook
        # Not repeatable: a retried /run after a lost reply would queue the job twice.
        return RunPodJob.model_validate(await self._request("POST", "/run", body, repeatable=False))

    async def status(self, job_id: str) -> RunPodJob:
        return RunPodJob.model_validate(await self._request("GET", f"/status/{job_id}"))

    async def cancel(self, job_id: str) -> RunPodJob:
        return RunPodJob.model_validate(await self._request("POST", f"/cancel/{job_id}"))

    async def health(self) -> dict[str, Any]:
        return await self._request("GET", "/health")
