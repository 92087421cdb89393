"""Webhook storm: the app's production backend against a bare baseline, on PostgreSQL.

For each one-way database delay (default 0 and 10 ms, i.e. 0 and 20 ms round trips, through
bench/delay_proxy.py), it seeds N in-flight videos, starts the target (the app's production
backend, one process; then bench/baseline_app.py), and fires valid webhook deliveries
(progress reports, completions and duplicate completions) with `wrk` at 64 connections, while
a probe times the target's `/ping` every 250 ms. It prints deliveries/s, p50/p99, the ratio to
the baseline and the probe's median/max.

    bash -c 'source scripts/setup.sh && python -m bench.webhooks'     # or: make bench
    options: --delays 0,10 --videos 4000 --duration 10 --connections 64
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from openv_app.db import make_sync_engine
from openv_app.models import Video
from openv_app.services.signing import webhook_token
from tests.support.databases import BENCH_ADMIN_URL, bench_database
from tests.support.factories import insert_in_flight_videos
from tests.support.processes import production_app, start, stop, wait_for
from tests.support.servers import free_port

SECRET = "bench-secret"
REPORTS = [
    '{"id":"%s","status":"IN_PROGRESS","output":{"stage":"denoising","step":1,"total":4}}',
    '{"id":"%s","status":"IN_PROGRESS","output":{"stage":"denoising","step":2,"total":4}}',
    '{"id":"%s","status":"IN_PROGRESS","output":{"stage":"encoding","step":4,"total":4}}',
    '{"id":"%s","status":"COMPLETED","output":{"video":"v","poster":"p","duration_s":1.0}}',
    '{"id":"%s","status":"COMPLETED","output":{"video":"v","poster":"p","duration_s":1.0}}',  # a duplicate
]


@dataclass
class Result:
    target: str
    delay_ms: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    probe_median_ms: float
    probe_max_ms: float


def reseed(url: str, count: int) -> list[Video]:
    engine = make_sync_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.delete(Video))
    videos = insert_in_flight_videos(engine, count)
    engine.dispose()
    return videos


def lua_script(videos: list[Video], folder: Path) -> Path:
    entries = ",\n".join(
        f'{{"/api/runpod/webhook?video_id={v.id}&token={webhook_token(SECRET, str(v.id))}", "{v.runpod_job_id}"}}'
        for v in videos
    )
    reports = ",\n".join(f"'{report}'" for report in REPORTS)
    script = folder / "webhooks.lua"
    script.write_text(f"""
local videos = {{{entries}}}
local reports = {{{reports}}}
local threads = 0
function setup(thread)
  thread:set("first", threads * 7919)
  threads = threads + 1
end
function init(args)
  counter = first
end
-- Delivery k goes to video k mod n; each pass over the videos sends the next report.
function request()
  local n = #videos
  local video = videos[(counter % n) + 1]
  local report = reports[(math.floor(counter / n) % #reports) + 1]
  counter = counter + 1
  return wrk.format("POST", video[1], {{["Content-Type"] = "application/json"}}, string.format(report, video[2]))
end
""")
    return script


class LoopProbe(threading.Thread):
    """Times GET /ping every 250 ms: how long the target's event loop keeps a request waiting."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies_ms, self.stopped = url, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stopped.is_set():
                started = time.perf_counter()
                client.get(self.url)
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                self.stopped.wait(max(0.0, 0.25 - (time.perf_counter() - started)))


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    def milliseconds(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests_per_s = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    total_errors = int(errors.group(1)) if errors else 0
    total_errors += sum(map(int, socket_errors.groups())) if socket_errors else 0
    return requests_per_s, milliseconds("50"), milliseconds("99"), total_errors


def storm(
    target: str, url: str, args: argparse.Namespace, folder: Path, delay_ms: float, videos: list[Video]
) -> Result:
    probe = LoopProbe(f"{url}/ping")
    probe.start()
    wrk = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--latency",
            "-s",
            str(lua_script(videos, folder)),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    probe.stopped.set()
    probe.join()
    (folder / f"wrk-{target}-{delay_ms:g}ms.txt").write_text(wrk.stdout)
    requests_per_s, p50, p99, errors = parse_wrk(wrk.stdout)
    return Result(
        target,
        delay_ms,
        requests_per_s,
        p50,
        p99,
        errors,
        statistics.median(probe.latencies_ms),
        max(probe.latencies_ms),
    )


def run_app(database_url: str, args: argparse.Namespace, folder: Path, delay_ms: float) -> Result:
    log = folder / f"app-{delay_ms:g}ms.log"
    with production_app(database_url, SECRET, log, backend_only=True, timeout=180, POLL_INTERVAL_S="3600") as url:
        videos = reseed(args.direct_url, args.videos)  # after start-up, so its first poller sweep finds none
        return storm("app", url, args, folder, delay_ms, videos)


def run_baseline(database_url: str, args: argparse.Namespace, folder: Path, delay_ms: float) -> Result:
    port = free_port()
    videos = reseed(args.direct_url, args.videos)
    process = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--http",
            "h11",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "bench.baseline_app:app",
        ],
        {"DATABASE_URL": database_url, "WEBHOOK_SECRET": SECRET},
        folder / f"baseline-{delay_ms:g}ms.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/ping", process)
        return storm("baseline", url, args, folder, delay_ms, videos)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description="Webhook storm: the app against a bare baseline.")
    parser.add_argument("--delays", default="0,10", help="one-way database delays in ms, comma-separated")
    parser.add_argument("--videos", type=int, default=4000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    args.direct_url = bench_database()
    folder = Path(tempfile.mkdtemp(prefix="openv-bench-"))
    results: list[Result] = []
    for delay_ms in (float(delay) for delay in args.delays.split(",")):
        proxy = None
        database_url = args.direct_url
        if delay_ms > 0:
            port = free_port()
            proxy = start(
                [
                    sys.executable,
                    "-m",
                    "tests.support.delay_proxy",
                    "--port",
                    str(port),
                    "--delay-ms",
                    str(delay_ms),
                    "--target",
                    f"{sa.make_url(BENCH_ADMIN_URL).host}:{sa.make_url(BENCH_ADMIN_URL).port or 5432}",
                ],
                {},
                folder / f"proxy-{delay_ms:g}ms.log",
            )
            database_url = sa.make_url(args.direct_url).set(port=port).render_as_string(hide_password=False)
            time.sleep(1)
        try:
            for run in (run_app, run_baseline):
                results.append(run(database_url, args, folder, delay_ms))
                print(results[-1], flush=True)
        finally:
            if proxy:
                stop(proxy)
    print_table(results, args)
    print(f"\nlogs and wrk output: {folder}")


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\n{args.videos} in-flight videos, {args.connections} connections, {args.duration} s per run, "
        f"{os.cpu_count()} cores; one app process (Reflex prod backend: gunicorn, one uvicorn worker) vs bench/baseline_app.py\n"
    )
    print(
        "| DB round trip | target | deliveries/s | p50 ms | p99 ms | errors | vs baseline | /ping median ms | /ping max ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    baselines = {r.delay_ms: r for r in results if r.target == "baseline"}
    for r in results:
        ratio = r.requests_per_s / baselines[r.delay_ms].requests_per_s if r.delay_ms in baselines else float("nan")
        print(
            f"| {2 * r.delay_ms:g} ms | {r.target} | {r.requests_per_s:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.errors} | {ratio:.2f}× | {r.probe_median_ms:.1f} | {r.probe_max_ms:.1f} |"
        )


if __name__ == "__main__":
    main()
