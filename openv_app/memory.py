"""Memory that closed tabs leave behind goes back to the operating system.

A backend worker's memory sits in two allocators, and neither gives freed memory back by itself:
- Python's own small-object allocator keeps 1 MiB arenas as long as one object in them lives, so
  a thousand expired tab states scattered among long-lived objects keep most of their arenas:
  the app's scripts run Python with `PYTHONMALLOC=malloc`, which puts those objects in malloc's heap;
- malloc keeps what is freed for reuse: glibc's until it is asked to trim (done here, on a timer),
  and it can only return pages with nothing alive on them, which a heap fragmented around the
  survivors has few of; jemalloc (preloaded where the system has it) returns free pages at once.
And some of it is not freed at all until Python's cycle collector runs: a closed connection
leaves python-engineio's handler frame in a reference cycle with its two tasks, and a full
collection comes only after enough new objects, which a quiet worker does not make.
Measured (bench/tab_memory.py, README, Tab memory): of 1,000 closed tabs' memory, 180 s after
closing, one process held 50 % before any of this; now, on jemalloc with one-page slabs, and with
what CPython keeps for reuse (its free lists, asyncio's future iterators, its type cache's names)
and the connections the pools opened during the burst let go once the heap settles, 7 % (one
process) and 5–8 % (two workers with Redis) after a first burst: pages that its few survivors
keep and jemalloc's records of the burst's pages, which the next bursts reuse.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from openv_app.interpreter_caches import empty_free_lists

log = logging.getLogger(__name__)

TRIM_INTERVAL_S = 30.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# Less newly freed memory than this is left for malloc to reuse: a trim walks the whole heap.
TRIM_THRESHOLD_BYTES = 8 * 2**20
# A full collection walks every object made since start: after this many closed connections, and
# at least this often whatever closed. The second rule is what frees a quiet worker's few closed
# tabs within minutes, as expired states are, and the tabs that opened and closed between two
# looks, which the count never sees (the tab bench's 100 warm-up tabs: their garbage, 6–8 MB,
# waited for CPython's own full collection, which came before the baseline in some runs only).
COLLECT_AFTER_CLOSED = 100
COLLECT_AT_LEAST_EVERY_S = 120.0


# For the jemalloc that the backend's processes run on (`preload_jemalloc`): pages go back to the
# system as soon as they are free, not after jemalloc's default 10 s decay; and objects up to
# 1 KiB come from one-page slabs, not jemalloc's default of up to 7 pages (48-byte objects: 3, 80:
# 5, 112: 7): one object that outlives a burst of tabs then keeps one page, not up to seven.
# jemalloc older than 5.2 ignores `slab_sizes` with a warning. (One arena and no thread caches
# held about as much as the defaults: README, Tab memory.)
JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0,slab_sizes:1-1024:1"


def preload_jemalloc() -> None:
    """Runs the processes started from here (gunicorn's arbiter and workers) on jemalloc where
    the system has it (Debian: libjemalloc2): on glibc's malloc, two workers with Redis kept 62 %
    of the memory of 1,000 closed tabs (their heaps fragmented around the survivors, so a trim
    returns little); on jemalloc, 16 % (README, Tab memory). An operator's own LD_PRELOAD and
    MALLOC_CONF win. Must run before the backend starts (rxconfig.py)."""
    name = ctypes.util.find_library("jemalloc")
    if name is None or "LD_PRELOAD" in os.environ:
        return
    os.environ["LD_PRELOAD"] = name
    os.environ.setdefault("MALLOC_CONF", JEMALLOC_CONF)


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

    def in_use_bytes(self) -> int:
        """What is allocated and not freed: in the heap, and in chunks large enough to be mapped
        on their own."""
        info = self._mallinfo2()
        return int(info.uordblks + info.hblkhd)

    def trim(self) -> None:
        self._malloc_trim(0)


# jemalloc's `MALLCTL_ARENAS_ALL`: the index that names every arena at once.
ALL_ARENAS = 4096


class Jemalloc:
    """jemalloc's counters and purge through `mallctl`, where jemalloc is this process's malloc
    (`preload_jemalloc`); it exports `mallctl` under that name only then."""

    def __init__(self, mallctl: Callable[..., int]) -> None:
        self._mallctl = mallctl

    @classmethod
    def load(cls) -> Jemalloc | None:
        mallctl = getattr(ctypes.CDLL(None), "mallctl", None)
        return cls(mallctl) if mallctl is not None else None

    def in_use_bytes(self) -> int:
        """Bytes allocated and not freed; jemalloc's counters are a snapshot taken when the
        epoch is advanced."""
        epoch = ctypes.c_uint64(1)
        self._mallctl(b"epoch", None, None, ctypes.byref(epoch), ctypes.sizeof(epoch))
        allocated = ctypes.c_size_t()
        size = ctypes.c_size_t(ctypes.sizeof(allocated))
        self._mallctl(b"stats.allocated", ctypes.byref(allocated), ctypes.byref(size), None, 0)
        return allocated.value

    def trim(self) -> None:
        self._mallctl(f"arena.{ALL_ARENAS}.purge".encode(), None, None, None, 0)


class Heap(Protocol):
    def in_use_bytes(self) -> int: ...

    def trim(self) -> None: ...


def load_heap() -> Heap | None:
    """The process's malloc: jemalloc where it was preloaded, else glibc's; None on neither."""
    return Jemalloc.load() or GlibcHeap.load()


def resident_bytes() -> int:
    """The process's resident memory (Linux's /proc/self/statm: a read, no walk of the heap)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class HeapTrimmer:
    """Trims once the memory resident but not in use (RSS minus the heap in use) has grown by
    `threshold_bytes` since the last trim. It grows when tabs free memory, and again after a
    trim: a trim returns only the pages free at that moment, and a worker's own background
    work, allocating and freeing all over a fragmented heap, touches free pages again (measured:
    14-42 MB back within a minute after the states of 1,000 tabs had expired and been trimmed).
    Memory that new tabs reuse lowers the level counted from."""

    def __init__(
        self,
        heap: Heap,
        threshold_bytes: int = TRIM_THRESHOLD_BYTES,
        resident: Callable[[], int] = resident_bytes,
    ) -> None:
        self.heap, self.threshold_bytes, self.resident = heap, threshold_bytes, resident
        self._unused_after_trim = self._resident_unused()

    def _resident_unused(self) -> int:
        return self.resident() - self.heap.in_use_bytes()

    def trim_if_freed(self) -> bool:
        unused = self._resident_unused()
        if unused - self._unused_after_trim < self.threshold_bytes:
            self._unused_after_trim = min(self._unused_after_trim, unused)
            return False
        self.heap.trim()
        after = self._resident_unused()
        log.debug("returned %d MB of freed memory", (unused - after) >> 20)
        self._unused_after_trim = after
        return True


