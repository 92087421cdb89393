"""`GET /metrics`: Prometheus' text exposition of every app process's metrics
(`openv_app.metrics`), for the operator only."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from openv_app.api.deps import Service, bearer
from openv_app.metrics import exposition
from openv_app.services.errors import AuthError, NotFound

router = APIRouter(tags=["operator"])


def metrics_reader(
    service: Service, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Only with `METRICS_TOKEN` set, and only for `Authorization: Bearer <it>`, compared in
    constant time. Unset, the route answers as if it did not exist, so an instance is never
    public by accident."""
    expected = service.settings.metrics_token
    if expected is None:
        raise NotFound("Not Found")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise AuthError("invalid metrics token", field="authorization")


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_reader)])
async def prometheus_metrics(request: Request, service: Service) -> Response:
    stats = await service.stats.read()
    # In multiprocess mode the exposition reads every worker's files: off the event loop.
    body, content_type = await asyncio.to_thread(exposition, stats, request.headers.get("accept"))
    return Response(body, media_type=content_type)
