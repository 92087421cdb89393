"""Live progress at RunPod's real cadence, on the production shape.

Starts the app as `make prod` does (production build, one port, PostgreSQL, Redis,
BACKEND_WORKERS=2) against the local RunPod endpoint (worker/local_endpoint.py) served in this
process, opens T tabs of the dev user as Reflex websocket clients (bench/tabs.py), and submits J
jobs through the app's API (`POST /api/runpod`). Each job is a stand-in generation of
`--job-seconds` (one step every `--step-ms`, each reported with worker.progress.report_progress
and timed here), then a real tiny MP4 and poster uploaded to the job's signed URLs. Four runs,
on one app start, differ only by what the endpoint does:

- direct reports on or off (`drop_progress_reports`: progress then only through `/status`);
- the completion webhook delivered or lost (`drop_webhooks`: the poller must repair it).

For each run it prints, over every (tab, card) pair:
- shown − reached: when the tab first showed progress p, less when the worker reached the first
  step whose percent (int(100·step/total), at most 99) is p or more;
- behind: when the tab showed a new progress, less when the worker first passed the progress it
  showed before (how long the tab lagged the worker before this update caught it up: with
  polling only, about one poll interval);
- finished → COMPLETED: when the endpoint finished the job (webhook sent or dropped) to the card
  showing COMPLETED;
- `/status` calls per job per minute of the job's life (created to finished on the endpoint).

    bash -c 'source scripts/setup.sh && python -m bench.progress'
    options: --jobs 4 --tabs 2 --job-seconds 60 --step-ms 500 --interval 5 --runs direct,direct-lost,...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import redis
from starlette.requests import Request
from starlette.responses import JSONResponse

from bench.tabs import Tab, close_tabs, open_tabs, percentile
from openv_app.services.auth import DEV_USER_ID
from openv_app.settings import LOCAL_RUNPOD_API_KEY, Settings
from tests.support.databases import BENCH_ADMIN_URL, bench_database
from tests.support.handlers import upload_tiny_video
from tests.support.processes import PROD_WORKERS, production_app
from tests.support.servers import ServerThread
from worker.local_endpoint import LocalEndpoint, LocalJob
from worker.progress import report_progress

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
SECRET = "bench-secret"
REQUEST = {"prompt": "a kestrel hovering over a field", "width": 256, "height": 144, "num_frames": 9, "fps": 8}


@dataclass(frozen=True)
class Run:
    name: str
    direct: bool  # the worker's direct progress reports reach the app
    webhook: bool  # the completion webhook is delivered


RUNS = {
    "direct": Run("direct reports, webhook", direct=True, webhook=True),
    "direct-lost": Run("direct reports, webhook lost", direct=True, webhook=False),
    "polling": Run("polling only, webhook", direct=False, webhook=True),
    "polling-lost": Run("polling only, webhook lost", direct=False, webhook=False),
}


def percent(step: int, total: int) -> int:
    """The card's progress for a step, as the app computes it (transitions.progress_percent)."""
    return min(99, int(100 * step / total))


class SteppingHandler:
    """A generation of `total` steps `step_s` apart, each reported and its wall time noted."""

    def __init__(self, total: int, step_s: float) -> None:
        self.total, self.step_s = total, step_s
        self.reached: dict[str, list[float]] = {}  # job id -> wall time of each step

    def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        times = self.reached.setdefault(job["id"], [])
        for step in range(1, self.total + 1):
            time.sleep(self.step_s)
            times.append(time.time())
            report_progress(job, {"stage": "denoising", "step": step, "total": self.total})
        return upload_tiny_video(job["input"])

    def first_at(self, job_id: str, progress: int) -> float | None:
        """When the job first reached a step whose percent is `progress` or more."""
        for step, at in enumerate(self.reached.get(job_id, []), start=1):
            if percent(step, self.total) >= progress:
                return at
        return None