class ClosedConnectionCollector:
    """Runs a full collection once enough connections have closed since the last one, or once it
    has been a while: the cycles closed connections left behind are freed, and then trimmed. (A
    collection walks only what was made since start, `freeze_start_up_objects`: ~0 ms on an idle
    worker, tens of ms with a thousand tabs open.)"""

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
        if self._closed < COLLECT_AFTER_CLOSED and not overdue:
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


class BurstSettling:
    """Tells when what a burst of tabs left behind is to be let go: once the heap in use has fallen
    by `threshold_bytes` from its peak and stopped falling (less than a megabyte in a look), so
    not while closed tabs' states still expire. What is let go then (`let_go_of_burst`): objects
    that CPython keeps for reuse and connections the pools opened during the burst, each the last
    of the burst on its pages, each page kept for it (measured: 1.6 MB of RSS back at a
    collection that found 53 unreachable objects)."""

    SETTLED_BYTES = 2**20

    def __init__(self, heap: Heap, threshold_bytes: int = TRIM_THRESHOLD_BYTES) -> None:
        self.heap, self.threshold_bytes = heap, threshold_bytes
        self._peak = self._last = heap.in_use_bytes()

    def just_settled(self) -> bool:
        in_use = self.heap.in_use_bytes()
        settled = self._last - in_use < self.SETTLED_BYTES
        self._peak, self._last = max(self._peak, in_use), in_use
        if not settled or self._peak - in_use < self.threshold_bytes:
            return False
        self._peak = in_use  # what is let go now is less than a burst: it does not count as one
        return True


async def let_go_of_burst(close_idle_connections: Callable[[], Awaitable[None]]) -> None:
    """Connections first: closing them frees objects that the collection in `empty_free_lists`
    then finds in cycles, and makes future iterators that it swaps out. A pool that fails to
    close (Redis away) stops neither the rest nor this task."""
    try:
        await close_idle_connections()
    except Exception:
        log.warning("could not close idle connections after a burst", exc_info=True)
    empty_free_lists()


def freeze_start_up_objects() -> None:
    """What the worker built to start (modules, the app's pages and state classes) lives as long
    as the worker: moved out of the collector's reach, so that a full collection, ours or
    CPython's, walks only what tabs have made since."""
    gc.collect()  # what start-up left as garbage is freed first, not kept for good
    gc.freeze()
    log.debug("%d start-up objects out of the collector's reach", gc.get_freeze_count())


async def return_freed_memory_periodically(
    open_connections: Callable[[], Iterable[str]],
    report_heap_in_use: Callable[[int], None],
    close_idle_connections: Callable[[], Awaitable[None]],
) -> None:
    """A lifespan task: tabs close and their states expire one by one, so it looks on a timer.
    `open_connections` gives the ids of the worker's open websockets; `report_heap_in_use` gets
    malloc's bytes in use at start and after each look (the operator's split of the worker's RSS:
    Python's objects and C libraries' buffers there; code, libraries and thread stacks outside);
    `close_idle_connections` closes the pools' idle connections once a burst has settled (they
    open again on next use)."""
    if os.environ.get("PYTHONMALLOC") != "malloc":
        log.info("PYTHONMALLOC is not 'malloc': memory of closed tabs stays in Python's arenas (README, Tab memory)")
    freeze_start_up_objects()
    collector = ClosedConnectionCollector(open_connections)
    heap = load_heap()
    trimmer = HeapTrimmer(heap) if heap else None
    settling = BurstSettling(heap) if heap else None
    while True:
        if heap:
            report_heap_in_use(heap.in_use_bytes())
        await asyncio.sleep(TRIM_INTERVAL_S)
        collector.collect_if_closed()
        if settling and settling.just_settled():
            await let_go_of_burst(close_idle_connections)
        if trimmer:
            trimmer.trim_if_freed()
