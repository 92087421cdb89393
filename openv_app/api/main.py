"""The HTTP API, mounted into the Reflex app (`api_transformer`). Routes stay thin: the
services own the rules; one router per resource lives in `api/routes/`.

Every error is JSON `{"error": "...", "field": "..."}` with a 4xx status (5xx only when a
service the app depends on fails: 502), and every route documents the statuses it can return.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from openv_app.api.deps import Service, document_dependencies
from openv_app.api.errors import add_error_handlers
from openv_app.api.request_metrics import RequestMetrics
from openv_app.api.routes import account, admin, images, jobs, metrics, models, public, sharing, storage, videos
from openv_app.settings import get_settings
from openv_app.tabs import get_tab_registry

api = FastAPI(
    title="OpenV API",
    version=get_settings().app_version,
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    generate_unique_id_function=lambda route: route.name,
    description=(
        'Every error is JSON `{"error": "...", "field": "..."}`. A method a path does not list '
        "answers 405 with `Allow` naming those it does."
    ),
)
add_error_handlers(api)
document_dependencies(api)  # what the routes' dependencies require and answer, in the schema
api.add_middleware(RequestMetrics)


@api.get("/api/health", responses={503: {"description": "the database cannot be reached"}})
async def health(service: Service) -> JSONResponse:
    """Readiness: 200 while this process can reach the database (it can apply webhooks and
    reports, so it stays in rotation even when Redis, which only carries live pushes, is down);
    503 when it cannot. `redis` is null without Redis (one process)."""
    database_ok = await service.db.is_reachable()
    redis_ok = await get_tab_registry().is_reachable()
    status = "down" if not database_ok else "degraded" if redis_ok is False else "ok"
    body = {"status": status, "database": database_ok, "redis": redis_ok, "version": service.settings.app_version}
    return JSONResponse(body, status_code=200 if database_ok else 503)


@api.get("/api/health/live")
async def liveness() -> dict[str, str]:
    """Liveness: the process serves requests (restart it only when this stops answering)."""
    return {"status": "alive"}


for router in (
    jobs.router,
    models.router,
    videos.router,
    sharing.router,
    images.router,
    public.router,
    storage.router,
    metrics.router,
    account.router,
    admin.router,
):
    api.include_router(router)
