"""Live-push latency on the production shape: Redis, 2 backend workers, N browser tabs of one user.

Starts the app as `make prod` does (production build, one port, PostgreSQL, Redis,
GRANIAN_WORKERS=2), seeds J in-flight videos for the dev user, opens N headless Chromium tabs,
then finishes the jobs one by one with webhooks. Each tab records (in the page) when each card
first shows COMPLETED; the latency is that moment minus the webhook's response. Also counts
database transactions per second (pg_stat_database) while the tabs sit idle and during the run.

    bash -c 'source scripts/setup.sh && python -m bench.push'     # --tabs 20 --jobs 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

from bench.seeding import insert_in_flight_videos
from bench.webhooks import ADMIN_URL, DATABASE, SECRET, create_database, free_port, start, stop, wait_for
from openv_app.db import make_sync_engine
from openv_app.services.signing import webhook_token
from openv_app.settings import PROJECT_ROOT

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# Runs in each tab: remembers when each card first showed COMPLETED (epoch ms).
WATCH_JS = """() => {
  window.completedAt = {};
  const look = () => {
    for (const card of document.querySelectorAll('.video-card[data-status=COMPLETED]')) {
      window.completedAt[card.dataset.id] ??= Date.now();
    }
    requestAnimationFrame(look);
  };
  look();
}"""


def transactions(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :name"), {"name": DATABASE}
        ).scalar_one()


def per_second(engine: sa.Engine, seconds: float) -> float:
    before = transactions(engine)
    time.sleep(seconds)
    return (transactions(engine) - before - 1) / seconds  # less the count query's own


def main() -> None:
    parser = argparse.ArgumentParser(description="Live-push latency across 2 workers.")
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--spacing-ms", type=float, default=100, help="pause between webhooks")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    database_url = create_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    folder = Path(tempfile.mkdtemp(prefix="openv-push-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "GRANIAN_WORKERS": "2", "WEBHOOK_SECRET": SECRET,
           "ALLOW_DEV_AUTH_IN_PROD": "true", "PUBLIC_BASE_URL": url, "POLL_INTERVAL_S": "3600",
           "REFLEX_USE_SYSTEM_BUN": "1", "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
           "PATH": f"{PROJECT_ROOT / '.tools/node_modules/.bin'}:{os.environ['PATH']}"}
    app = start([sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port", "--frontend-port", str(port),
                 "--backend-port", str(port)], env, folder / "app.log")
    engine = make_sync_engine(database_url)
    try:
        wait_for(f"{url}/api/health", app, timeout=600)
        videos = insert_in_flight_videos(engine, args.jobs, user_id="dev-user")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            pages = []
            for _ in range(args.tabs):
                page = browser.new_context().new_page()
                page.goto(url)
                page.wait_for_selector(".video-card")
                page.evaluate(WATCH_JS)
                pages.append(page)
            time.sleep(3)  # let every tab settle
            idle_rate = per_second(engine, 10)
            answered: dict[str, float] = {}
            before, started = transactions(engine), time.monotonic()
            with httpx.Client(timeout=30) as client:
                for video in videos:
                    report = {"id": video.runpod_job_id, "status": "COMPLETED",
                              "output": {"video": "v", "poster": "p", "duration_s": 1.0}}
                    response = client.post(f"{url}/api/runpod/webhook", json=report, params={
                        "video_id": str(video.id), "token": webhook_token(SECRET, str(video.id))})
                    answered[str(video.id)] = time.time() * 1000
                    assert response.json()["changed"], response.text
                    time.sleep(args.spacing_ms / 1000)
            deadline = time.monotonic() + 30
            seen = [page.evaluate("() => window.completedAt") for page in pages]
            while time.monotonic() < deadline and any(len(s) < args.jobs for s in seen):
                time.sleep(0.5)
                seen = [page.evaluate("() => window.completedAt") for page in pages]
            run_rate = (transactions(engine) - before) / (time.monotonic() - started)
            browser.close()
    finally:
        stop(app)
        engine.dispose()
    latencies = sorted(at - answered[video_id] for tab in seen for video_id, at in tab.items() if video_id in answered)
    missing = args.tabs * args.jobs - len(latencies)
    print(f"{args.tabs} tabs of one user on 2 workers (Redis), {args.jobs} jobs finished by webhook, "
          f"{os.cpu_count()} cores, database {ADMIN_URL.split('@')[-1]}")
    print(f"webhook response -> card COMPLETED, over {len(latencies)} tab×job pairs ({missing} never seen): "
          f"p50 {statistics.median(latencies):.0f} ms, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms, "
          f"max {latencies[-1]:.0f} ms")
    print(f"database transactions/s: idle with {args.tabs} tabs open {idle_rate:.1f}, during the run {run_rate:.1f}")
    print(f"logs: {folder}")


if __name__ == "__main__":
    main()
