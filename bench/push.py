"""Live-push latency on the production shape: Redis, 2 backend workers, N tabs of one user.

Starts the app as `make prod` does (production build, one port, PostgreSQL, Redis,
BACKEND_WORKERS=2), seeds J in-flight videos for the dev user and opens N tabs as Reflex
websocket clients (python-socketio, connected the way the browser connects, registered as the
user's open tabs), then finishes the jobs one by one with webhooks. Each client notes when a
state update first shows each card as COMPLETED; the latency is that moment minus the webhook's
response. Also counts database transactions per second (pg_stat_database) while the tabs sit
idle and during the run.

The tabs are websocket clients (bench/tabs.py): 20 Chromium renderers on a 2-core machine
measure the machine's rendering, not the app (tests/test_e2e_workers.py covers real tabs).

    bash -c 'source scripts/setup.sh && python -m bench.push'     # --tabs 20 --jobs 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

from bench.tabs import close_tabs, open_tabs
from openv_app.db import make_sync_engine
from openv_app.services.signing import webhook_token
from tests.support.databases import BENCH_ADMIN_URL, BENCH_DATABASE, bench_database
from tests.support.factories import insert_in_flight_videos
from tests.support.processes import production_app

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
USER = "dev-user"
SECRET = "bench-secret"


def transactions(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :name"),
            {"name": BENCH_DATABASE},
        ).scalar_one()


def per_second(engine: sa.Engine, seconds: float) -> float:
    before = transactions(engine)
    time.sleep(seconds)
    return (transactions(engine) - before - 1) / seconds  # less the count query's own


async def run(url: str, args: argparse.Namespace, engine: sa.Engine) -> tuple[list[float], int, float, float]:
    videos = insert_in_flight_videos(engine, args.jobs, user_id=USER)
    tabs, registry = await open_tabs(url, USER, args.tabs, REDIS_URL)
    await asyncio.sleep(3)
    idle_rate = await asyncio.to_thread(per_second, engine, 10)
    answered: dict[str, float] = {}
    before, started = transactions(engine), time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        for video in videos:
            report = {
                "id": video.runpod_job_id,
                "status": "COMPLETED",
                "output": {"video": "v", "poster": "p", "duration_s": 1.0},
            }
            response = await client.post(
                f"{url}/api/runpod/webhook",
                json=report,
                params={"video_id": str(video.id), "token": webhook_token(SECRET, str(video.id))},
            )
            answered[str(video.id)] = time.time()
            assert response.json()["changed"], response.text
            await asyncio.sleep(args.spacing_ms / 1000)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(len(tab.completed_at) < args.jobs for tab in tabs):
        await asyncio.sleep(0.2)
    run_rate = (transactions(engine) - before) / (time.monotonic() - started)
    latencies = sorted(
        1000 * (at - answered[video_id])
        for tab in tabs
        for video_id, at in tab.completed_at.items()
        if video_id in answered
    )
    await close_tabs(tabs, registry)
    return latencies, args.tabs * args.jobs - len(latencies), idle_rate, run_rate


def main() -> None:
    parser = argparse.ArgumentParser(description="Live-push latency across 2 workers.")
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--spacing-ms", type=float, default=100, help="pause between webhooks")
    args = parser.parse_args()
    database_url = bench_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    folder = Path(tempfile.mkdtemp(prefix="openv-push-"))
    engine = make_sync_engine(database_url)
    settings = {"REDIS_URL": REDIS_URL, "BACKEND_WORKERS": "2", "POLL_INTERVAL_S": "3600"}
    try:
        with production_app(database_url, SECRET, folder / "app.log", **settings) as url:
            latencies, missing, idle_rate, run_rate = asyncio.run(run(url, args, engine))
    finally:
        engine.dispose()
    print(
        f"{args.tabs} tabs of one user on 2 workers (Redis), {args.jobs} jobs finished by webhook "
        f"{args.spacing_ms:g} ms apart, {os.cpu_count()} cores, database {BENCH_ADMIN_URL.split('@')[-1]}"
    )
    print(
        f"webhook response -> card COMPLETED in the tab, {len(latencies)} tab×job pairs ({missing} never seen): "
        f"p50 {statistics.median(latencies):.0f} ms, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms, "
        f"max {latencies[-1]:.0f} ms"
    )
    print(f"database transactions/s: idle with {args.tabs} tabs open {idle_rate:.1f}, during the run {run_rate:.1f}")
    print(f"logs: {folder}")


if __name__ == "__main__":
    main()
