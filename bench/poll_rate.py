"""The app's `/status` rate with thousands of jobs in flight, on PostgreSQL.

Seeds N in-flight videos (default 5,000), serves a `/status` stand-in that answers after a
fixed delay (default 100 ms, like RunPod's API from far away) and notes the time of every call,
and runs P status pollers (`run_status_poller`, as each app process runs one; default 2), each
a process of its own, for `--seconds`. Prints the most calls in any 10 s window against RunPod's
limit (2,000 per 10 s per endpoint), the calls per job, and whether the schedule kept time: the
gaps between each job's polls against the effective interval, max(POLL_INTERVAL_S, jobs in
flight / RUNPOD_STATUS_RATE_PER_S).

By default every job is due at once when the pollers start (as after an outage, or a burst of
submissions); `--spread` seeds their next polls evenly over one interval instead (steady state).

    bash -c 'source scripts/setup.sh && python -m bench.poll_rate'   # --jobs 5000 --processes 2 --seconds 80
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse

from bench.tabs import percentile
from openv_app.db import make_sync_engine
from openv_app.services.poller import RATE_HEADROOM, run_status_poller
from openv_app.settings import Settings
from tests.support.apps import standin_job_service
from tests.support.databases import BENCH_ADMIN_URL, bench_database
from tests.support.factories import insert_in_flight_videos
from tests.support.processes import start, stop
from tests.support.runpod_standin import SlowStatusEndpoint
from tests.support.servers import ServerThread

WINDOW_S = 10.0
RUNPOD_LIMIT = 2000  # /status calls per 10 s per endpoint


class TimedStatusEndpoint(SlowStatusEndpoint):
    """The slow `/status` stand-in, noting (wall clock) when each job was asked about."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(delay_s)
        self.calls: list[tuple[float, str]] = []

    async def status(self, request: Request) -> JSONResponse:
        self.calls.append((time.time(), request.path_params["job_id"]))
        return await super().status(request)


async def poll_for(database_url: str, runpod_base_url: str, seconds: float, storage_dir: str, processes: int) -> None:
    """One app process's status poller for `seconds`; prints when it started and stopped."""
    service = standin_job_service(database_url, runpod_base_url, local_storage_dir=storage_dir)
    started = time.time()
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await run_status_poller(service, processes)
    finally:
        await service.aclose()
    print(f"polled {started} {time.time()}", flush=True)


def polling_window(logs: list[Path]) -> tuple[float, float]:
    """From the last poller start to the first poller stop, from their logs."""
    spans = []
    for log in logs:
        lines = [line.split() for line in log.read_text().splitlines() if line.startswith("polled ")]
        if not lines:
            raise RuntimeError(f"a poller did not finish: {log.read_text()[-3000:]}")
        spans.append((float(lines[-1][1]), float(lines[-1][2])))
    return max(start for start, _ in spans), min(stop for _, stop in spans)


def most_in_window(times: list[float], window_s: float = WINDOW_S) -> int:
    """The most calls in any `window_s` (the times sorted)."""
    return max((bisect.bisect_left(times, at + window_s) - i for i, at in enumerate(times)), default=0)


