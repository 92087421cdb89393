"""The bare baseline for bench/webhooks.py: the least a webhook route can do.

A Starlette route on an async psycopg pool: check the token, parse the report, lock the row,
apply the transition, commit. No ORM, no framework beyond Starlette. Served the way the app's
backend is (uvicorn with h11, one worker):

    DATABASE_URL=postgresql://... python -m uvicorn --http h11 bench.baseline_app:app
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from openv_app.services.signing import webhook_token_matches

SECRET = os.environ.get("WEBHOOK_SECRET", "bench-secret")
RANK = {"PENDING": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}
OURS = {
    "IN_QUEUE": "PENDING",
    "IN_PROGRESS": "PROCESSING",
    "COMPLETED": "COMPLETED",
    "FAILED": "FAILED",
    "TIMED_OUT": "FAILED",
    "CANCELLED": "CANCELLED",
}

pool = AsyncConnectionPool(
    os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"),
    min_size=int(os.environ.get("DATABASE_POOL_SIZE", "10")),
    max_size=int(os.environ.get("DATABASE_POOL_SIZE", "10")) + int(os.environ.get("DATABASE_MAX_OVERFLOW", "5")),
    kwargs={"prepare_threshold": None},
    open=False,
)


async def webhook(request: Request) -> JSONResponse:
    video_id, token = request.query_params.get("video_id", ""), request.query_params.get("token")
    if not webhook_token_matches(SECRET, video_id, token):
        return JSONResponse({"error": "invalid webhook token"}, status_code=401)
    report = json.loads(await request.body())
    new_status = OURS[report["status"]]
    output = report.get("output") or {}
    progress = 100 if new_status == "COMPLETED" else int(100 * output.get("step", 0) / output.get("total", 1))
    async with pool.connection() as connection:  # commits on exit
        row = await (
            await connection.execute(
                "SELECT status, progress, runpod_job_id FROM videos WHERE id = %s FOR UPDATE", (video_id,)
            )
        ).fetchone()
        if row is None or row[2] != report["id"]:
            return JSONResponse({"error": "unknown job"}, status_code=404)
        status, current_progress, _ = row
        changed = (
            RANK[status] < 2
            and RANK[new_status] >= RANK[status]
            and (new_status != status or progress > current_progress)
        )
        if changed:
            now = datetime.now(UTC)
            await connection.execute(
                "UPDATE videos SET status = %s, runpod_status = %s, progress = GREATEST(progress, %s), stage = %s,"
                " updated_at = %s, completed_at = CASE WHEN %s THEN %s END WHERE id = %s",
                (
                    new_status,
                    report["status"],
                    progress,
                    output.get("stage", "done"),
                    now,
                    RANK[new_status] == 2,
                    now,
                    video_id,
                ),
            )
    return JSONResponse({"ok": True, "changed": changed})


async def ping(request: Request) -> PlainTextResponse:
    return PlainTextResponse("pong")


@asynccontextmanager
async def lifespan(app: Starlette):
    await pool.open()
    yield
    await pool.close()


app = Starlette(
    routes=[Route("/api/runpod/webhook", webhook, methods=["POST"]), Route("/ping", ping)], lifespan=lifespan
)
