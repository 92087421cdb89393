"""What an open tab costs the backend, and what is left once closed tabs' states expire.

Starts the app as `make prod` does (production build, one port, PostgreSQL; with `--redis`,
Redis and 2 backend workers), seeds a library of 24 finished videos for the dev user, then:

1. opens the studio once in Chromium and records what its websocket sends (the hydrate event in
   the socket.io CONNECT packet, then the events of the first load: the library's among them);
2. replays that, token swapped, from N Reflex websocket clients (python-socketio): each is a tab
   whose state is hydrated and whose library is loaded, as a browser's is, without N renderers;
3. opens 100 tabs and closes them, and once their states have expired takes the baseline: what
   the first tabs pay once (pools filled, modules imported on first use) is not tab memory, and a
   worker that kept growing would show it in the next round;
4. reads the backend workers' memory (RSS; of it, their malloc heaps in use from `/metrics`, where
   Python's objects live) and, with Redis, Redis' `used_memory` then, at 100
   and at 1,000 tabs (once the workers have trimmed their heaps); closes every tab, waits for the
   states to expire (TAB_STATE_TTL_S, 120 s here) and 60 s more, and reads the memory again;
5. does that again (`--rounds`, 2 by default): what a first round of 1,000 tabs leaves behind may
   be a high-water mark (pools at their caps, pages that its few survivors keep, which the next
   round's tabs fill again) or growth, and only a second round tells which.

    bash -c 'source scripts/setup.sh && python -m bench.tab_memory'           # one process
    bash -c 'source scripts/setup.sh && python -m bench.tab_memory --redis'   # Redis, 2 workers
    bash -c 'source scripts/setup.sh && python -m bench.tab_memory --redis --bare'   # websockets alone
    bash -c 'source scripts/setup.sh && python -m bench.tab_memory --redis --rounds 1 --log /tmp/app.log'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import redis
import socketio

from openv_app.db import make_sync_engine
from openv_app.memory import TRIM_INTERVAL_S
from tests.support.browser import WebsocketRecording, launch_chromium, record_websockets
from tests.support.databases import bench_database
from tests.support.factories import insert_videos, video_row
from tests.support.metrics import scrape, total
from tests.support.processes import PROD_METRICS_TOKEN, backend_workers, production_app

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
STATE_TTL_S = 120
LIBRARY = 24
NAMESPACE = "/_event"
# Read once a trim has run (openv_app/memory.py): what the open tabs hold, not the garbage of
# opening them all at once.
SETTLE_S = TRIM_INTERVAL_S + 5
WARM_UP_TABS = 100
# What Chromium asks for (Sec-WebSocket-Extensions), and what aiohttp's client offers with `compress=15`.
CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits"


class Row(NamedTuple):
    label: str
    rss: float  # MB, all backend workers
    heap: float  # MB in use in their malloc heaps
    redis: float | None  # MB, Redis' used_memory
    tabs: int  # open tabs, or 0


def seed_library(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    rows = [
        video_row(
            user_id="dev-user",
            prompt=f"a finished video number {index} with a prompt of ordinary length for a card",
            status="COMPLETED",
            progress=100,
            runpod_job_id=f"job-{uuid.uuid4()}",
            video_path=f"dev-user/{index}/video.mp4",
            poster_path=f"dev-user/{index}/poster.jpg",
            duration_s=2.0,
        )
        for index in range(LIBRARY)
    ]
    insert_videos(engine, rows)
    engine.dispose()


def open_studio(url: str) -> tuple[str, WebsocketRecording]:
    """Opens the studio in Chromium until its library has loaded: its token and what its
    websocket said."""
    with launch_chromium() as browser:
        page = browser.new_page()
        recording = record_websockets(page)
        page.goto(url)
        page.wait_for_selector(".video-card")
        page.wait_for_timeout(2000)
        token = page.evaluate("() => window.sessionStorage.getItem('token')")
    return token, recording


def record_first_load(url: str) -> tuple[str, dict[str, Any], list[Any]]:
    """The studio's token, its socket.io CONNECT auth and the events it sent while loading.
    Checks that Chromium offers the websocket extension the replayed tabs offer, and prints what
    the server agreed to: a compressor kept per tab is backend memory too (openv_app/server.py)."""
    token, recording = open_studio(url)
    assert recording.offered[:1] == [CHROMIUM_OFFER], (
        f"Chromium offered {recording.offered}, the tabs {CHROMIUM_OFFER!r}"
    )
    print(f"websocket extensions: Chromium offered {CHROMIUM_OFFER!r}; the server agreed to {recording.agreed[0]!r}")
    auth: dict[str, Any] = {}
    events: list[Any] = []
    for frame in recording.sent:
        if frame.startswith(f"40{NAMESPACE},"):
            auth = json.loads(frame.removeprefix(f"40{NAMESPACE},"))
        elif frame.startswith(f"42{NAMESPACE},"):
            name, payload = json.loads(frame.removeprefix(f"42{NAMESPACE},"))
            if name == "event":
                events.append(payload)
    assert auth, f"no CONNECT packet among {len(recording.sent)} frames"
    return token, auth, events


class ReplayedTab:
    """A websocket client that loads the studio as the recorded tab did, under its own token."""

    def __init__(self, url: str, token: str, auth: dict[str, Any], events: list[Any]) -> None:
        self.url, self.token = url, str(uuid.uuid4())
        swap = lambda value: json.loads(json.dumps(value).replace(token, self.token))  # noqa: E731
        self.auth, self.events = swap(auth), swap(events)
        # `compress=15` makes aiohttp offer CHROMIUM_OFFER: what the server agrees to then is
        # what a browser's tab gets.
        self.client = socketio.AsyncClient(reconnection=False, websocket_extra_options={"compress": 15})
        self.library_loaded = asyncio.Event()
        self.client.on("event", self._on_update, namespace=NAMESPACE)

    async def _on_update(self, update: dict[str, Any]) -> None:
        for substate in (update.get("delta") or {}).values():
            if any(name.startswith("videos") and value for name, value in substate.items()):
                self.library_loaded.set()

    async def open(self) -> None:
        await self.client.connect(
            f"{self.url}?token={self.token}",
            socketio_path="_event",
            transports=["websocket"],
            namespaces=[NAMESPACE],
            auth=self.auth,
            wait_timeout=30,
        )
        for event in self.events:
            await self.client.emit("event", event, namespace=NAMESPACE)
        if self.events:
            await asyncio.wait_for(self.library_loaded.wait(), timeout=60)


def backend_rss_mb(port: int) -> float:
    return sum(process.memory_info().rss for process in backend_workers(port)) / 2**20


def heap_in_use_mb(url: str) -> float:
    """The workers' malloc heaps (jemalloc's or glibc's) (`openv_heap_in_use_bytes`, sampled every 30 s): Python's objects
    and C libraries' buffers, the websockets' among them."""
    return total(scrape(url), "openv_heap_in_use_bytes") / 2**20


def redis_used_mb(client: redis.Redis | None) -> float | None:
    return client.info("memory")["used_memory"] / 2**20 if client else None


async def open_tabs(tabs: list[ReplayedTab], at_once: int = 50) -> None:
    for start in range(0, len(tabs), at_once):
        await asyncio.gather(*(tab.open() for tab in tabs[start : start + at_once]))


async def open_and_close(url: str, token: str, auth: dict[str, Any], events: list[Any], count: int) -> None:
    """A first round of tabs, gone before the baseline: what the first ones pay once (database and
    Redis pools filled, modules imported on first use) is not what a tab holds."""
    tabs = [ReplayedTab(url, token, auth, events) for _ in range(count)]
    await open_tabs(tabs)
    await asyncio.gather(*(tab.client.disconnect() for tab in tabs))
    await asyncio.sleep(STATE_TTL_S + 60)


async def measure(
    url: str, token: str, auth: dict[str, Any], events: list[Any], use_redis: bool, rounds: int
) -> list[Row]:
    port = urlsplit(url).port
    assert port is not None
    store = redis.Redis.from_url(REDIS_URL) if use_redis else None

    def row(label: str, tabs: int = 0) -> Row:
        return Row(label, backend_rss_mb(port), heap_in_use_mb(url), redis_used_mb(store), tabs)

    rows = [row("cold start")]
    await open_and_close(url, token, auth, events, WARM_UP_TABS)
    rows.append(row(f"after {WARM_UP_TABS} tabs came and went"))
    for round_number in range(1, rounds + 1):
        tabs: list[ReplayedTab] = []
        for count in (100, 1000):
            batch = [ReplayedTab(url, token, auth, events) for _ in range(count - len(tabs))]
            await open_tabs(batch)
            tabs += batch
            await asyncio.sleep(SETTLE_S)
            rows.append(row(f"round {round_number}: {count} tabs", count))
        await asyncio.gather(*(tab.client.disconnect() for tab in tabs))
        closed = time.monotonic()
        await asyncio.sleep(STATE_TTL_S + 60)
        rows.append(row(f"round {round_number}: {time.monotonic() - closed:.0f} s after closing"))
    return rows


def per_tab(value_mb: float, base_mb: float, tabs: int) -> str:
    return f"{(value_mb - base_mb) * 1024 / tabs:.0f}" if tabs else ""


def report(rows: list[Row]) -> None:
    """Each round counted from the worker as the round found it (the warmed-up worker for the
    first, the last round's end for the next): per tab at 100 and 1,000 tabs, and what is still
    held once the round's states have expired. The cold start is shown so that what the first
    tabs pay once stays visible."""
    print(f"{'':<36}{'RSS MB':>8}{'KB/tab':>8}{'of it heap MB':>15}{'KB/tab':>8}{'Redis MB':>10}{'KB/tab':>8}")
    base = rows[1]
    for index, current in enumerate(rows):
        rss_kb, heap_kb = per_tab(current.rss, base.rss, current.tabs), per_tab(current.heap, base.heap, current.tabs)
        redis_cells = ""
        if current.redis is not None:
            redis_cells = f"{current.redis:>10.1f}{per_tab(current.redis, base.redis or 0, current.tabs):>8}"
        print(f"{current.label:<36}{current.rss:>8.1f}{rss_kb:>8}{current.heap:>15.1f}{heap_kb:>8}{redis_cells}")
        if index > 1 and not current.tabs:  # a round's end: its tabs closed, their states expired
            peak = rows[index - 1]
            held = (current.rss - base.rss) / max(peak.rss - base.rss, 1e-9)
            print(
                f"{'':<4}held: {100 * held:.0f} % of the round's {peak.tabs:,} tabs ({current.rss - base.rss:.1f} MB)"
            )
            base = current
    warmed, last = rows[1], rows[-1]
    print(f"kept once by the first {WARM_UP_TABS} tabs (cold start to warmed up): {warmed.rss - rows[0].rss:.1f} MB")
    print(f"grown over all rounds (warmed up to the end): {last.rss - warmed.rss:.1f} MB")


def slow_lock_warnings(log: Path) -> int:
    """How often a worker was slow enough under the bursts (this host's cores run the tabs'
    clients too) that Reflex warned of a state lock held too long: each warning is rendered by
    rich, whose caches then keep its text, so a run with many holds more after its burst."""
    return log.read_text(errors="replace").count("held too long")


def main() -> None:
    parser = argparse.ArgumentParser(description="Backend memory per open tab.")
    parser.add_argument("--redis", action="store_true", help="Redis and 2 backend workers")
    parser.add_argument("--bare", action="store_true", help="open websockets that load nothing")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of 1,000 tabs: a second tells a high-water mark from growth"
    )
    parser.add_argument("--log", type=Path, help="keep the app's log here (what it logged during the bursts)")
    args = parser.parse_args()
    database_url = bench_database()
    seed_library(database_url)
    settings = {"TAB_STATE_TTL_S": str(STATE_TTL_S), "METRICS_TOKEN": PROD_METRICS_TOKEN}
    if args.redis:
        redis.Redis.from_url(REDIS_URL).flushdb()
        settings |= {"REDIS_URL": REDIS_URL, "BACKEND_WORKERS": "2"}
    with tempfile.TemporaryDirectory() as folder:
        log = args.log or Path(folder) / "reflex.log"
        settings["PROMETHEUS_MULTIPROC_DIR"] = str(Path(folder) / "metrics")  # any worker reports all
        with production_app(database_url, "bench-secret", log, LOCAL_STORAGE_DIR=folder, **settings) as url:
            token, auth, events = record_first_load(url)
            if args.bare:  # websockets only: no hydrate, no state
                auth, events = {}, []
            print(f"recorded the studio's first load: hydrate + {len(events)} events")
            report(asyncio.run(measure(url, token, auth, events, args.redis, args.rounds)))
        print(f"Reflex's 'lock held too long' warnings in the app's log: {slow_lock_warnings(log)}")


if __name__ == "__main__":
    main()
