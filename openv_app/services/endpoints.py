"""Which RunPod endpoint serves which model: one `RunPodClient` per endpoint, and every RunPod
call for a video (queueing, polling, cancelling) made on its model's endpoint.

A RunPod worker serves one model (`OPENV_MODEL`), so each model the instance offers has an
endpoint of its own (`RUNPOD_ENDPOINTS`); the local endpoint runs them all. A request for a
model no endpoint serves is refused naming the `model` field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openv_app.services.errors import InvalidInput
from openv_app.services.runpod_client import RunPodClient, RunPodError, RunPodJob
from openv_app.settings import Settings
from worker.contract import MODEL_SPECS, MODELS


class ModelUnavailable(InvalidInput):
    """No endpoint of this instance serves the model."""


@dataclass
class Endpoints:
    # model id -> the client of its endpoint (one client per endpoint, shared by its models)
    clients: Mapping[str, RunPodClient]

    def __post_init__(self) -> None:
        if not self.clients:
            raise ValueError("an instance needs at least one model's endpoint")
        self.clients = {model: self.clients[model] for model in MODELS if model in self.clients}

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: Any) -> Endpoints:
        """One client per endpoint id of `settings.model_endpoints`."""
        by_endpoint: dict[str, RunPodClient] = {}
        clients = {}
        for model, endpoint_id in settings.model_endpoints.items():
            if endpoint_id not in by_endpoint:
                by_endpoint[endpoint_id] = RunPodClient(
                    settings.runpod_base_url, endpoint_id, settings.runpod_key, **client_options
                )
            clients[model] = by_endpoint[endpoint_id]
        return cls(clients)

    @classmethod
    def serving(cls, client: RunPodClient, models: tuple[str, ...] | list[str] = MODELS) -> Endpoints:
        """One endpoint serving these models (every model: the local endpoint)."""
        return cls(dict.fromkeys(models, client))

    def models(self) -> list[str]:
        """The models this instance offers, in the registry's order."""
        return list(self.clients)

    @property
    def default_model(self) -> str:
        """What a request that names no model gets: the registry's first model on offer."""
        return next(iter(self.clients))

    def all(self) -> list[RunPodClient]:
        """Every endpoint's client, once each."""
        return list({id(client): client for client in self.clients.values()}.values())

    def unavailable(self, model: str) -> ModelUnavailable:
        available = ", ".join(self.clients)
        if model in MODEL_SPECS:
            message = f"model: {model} is not available on this instance (available: {available})"
        else:  # not echoed: it is not one of ours
            message = f"model: must be one of {available}"
        return ModelUnavailable(message, field="model")

    def for_model(self, model: str) -> RunPodClient:
        """The client of the endpoint serving `model`; ModelUnavailable when none does."""
        client = self.clients.get(model)
        if client is None:
            raise self.unavailable(model)
        return client

    def checked_request(self, data: Any) -> Any:
        """A generation request with the instance's default model filled in when it names none;
        ModelUnavailable (400, field `model`) when it names one this instance does not serve.
        Checked before the settings, whose bounds depend on the model."""
        if not isinstance(data, dict):
            return data
        if "model" not in data:
            return {**data, "model": self.default_model}
        if isinstance(data["model"], str) and data["model"] not in self.clients:
            raise self.unavailable(data["model"])
        return data

    async def run(
        self, job_input: dict[str, Any], webhook: str | None, execution_timeout_ms: int, ttl_ms: int
    ) -> RunPodJob:
        """`/run` on the endpoint of the job's model (`job_input["model"]`)."""
        client = self.for_model(job_input["model"])
        return await client.run(job_input, webhook, execution_timeout_ms, ttl_ms)

    async def health(self) -> dict[str, Any]:
        """Each model's endpoint `/health`, `{model: health}` (an endpoint asked once however many
        models it serves). An endpoint that fails reads `{"error": ...}`; RunPodError when all do."""
        clients = self.all()
        answers = await asyncio.gather(*(client.health() for client in clients), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, RunPodError):
                raise answer
        if all(isinstance(answer, RunPodError) for answer in answers):
            raise answers[0]  # type: ignore[misc]
        by_client = {id(client): answer for client, answer in zip(clients, answers, strict=True)}
        return {
            model: {"error": str(answer)} if isinstance(answer, RunPodError) else answer
            for model, answer in ((model, by_client[id(client)]) for model, client in self.clients.items())
        }

    async def aclose(self) -> None:
        for client in self.all():
            await client.aclose()