class CountingEndpoint(LocalEndpoint):
    """The local endpoint, counting `/status` calls per job and noting (wall clock) when each
    job finished."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status_calls: Counter[str] = Counter()
        self.finished_at: dict[str, float] = {}

    async def status(self, request: Request) -> JSONResponse:
        self.status_calls[request.path_params["job_id"]] += 1
        return await super().status(request)

    def _finish(self, job: LocalJob, status: str, output: Any = None, error: Any = None) -> None:
        self.finished_at[job.id] = time.time()
        super()._finish(job, status, output, error)

    def jobs_of(self, video_ids: list[str]) -> dict[str, LocalJob]:
        """The job of each video (one attempt each), found by the video id in its webhook URL."""
        jobs = {}
        for job in list(self.jobs.values()):
            video_id = parse_qs(urlsplit(job.webhook or "").query).get("video_id", [""])[0]
            if video_id in video_ids:
                jobs[video_id] = job
        return jobs


@dataclass
class Measured:
    run: Run
    shown_ms: list[float] = field(default_factory=list)
    behind_ms: list[float] = field(default_factory=list)
    completed_ms: list[float] = field(default_factory=list)
    never_completed: int = 0
    status_calls: int = 0
    job_minutes: float = 0.0
    worst_shown: tuple[float, str] = (float("-inf"), "")  # the largest shown − reached, and where

    def measure(self, tab: Tab, video_id: str, job: LocalJob, handler: SteppingHandler, finished_at: float) -> None:
        shown_before = 0
        for at, progress in tab.progress_seen(video_id):
            if progress == 0:  # IN_PROGRESS before any step
                continue
            reached, passed = handler.first_at(job.id, progress), handler.first_at(job.id, shown_before + 1)
            if reached is not None and passed is not None:
                self.shown_ms.append(1000 * (at - reached))
                self.behind_ms.append(1000 * (at - passed))
                where = f"{progress}% at {reached - handler.reached[job.id][0] + handler.step_s:.1f} s into the job"
                self.worst_shown = max(self.worst_shown, (self.shown_ms[-1], where))
            shown_before = progress
        if video_id in tab.completed_at:
            self.completed_ms.append(1000 * (tab.completed_at[video_id] - finished_at))
        else:
            self.never_completed += 1


async def submit(client: httpx.AsyncClient, url: str) -> str:
    response = await client.post(f"{url}/api/runpod", json=REQUEST)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def measure_run(
    url: str, endpoint: CountingEndpoint, handler: SteppingHandler, tabs: list[Tab], args: argparse.Namespace, run: Run
) -> Measured:
    endpoint.drop_progress_reports, endpoint.drop_webhooks = not run.direct, not run.webhook
    async with httpx.AsyncClient(timeout=30) as client:
        video_ids = [await submit(client, url) for _ in range(args.jobs)]
    deadline = time.monotonic() + args.job_seconds + 2 * args.interval + 60
    while time.monotonic() < deadline and not all(v in tab.completed_at for tab in tabs for v in video_ids):
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)  # any /status call still under way
    measured = Measured(run)
    for video_id, job in endpoint.jobs_of(video_ids).items():
        for tab in tabs:
            measured.measure(tab, video_id, job, handler, endpoint.finished_at[job.id])
        measured.status_calls += endpoint.status_calls[job.id]
        measured.job_minutes += ((job.finished or time.monotonic()) - job.created) / 60
    return measured


async def measure(url: str, endpoint: CountingEndpoint, handler: SteppingHandler, args: argparse.Namespace):
    tabs, registry = await open_tabs(url, DEV_USER_ID, args.tabs, REDIS_URL)
    await asyncio.sleep(3)
    try:
        return [await measure_run(url, endpoint, handler, tabs, args, RUNS[name]) for name in args.runs]
    finally:
        await close_tabs(tabs, registry)


def spread(values: list[float], *shares: float) -> str:
    return " / ".join(f"{percentile(values, share):.0f}" for share in shares) if values else "none seen"


def report(results: list[Measured], args: argparse.Namespace, total: int) -> None:
    interval_ms = 1000 * args.interval
    with_reports = Settings(_env_file=None).poll_interval_with_reports_s
    print(
        f"{args.jobs} jobs at once of {args.job_seconds:g} s ({total} steps {args.step_ms:g} ms apart, each reported) "
        f"on the local endpoint, {args.tabs} tabs of the dev user as websocket clients; app as `make prod`: "
        f"{PROD_WORKERS} workers, Redis, PostgreSQL {BENCH_ADMIN_URL.split('@')[-1]}; "
        f"POLL_INTERVAL_S={args.interval:g}, POLL_INTERVAL_WITH_REPORTS_S={with_reports:g}; {os.cpu_count()} cores"
    )
    print()
    print(
        "| run | shown − reached, ms p50 / p95 / max | behind the worker, ms p50 / p95 / max "
        "| finished → COMPLETED, ms p50 / max | /status per job-minute |"
    )
    print("| --- | --- | --- | --- | --- |")
    for result in results:
        completed = spread(result.completed_ms, 0.5, 1.0)
        if result.never_completed:
            completed += f" ({result.never_completed} never)"
        rate = result.status_calls / result.job_minutes if result.job_minutes else 0.0
        print(
            f"| {result.run.name} | {spread(result.shown_ms, 0.5, 0.95, 1.0)} "
            f"| {spread(result.behind_ms, 0.5, 0.95, 1.0)} | {completed} | {rate:.1f} |"
        )
    print()
    for result in results:
        checks = []
        if result.run.direct and result.shown_ms:
            p95 = percentile(result.shown_ms, 0.95)
            checks.append(f"shown − reached p95 {p95:.0f} ms {'≤' if p95 <= 1000 else '>'} 1000 ms")
        if not result.run.direct and result.behind_ms:
            worst = max(result.behind_ms)
            checks.append(f"behind max {worst:.0f} ms {'≤' if worst <= interval_ms + 1000 else '>'} interval + 1 s")
        if not result.run.webhook and result.completed_ms:
            worst = max(result.completed_ms)
            checks.append(f"finished → COMPLETED max {worst:.0f} ms {'≤' if worst <= interval_ms + 1000 else '>'}")
            checks[-1] += " interval + 1 s"
        if result.shown_ms:
            checks.append(f"largest shown − reached: {result.worst_shown[1]}")
        print(f"{result.run.name}: " + "; ".join(checks))


def main() -> None:
    parser = argparse.ArgumentParser(description="Live progress latency at RunPod's cadence.")
    parser.add_argument("--jobs", type=int, default=4, help="jobs at once in each run")
    parser.add_argument("--tabs", type=int, default=2)
    parser.add_argument("--job-seconds", type=float, default=60.0)
    parser.add_argument("--step-ms", type=float, default=500.0, help="time between the worker's steps")
    parser.add_argument("--interval", type=float, default=5.0, help="POLL_INTERVAL_S")
    parser.add_argument(
        "--runs", default=",".join(RUNS), type=lambda text: text.split(","), help=f"of {', '.join(RUNS)}"
    )
    args = parser.parse_args()
    total = max(1, round(1000 * args.job_seconds / args.step_ms))
    database_url = bench_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    folder = Path(tempfile.mkdtemp(prefix="openv-progress-"))
    handler = SteppingHandler(total, args.step_ms / 1000)
    endpoint = CountingEndpoint(handler, api_key=LOCAL_RUNPOD_API_KEY, concurrency=args.jobs, webhook_retry_delay_s=0.5)
    settings = {
        "REDIS_URL": REDIS_URL,
        "BACKEND_WORKERS": str(PROD_WORKERS),
        "RUNPOD_API_KEY": "",  # the local endpoint's default key
        "LOCAL_STORAGE_DIR": str(folder / "storage"),
        "POLL_INTERVAL_S": f"{args.interval:g}",
        "MAX_CONCURRENT_JOBS": str(args.jobs),
        "DAILY_QUOTA": "100000",
    }
    with ServerThread(endpoint.app) as runpod:
        # Handlers run in the endpoint loop's default executor: room for every job at once.
        assert runpod.loop is not None
        runpod.loop.call_soon_threadsafe(runpod.loop.set_default_executor, ThreadPoolExecutor(args.jobs + 4))
        app = production_app(database_url, SECRET, folder / "app.log", RUNPOD_BASE_URL=f"{runpod.url}/v2", **settings)
        with app as url:
            results = asyncio.run(measure(url, endpoint, handler, args))
    report(results, args, total)
    print(f"logs: {folder}")


if __name__ == "__main__":
    main()
