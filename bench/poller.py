"""Seconds per status-poller sweep with many jobs in flight, on PostgreSQL.

Seeds N in-flight videos, points the app's RunPodClient at a `/status` stand-in that answers
after a fixed delay (default 100 ms, like RunPod's API from far away), and times full sweeps of
`poll_once` with the default settings (16 calls at once). Optionally through the delay proxy.

    bash -c 'source scripts/setup.sh && python -m bench.poller'     # --jobs 500 --delay-ms 100

The /status rate of the app's pollers over time, with thousands of jobs: bench/poll_rate.py.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import sqlalchemy as sa

from openv_app.db import make_sync_engine
from openv_app.models import Video
from openv_app.services.poller import poll_once
from openv_app.settings import Settings
from tests.support.apps import standin_job_service
from tests.support.databases import BENCH_ADMIN_URL, bench_database
from tests.support.factories import insert_in_flight_videos
from tests.support.runpod_standin import SlowStatusEndpoint
from tests.support.servers import free_port


async def sweep_times(url: str, args: argparse.Namespace) -> list[float]:
    import uvicorn

    standin = SlowStatusEndpoint(delay_s=args.delay_ms / 1000)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(standin.app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    service = standin_job_service(url, f"http://127.0.0.1:{port}/v2")
    settings = service.settings
    times = []
    try:
        for _ in range(args.sweeps):
            await service.db.rows(sa.update(Video).values(next_poll_at=None))  # every job due again
            started = time.perf_counter()
            polled = await poll_once(service)
            times.append(time.perf_counter() - started)
            assert polled == args.jobs, polled
        print(f"peak status calls in flight: {standin.peak_in_flight} (limit {settings.poll_concurrency})")
        return times
    finally:
        await service.aclose()
        server.should_exit = True
        await serving


def main() -> None:
    parser = argparse.ArgumentParser(description="Seconds per poller sweep.")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--delay-ms", type=float, default=100.0, help="RunPod stand-in answer time")
    parser.add_argument("--sweeps", type=int, default=3)
    args = parser.parse_args()
    url = bench_database()
    engine = make_sync_engine(url)
    insert_in_flight_videos(engine, args.jobs)
    engine.dispose()
    times = asyncio.run(sweep_times(url, args))
    interval = Settings(_env_file=None).poll_interval_s
    print(
        f"{args.jobs} jobs in flight, stand-in answers in {args.delay_ms:g} ms, database {BENCH_ADMIN_URL.split('@')[-1]}"
    )
    print("sweeps (s): " + ", ".join(f"{t:.2f}" for t in times) + f"; poll interval {interval:g} s")


if __name__ == "__main__":
    main()
