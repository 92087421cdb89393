"""Memory that closed tabs leave behind goes back to the operating system.

A backend worker's memory sits in three allocators, and none gives freed memory back by itself:
- Python's own small-object allocator keeps 1 MiB arenas as long as one object in them lives, so
  a thousand expired tab states scattered among long-lived objects keep most of their arenas:
  the app's scripts run Python with `PYTHONMALLOC=malloc`, which puts those objects in glibc's heap;
- glibc's malloc keeps what is freed for reuse unless it is asked to trim (done here, on a timer);
- Granian's Rust side (websocket and HTTP buffers) allocates with jemalloc, which returns freed
  pages only after its decay time and only when it next allocates, so a quiet worker keeps them.
And some of it is not freed at all until Python's cycle collector runs: a closed connection
leaves python-engineio's handler frame in a reference cycle with its two tasks, and a full
collection comes only after enough new objects, which a quiet worker does not make.
Measured (bench/tab_memory.py): of 1,000 closed tabs' memory, 180 s later, one process held 50 %
before, 36 % with the trim and jemalloc's setting, 7–8 % with `PYTHONMALLOC=malloc` too; two
workers with Redis held 97 % before, 28–30 % with all of that, 21 % once their Redis clients
were capped (README, Tab memory).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

# Read by the jemalloc that the Granian wheels link in (tikv-jemallocator prefixes its names with
# `_rjem_`): pages go back as soon as they are free.
GRANIAN_JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"
TRIM_INTERVAL_S = 30.0
# Less newly freed memory than this is left for malloc to reuse: a trim walks the whole heap.
TRIM_THRESHOLD_BYTES = 8 * 2**20
# A full collection walks every object: after this many closed connections, or after a while.
COLLECT_AFTER_CLOSED = 100
COLLECT_AT_LEAST_EVERY_S = 600.0


def configure_granian_allocator() -> None:
    """Must run before Granian's extension is loaded: jemalloc reads it once, at start-up."""
    os.environ.setdefault("_RJEM_MALLOC_CONF", GRANIAN_JEMALLOC_CONF)


def cap_reflex_redis_connections(limit: int) -> None:
    """Reflex's Redis client opens a connection for each concurrent state operation and keeps
    every one: 1,000 tabs opened at once left 893 connections across two workers for as long as
    they lived (capped: 193, and 23 MB less memory held once the tabs had gone). Reflex's own
    setting makes it a blocking pool (operations wait for a free connection); an operator's
    REFLEX_REDIS_MAX_CONNECTIONS wins."""
    os.environ.setdefault("REFLEX_REDIS_MAX_CONNECTIONS", str(limit))


MALLINFO2_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2_FIELDS]


class GlibcHeap:
    """glibc's `mallinfo2` and `malloc_trim`, which no Python library wraps."""

    def __init__(self, libc: ctypes.CDLL) -> None:
        self._mallinfo2 = libc.mallinfo2
        self._mallinfo2.restype = _MallInfo2
        self._malloc_trim = libc.malloc_trim
        self._malloc_trim.argtypes = [ctypes.c_size_t]

    @classmethod
    def load(cls) -> GlibcHeap | None:
        """None where the C library is not glibc 2.33 or newer (musl, macOS)."""
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        libc = ctypes.CDLL(name)
        if not (hasattr(libc, "mallinfo2") and hasattr(libc, "malloc_trim")):
            return None
        return cls(libc)

    def free_bytes(self) -> int:
        """Free bytes in the heap, returned to the system or not (a trim does not lower it)."""
        return int(self._mallinfo2().fordblks)

    def in_use_bytes(self) -> int:
        """What is allocated and not freed: in the heap, and in chunks large enough to be mapped
        on their own."""
        info = self._mallinfo2()
        return int(info.uordblks + info.hblkhd)

    def trim(self) -> None:
        self._malloc_trim(0)


class HeapTrimmer:
    """Trims once at least `threshold_bytes` have been freed since the last trim. Free bytes do
    not drop when a trim returns their pages, so they are counted from the lowest level seen
    since (memory reused by new tabs is not freed memory)."""

    def __init__(self, heap: GlibcHeap, threshold_bytes: int = TRIM_THRESHOLD_BYTES) -> None:
        self.heap, self.threshold_bytes = heap, threshold_bytes
        self._free_since_trim = heap.free_bytes()

    def trim_if_freed(self) -> bool:
        free = self.heap.free_bytes()
        self._free_since_trim = min(self._free_since_trim, free)
        if free - self._free_since_trim < self.threshold_bytes:
            return False
        self.heap.trim()
        log.debug("returned up to %d MB of freed memory", (free - self._free_since_trim) >> 20)
        self._free_since_trim = free
        return True


class ClosedConnectionCollector:
    """Runs a full collection once enough connections have closed since the last one (or some
    have and it has been a while): the cycles they left behind are freed, and then trimmed."""

    def __init__(self, open_connections: Callable[[], Iterable[str]]) -> None:
        self.open_connections = open_connections
        self._open = set(open_connections())
        self._closed = 0
        self._collected_at = time.monotonic()

    def collect_if_closed(self) -> bool:
        now_open = set(self.open_connections())
        self._closed += len(self._open - now_open)
        self._open = now_open
        overdue = time.monotonic() - self._collected_at >= COLLECT_AT_LEAST_EVERY_S
        if self._closed < COLLECT_AFTER_CLOSED and not (self._closed and overdue):
            return False
        started = time.perf_counter()
        found = gc.collect()
        log.debug(
            "collected %d objects after %d closed connections in %.0f ms",
            found,
            self._closed,
            1000 * (time.perf_counter() - started),
        )
        self._closed, self._collected_at = 0, time.monotonic()
        return True


def freeze_start_up_objects() -> None:
    """What the worker built to start (modules, the app's pages and state classes) lives as long
    as the worker: moved out of the collector's reach, so that a full collection, ours or
    CPython's, walks only what tabs have made since."""
    gc.collect()  # what start-up left as garbage is freed first, not kept for good
    gc.freeze()
    log.debug("%d start-up objects out of the collector's reach", gc.get_freeze_count())


async def return_freed_memory_periodically(
    open_connections: Callable[[], Iterable[str]], report_heap_in_use: Callable[[int], None]
) -> None:
    """A lifespan task: tabs close and their states expire one by one, so it looks on a timer.
    `open_connections` gives the ids of the worker's open websockets; `report_heap_in_use` gets
    glibc's bytes in use at start and after each look (the operator's split of the worker's RSS:
    Python's objects and C libraries' buffers there, Granian's outside it)."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        log.info("PYTHONMALLOC is not 'malloc': memory of closed tabs stays in Python's arenas (README, Tab memory)")
    freeze_start_up_objects()
    collector = ClosedConnectionCollector(open_connections)
    heap = GlibcHeap.load()
    trimmer = HeapTrimmer(heap) if heap else None
    while True:
        if heap:
            report_heap_in_use(heap.in_use_bytes())
        await asyncio.sleep(TRIM_INTERVAL_S)
        collector.collect_if_closed()
        if trimmer:
            trimmer.trim_if_freed()
