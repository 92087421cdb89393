"""Ports, waiting, ASGI apps served on real ports, and the local RunPod endpoint."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from openv_app.services.runpod_client import RunPodClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


def answers(url: str) -> bool:
    """The URL answers 200 now."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _serve(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve()

        asyncio.run(serve())

    def run(self, coroutine: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the server's event loop (where its database pool lives)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class LocalRunPod:
    endpoint: Any
    base_url: str
    api_key: str = "test-runpod-key"
    endpoint_id: str = "local"

    def client(self, **kwargs: Any) -> RunPodClient:
        return RunPodClient(self.base_url, self.endpoint_id, self.api_key, **kwargs)


def start_local_runpod(
    handler: Callable, api_key: str = "test-runpod-key", **kwargs: Any
) -> tuple[ServerThread, LocalRunPod]:
    """The local RunPod-compatible endpoint running `handler`, served on a real port."""
    from worker.local_endpoint import LocalEndpoint

    endpoint = LocalEndpoint(handler, api_key=api_key, **kwargs)
    server = ServerThread(endpoint.app).__enter__()
    return server, LocalRunPod(endpoint, f"{server.url}/v2", api_key)
