"""Prometheus metrics: what each app process counts and times, and `/metrics`' exposition.

Several backend workers (gunicorn, `BACKEND_WORKERS`) serve one port, so a scrape reaches one of
them at random. prometheus-client's multiprocess mode makes any of them answer for all: with
`PROMETHEUS_MULTIPROC_DIR` set (scripts/prod.sh creates and empties it at each start), every
process writes its counters, histograms and gauges to memory-mapped files there, and the process
that serves the scrape merges the files. (The alternative, a `worker` label per process, would
need a port per worker for Prometheus to reach each one; gunicorn gives them one port.) Without
the variable (`make run`, one process) the metrics live in memory.

- Counters and histograms are summed over the processes, dead ones included, so totals never
  go backwards when a worker is replaced.
- Per-process gauges (open tabs, database pool) are `liveall`: one series per live process
  (`pid` label); a process's series go when it stops (`forget_process`) or, after a crash, at
  the next scrape (`forget_dead_processes`). They are made when a worker first sets them, so
  the supervisor, which imports the app before forking the workers, has none.
- What the database says (jobs by status, in flight, poll lag) is read once per scrape by the
  process that serves it (`DatabaseGauges`), so it is reported once, not once per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType

import sqlalchemy as sa
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Metric
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from openv_app.db import get_engine

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# How often each process writes its pool use to its gauges.
SAMPLE_INTERVAL_S = 2.0


def multiprocess_dir() -> str | None:
    """prometheus-client reads this variable itself, from the environment, when it is imported;
    the app reads the same one from the same place (a value only in .env would reach the
    settings but not the library, which would then keep its values in memory)."""
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


if directory := multiprocess_dir():
    os.makedirs(directory, exist_ok=True)  # the metrics below write their files there at once

# --- what is counted and timed ------------------------------------------------------------------

# Route templates only (`/api/videos/{video_id}`), never raw paths: the label values are bounded
# by the app's routes. "unmatched" is any /api path no route matched.
UNMATCHED_ROUTE = "unmatched"
HTTP_REQUESTS = Counter(
    "openv_http_requests", "API requests answered, by route template and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "openv_http_request_duration_seconds",
    "Time from an API request until its response headers were sent (streamed bodies are not timed)",
    ["method", "route"],
)
REPORT_LATENCY = Histogram(
    "openv_report_handling_seconds",
    "Handling time of RunPod's webhooks and the worker's progress reports, by outcome",
    ["source", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
RUNPOD_REQUESTS = Counter(
    "openv_runpod_requests",
    "HTTP requests to RunPod's API (each retry counts), by endpoint, operation and outcome",
    ["endpoint", "operation", "outcome"],
)
RUNPOD_LATENCY = Histogram(
    "openv_runpod_request_duration_seconds",
    "Time RunPod's API took to answer (or to fail)",
    ["endpoint", "operation"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TAB_PUSHES = Counter("openv_tab_pushes", "State updates pushed to open tabs (each carries one or more changes)")


def observe_request(method: str, route: str, status: int) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()


def observe_request_latency(method: str, route: str, seconds: float) -> None:
    HTTP_LATENCY.labels(method, route).observe(seconds)


def runpod_outcome(status_code: int | None) -> str:
    """A bounded name for how a RunPod request ended (None: no answer came)."""
    if status_code is None:
        return "network_error"
    if status_code < 400:
        return "ok"
    if status_code in (404, 429):
        return "not_found" if status_code == 404 else "rate_limited"
    return "client_error" if status_code < 500 else "server_error"


def observe_runpod_request(endpoint: str, operation: str, status_code: int | None, seconds: float) -> None:
    RUNPOD_REQUESTS.labels(endpoint, operation, runpod_outcome(status_code)).inc()
    RUNPOD_LATENCY.labels(endpoint, operation).observe(seconds)


class ReportTimer:
    """Times the handling of one report (`source`: webhook or progress). The outcome is
    `rejected` when handling raised (bad token, body or job), else `changed` or `unchanged`
    as the handler set `changed`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.changed = False
        self._started = 0.0

    def __enter__(self) -> ReportTimer:
        self._started = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        outcome = "rejected" if kind is not None else "changed" if self.changed else "unchanged"
        REPORT_LATENCY.labels(self.source, outcome).observe(time.perf_counter() - self._started)