def report(calls: list[tuple[float, str]], jobs: int, window: tuple[float, float], args: argparse.Namespace) -> None:
    settings = Settings(_env_file=None)
    interval = max(settings.poll_interval_s, jobs / (settings.runpod_status_rate_per_s * RATE_HEADROOM))
    begin, end = window
    times = sorted(at for at, _ in calls)
    by_job: dict[str, list[float]] = defaultdict(list)
    for at, job_id in sorted(calls):
        by_job[job_id].append(at)
    counts = sorted(len(polls) for polls in by_job.values())
    first_sweep_end = max(polls[0] for polls in by_job.values()) if len(by_job) == jobs else None
    gaps = [later - earlier for polls in by_job.values() for earlier, later in zip(polls, polls[1:], strict=False)]
    late_by = interval + 1.0 + 0.5  # a tick, a call and some slack past the interval
    overdue = sum(1 for polls in by_job.values() if end - polls[-1] > late_by)
    buckets = [0] * int((end - begin) // WINDOW_S)  # whole windows only
    for at in times:
        if begin <= at and int((at - begin) // WINDOW_S) < len(buckets):
            buckets[int((at - begin) // WINDOW_S)] += 1

    print(
        f"{jobs} jobs in flight on PostgreSQL {BENCH_ADMIN_URL.split('@')[-1]}, {args.processes} poller processes "
        f"for {args.seconds:g} s, /status stand-in answering in {args.delay_ms:g} ms, {os.cpu_count()} cores; "
        f"POLL_INTERVAL_S={settings.poll_interval_s:g}, RUNPOD_STATUS_RATE_PER_S={settings.runpod_status_rate_per_s:g}, "
        f"POLL_CONCURRENCY={settings.poll_concurrency} -> effective interval {interval:.1f} s; "
        f"next polls {'spread over one interval' if args.spread else 'all due at the start'}"
    )
    budget = settings.runpod_status_rate_per_s * WINDOW_S
    print(
        f"/status calls: {len(times)}; most in any 10 s: {most_in_window(times)} "
        f"(the app's budget {budget:g}, RunPod's limit {RUNPOD_LIMIT})"
    )
    if first_sweep_end is not None:
        after = [at for at in times if at > first_sweep_end]
        print(
            f"every job asked once within {first_sweep_end - times[0]:.1f} s of the first call; "
            f"after that, most in any 10 s: {most_in_window(after)}"
        )
    print("calls per 10 s while all pollers ran: " + ", ".join(str(count) for count in buckets))
    print(
        f"calls per job: min {counts[0] if counts else 0}, median {percentile(counts, 0.5) if counts else 0}, "
        f"max {counts[-1] if counts else 0}; jobs never asked: {jobs - len(by_job)}"
    )
    if gaps:
        print(
            f"gap between a job's polls (s): min {min(gaps):.1f}, p50 {percentile(gaps, 0.5):.1f}, "
            f"max {max(gaps):.1f} over {len(gaps)} gaps (interval {interval:.1f} s)"
        )
    else:
        print(f"no job was asked twice (interval {interval:.1f} s): run longer with --seconds")
    print(f"jobs overdue when the pollers stopped (last asked more than interval + 1.5 s before): {overdue}")


def main() -> None:
    parser = argparse.ArgumentParser(description="The pollers' /status rate with many jobs in flight.")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2, help="poller processes (app workers)")
    parser.add_argument("--seconds", type=float, default=80.0, help="how long the pollers run")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="RunPod stand-in answer time")
    parser.add_argument("--spread", action="store_true", help="seed next polls over one interval, not all due")
    parser.add_argument(
        "--poll", nargs=5, metavar=("DATABASE_URL", "RUNPOD_BASE_URL", "SECONDS", "STORAGE_DIR", "PROCESSES")
    )
    args = parser.parse_args()
    if args.poll:  # one poller process
        database_url, runpod_base_url, seconds, storage_dir, processes = args.poll
        asyncio.run(poll_for(database_url, runpod_base_url, float(seconds), storage_dir, int(processes)))
        return

    database_url = bench_database()
    engine = make_sync_engine(database_url)
    insert_in_flight_videos(engine, args.jobs)
    if args.spread:
        settings = Settings(_env_file=None)
        interval = max(settings.poll_interval_s, args.jobs / (settings.runpod_status_rate_per_s * RATE_HEADROOM))
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE videos SET next_poll_at = now() + random() * make_interval(secs => :interval)"),
                {"interval": interval},
            )
    engine.dispose()
    folder = Path(tempfile.mkdtemp(prefix="openv-poll-rate-"))
    standin = TimedStatusEndpoint(delay_s=args.delay_ms / 1000)
    with ServerThread(standin.app) as server:
        command = [sys.executable, "-m", "bench.poll_rate", "--poll", database_url, f"{server.url}/v2"]
        logs = [folder / f"poller-{number}.log" for number in range(args.processes)]
        poll_args = [str(args.seconds), str(folder / "storage"), str(args.processes)]
        pollers = [start([*command, *poll_args], {}, log) for log in logs]
        try:
            for poller in pollers:
                poller.wait(timeout=args.seconds + 120)
        finally:
            for poller in pollers:
                stop(poller)
    report(list(standin.calls), args.jobs, polling_window(logs), args)
    print(f"logs: {folder}")


if __name__ == "__main__":
    main()
