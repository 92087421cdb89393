"""The HTTP API, mounted into the Reflex app (`api_transformer`). Routes stay thin: the
services own the rules; one router per resource lives in `api/routes/`.

Every error is JSON `{"error": "...", "field": "..."}` with a 4xx status (5xx only when a
service the app depends on fails: 502), and every route documents the statuses it can return.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from openv_app.api.deps import Service
from openv_app.api.errors import add_error_handlers
from openv_app.api.routes import jobs, public, sharing, storage, videos
from openv_app.settings import get_settings

api = FastAPI(
    title="OpenV API",
    version=get_settings().app_version,
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    generate_unique_id_function=lambda route: route.name,
)
add_error_handlers(api)


@api.get("/api/health")
async def health(service: Service) -> dict[str, Any]:
    database_ok = await service.db.is_reachable()
    return {
        "status": "ok" if database_ok else "degraded",
        "database": database_ok,
        "version": service.settings.app_version,
    }


for router in (jobs.router, videos.router, sharing.router, public.router, storage.router):
    api.include_router(router)