# --- per-process gauges -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessGauges:
    open_tabs: Gauge
    pool_checked_out: Gauge
    pool_size: Gauge
    heap_in_use: Gauge


@lru_cache
def process_gauges() -> ProcessGauges:
    """Made on first use, in the worker that sets them (see the module's doc)."""
    return ProcessGauges(
        open_tabs=Gauge("openv_open_tabs", "Tabs whose websocket this process holds", multiprocess_mode="liveall"),
        pool_checked_out=Gauge(
            "openv_db_pool_checked_out",
            "Database connections this process's pool has handed out",
            multiprocess_mode="liveall",
        ),
        pool_size=Gauge(
            "openv_db_pool_size",
            "Connections this process's pool keeps (up to DATABASE_MAX_OVERFLOW more are opened when all are out)",
            multiprocess_mode="liveall",
        ),
        heap_in_use=Gauge(
            "openv_heap_in_use_bytes",
            "Bytes in use in this process's malloc heap (jemalloc's or glibc's): Python's objects (PYTHONMALLOC=malloc) and C "
            "libraries' buffers (sampled every 30 s)",
            multiprocess_mode="liveall",
        ),
    )


def observe_open_tabs(count: int) -> None:
    process_gauges().open_tabs.set(count)


def observe_heap_in_use(size: int) -> None:
    process_gauges().heap_in_use.set(size)


def observe_pool(pool: sa.Pool) -> None:
    if isinstance(pool, sa.QueuePool):  # the async engines' pools; SQLite in memory has none to watch
        process_gauges().pool_checked_out.set(pool.checkedout())
        process_gauges().pool_size.set(pool.size())


@contextlib.asynccontextmanager
async def process_metrics() -> AsyncIterator[None]:
    """A lifespan task of every app process: writes its pool use every SAMPLE_INTERVAL_S, and
    at shutdown takes its live gauges out of the multiprocess files."""

    async def sample_pool() -> None:
        while True:
            observe_pool(get_engine().pool)
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    sampler = asyncio.create_task(sample_pool())
    try:
        yield
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        if directory := multiprocess_dir():
            mark_process_dead(os.getpid(), directory)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def forget_dead_processes(directory: str) -> None:
    """Live gauges of processes that ended without `process_metrics`' shutdown (a killed worker)."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = os.path.basename(path).removesuffix(".db").rsplit("_", 1)[-1]
        if pid.isdigit() and not is_running(int(pid)):
            with contextlib.suppress(FileNotFoundError):  # another worker's scrape got there first
                mark_process_dead(int(pid), directory)


# --- what the database says, and the exposition ---------------------------------------------------


@dataclass(frozen=True)
class JobStats:
    """Read from the database for a scrape (`services/stats.py`)."""

    by_status: dict[str, int]
    in_flight: int
    poll_lag_s: float


class DatabaseGauges:
    """The job gauges of one scrape: read (async) before the exposition is built, then
    reported by the one process that serves the scrape."""

    def __init__(self, stats: JobStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("openv_jobs", "Videos by status (every row, deleted ones too)", labels=["status"])
        for status, count in sorted(self.stats.by_status.items()):
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "openv_jobs_in_flight", "Jobs queued on RunPod or running, which the poller follows", self.stats.in_flight
        )
        yield GaugeMetricFamily(
            "openv_poll_lag_seconds",
            "How long the most overdue job in flight has been waiting for its next /status poll",
            self.stats.poll_lag_s,
        )


class Scrape:
    """Everything one scrape reports: every process's metrics (or this one's) and the database's."""

    def __init__(self, stats: JobStats) -> None:
        self.database = DatabaseGauges(stats)

    def collect(self) -> Iterator[Metric]:
        if directory := multiprocess_dir():
            forget_dead_processes(directory)
            yield from MultiProcessCollector(None, directory).collect()
        else:
            yield from REGISTRY.collect()
        yield from self.database.collect()


def exposition(stats: JobStats, accept: str | None) -> tuple[bytes, str]:
    """The body and its content type in the format the scraper accepts (Prometheus' text
    format unless it asks for OpenMetrics); reads files in multiprocess mode: run it in a thread."""
    encode, content_type = choose_encoder(accept or "")
    return encode(Scrape(stats)), content_type
