"""Counts and times the API's requests for `/metrics` (`openv_app.metrics`).

A pure ASGI middleware on the FastAPI app (`api.add_middleware` in `api/main.py`). The Reflex app
is mounted inside that app, so pages, built assets and the `/_event` websocket pass through here
too: only requests that one of the API's routes answered are recorded, labelled with the route's
template (`/api/videos/{video_id}`), never the raw path, so the label values stay bounded.
"""

from __future__ import annotations

import time

from fastapi.routing import APIRoute
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openv_app import metrics


def route_template(scope: Scope) -> str | None:
    """The template of the API route that answered, "unmatched" for another /api path, None for
    what is not the API's (pages, assets). Read after the app ran: the router sets `route`."""
    route = scope.get("route")
    # Reflex's own routes are plain Starlette routes outside /api; FastAPI's docs and schema
    # routes are plain ones under /api.
    if isinstance(route, APIRoute) or (isinstance(route, Route) and route.path.startswith("/api/")):
        return route.path_format
    if scope["path"].startswith("/api/"):
        return metrics.UNMATCHED_ROUTE
    return None


class RequestMetrics:
    """The ASGI middleware; `api.add_middleware(RequestMetrics)`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Until the response starts: the app raised, and the server answers 500.
        status, seconds = 500, None

        async def note_response(message: Message) -> None:
            nonlocal status, seconds
            if message["type"] == "http.response.start":
                status, seconds = message["status"], time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, note_response)
        finally:
            if (route := route_template(scope)) is not None:
                metrics.observe_request(scope["method"], route, status)
                latency = seconds if seconds is not None else time.perf_counter() - started
                metrics.observe_request_latency(scope["method"], route, latency)
