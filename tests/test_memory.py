"""Freed memory goes back to the operating system (openv_app/memory.py)."""

from __future__ import annotations

import asyncio
import ctypes.util
import gc
import json
import os
import subprocess
import sys
import weakref
from types import SimpleNamespace

import httpx
import psutil
import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from reflex.utils import prerequisites

from openv_app import interpreter_caches, memory, reflex_tokens
from openv_app.memory import (
    JEMALLOC_CONF,
    PAGE_SIZE,
    BurstSettling,
    ClosedConnectionCollector,
    GlibcHeap,
    HeapTrimmer,
    cap_reflex_redis_connections,
    freeze_start_up_objects,
    preload_jemalloc,
)
from openv_app.tabs import redis_tabs
from tests.support.loops import in_own_loop

MB = 2**20


class FakeHeap(GlibcHeap):
    """RSS and heap in use, in MB; a trim returns every unused page, as on a heap whose free
    chunks span whole pages."""

    def __init__(self) -> None:
        self.rss, self.in_use, self.trims = 150, 120, 0

    def in_use_bytes(self) -> int:
        return self.in_use * MB

    def resident_bytes(self) -> int:
        return self.rss * MB

    def trim(self) -> None:
        self.rss, self.trims = self.in_use + 30, self.trims + 1  # code, libraries: not the heap's


def test_a_trim_comes_when_enough_memory_is_resident_but_unused():
    heap = FakeHeap()
    trimmer = HeapTrimmer(heap, threshold_bytes=8 * MB, resident=heap.resident_bytes)
    trims = []
    # (RSS, in use) at each look: tabs open (reusing unused memory, then growing the heap), close
    # and free 40 MB: trimmed; background work touches 10 MB of free pages again: trimmed; then
    # 5 MB, not worth a walk of the heap.
    for rss, in_use in ((150, 125), (190, 165), (190, 125), (165, 125), (160, 125)):
        heap.rss, heap.in_use = rss, in_use
        trims.append(trimmer.trim_if_freed())
    assert trims == [False, False, True, True, False]
    assert heap.trims == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap")
def test_heap_in_use_counts_small_and_large_allocations_until_they_are_freed():
    heap = GlibcHeap.load()
    assert heap is not None
    before = heap.in_use_bytes()
    small = [os.urandom(1024) for _ in range(32_768)]  # 32 MiB and their headers, from the heap itself
    large = bytearray(32 * MB)  # mapped on its own
    grown = heap.in_use_bytes() - before
    assert 64 * MB < grown < 72 * MB, grown
    del small, large
    assert heap.in_use_bytes() - before < 4 * MB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap")
def test_memory_freed_in_the_middle_of_the_heap_is_returned():
    heap = GlibcHeap.load()
    assert heap is not None
    process = psutil.Process()
    # 1 KiB objects come from malloc (not Python's small-object arenas); the last one stays, so
    # the freed memory is below the top of the heap, where malloc never gives it back by itself.
    blocks = [os.urandom(1024) for _ in range(100_000)]
    pinned = blocks[-1]
    held = process.memory_info().rss
    trimmer = HeapTrimmer(heap)  # counts from here: the heap may have had unused memory before
    del blocks
    assert process.memory_info().rss > held - 16 * MB  # freed, but still the process's
    assert trimmer.trim_if_freed()
    assert process.memory_info().rss < held - 64 * MB
    assert pinned


JEMALLOC = ctypes.util.find_library("jemalloc")
# Run on jemalloc (as `preload_jemalloc` has the backend's processes run): 1 KiB objects up to
# 64 MiB, the last one kept; what the heap counts and what the process holds, before and after.
ON_JEMALLOC = """
import json, os, psutil
from openv_app.memory import load_heap
heap, process = load_heap(), psutil.Process()
before = heap.in_use_bytes()
blocks = [os.urandom(1024) for _ in range(65_536)]
pinned, grown, held = blocks[-1], heap.in_use_bytes() - before, process.memory_info().rss
del blocks
heap.trim()
print(json.dumps({"heap": type(heap).__name__, "grown": grown, "left": heap.in_use_bytes() - before,
                  "returned": held - process.memory_info().rss, "slab_sizes": slab_sizes()}))
"""
# jemalloc's slab size for each small size class, from its own counters.
SLAB_SIZES = """
import ctypes
def read(name, ctype=ctypes.c_size_t):
    value = ctype()
    length = ctypes.c_size_t(ctypes.sizeof(value))
    assert ctypes.CDLL(None).mallctl(name.encode(), ctypes.byref(value), ctypes.byref(length), None, 0) == 0, name
    return value.value
def slab_sizes():
    bins = range(read("arenas.nbins", ctypes.c_uint))
    return {read(f"arenas.bin.{i}.size"): read(f"arenas.bin.{i}.slab_size") for i in bins}
"""


@pytest.mark.skipif(JEMALLOC is None, reason="no jemalloc on this system (Debian: libjemalloc2)")
def test_jemalloc_preloaded_counts_what_is_in_use_and_returns_what_is_freed(monkeypatch):
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.delenv("MALLOC_CONF", raising=False)
    preload_jemalloc()
    assert os.environ["LD_PRELOAD"] == JEMALLOC and os.environ["MALLOC_CONF"] == JEMALLOC_CONF
    env = {**os.environ, "PYTHONMALLOC": "malloc"}
    run = subprocess.run(
        [sys.executable, "-c", SLAB_SIZES + ON_JEMALLOC], env=env, capture_output=True, text=True, check=True
    )
    assert "jemalloc" not in run.stderr  # it took every setting (an unknown one is warned about)
    found = json.loads(run.stdout)
    assert found["heap"] == "Jemalloc"
    # One-page slabs up to 1 KiB (jemalloc's defaults: 48 bytes 3 pages, 112 bytes 7); larger kept.
    slab_pages = {int(size): slab // PAGE_SIZE for size, slab in found["slab_sizes"].items()}
    assert {slab_pages[size] for size in (48, 80, 112, 448, 1024)} == {1}
    assert slab_pages[1280] == 5
    assert 64 * MB < found["grown"] < 96 * MB, found  # 1,057 bytes a block, in its size class of 1,280
    assert found["left"] < 4 * MB, found
    assert found["returned"] > 48 * MB, found


def test_an_operators_own_preload_is_kept(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "libtcmalloc.so.4")
    monkeypatch.delenv("MALLOC_CONF", raising=False)
    preload_jemalloc()
    assert os.environ["LD_PRELOAD"] == "libtcmalloc.so.4" and "MALLOC_CONF" not in os.environ


def test_reflex_redis_client_gets_a_bounded_pool_unless_the_operator_set_one(monkeypatch):
    monkeypatch.setattr(prerequisites, "parse_redis_url", lambda: "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("REFLEX_REDIS_MAX_CONNECTIONS", raising=False)
    cap_reflex_redis_connections(8)
    pool = prerequisites.get_redis().connection_pool
    assert isinstance(pool, BlockingConnectionPool) and pool.max_connections == 8
    monkeypatch.setenv("REFLEX_REDIS_MAX_CONNECTIONS", "50")
    cap_reflex_redis_connections(8)
    assert prerequisites.get_redis().connection_pool.max_connections == 50


class Cycle:
    """A closed connection's leftovers: objects that reference each other."""

    def __init__(self) -> None:
        self.me = self


def test_a_full_collection_runs_once_enough_connections_have_closed(monkeypatch):
    monkeypatch.setattr(memory, "COLLECT_AFTER_CLOSED", 3)
    open_now = {"a", "b", "c", "d"}
    collector = ClosedConnectionCollector(lambda: open_now)
    open_now = {"b", "c", "d", "e", "f"}  # one closed, two opened
    assert not collector.collect_if_closed()
    gc.disable()  # only the collector's collection may free the cycle
    try:
        leftover = weakref.ref(Cycle())
        assert leftover() is not None
        open_now = {"f", "g"}  # three more closed: four since the last collection
        assert collector.collect_if_closed()
        assert leftover() is None
        assert not collector.collect_if_closed()  # counted from zero again
    finally:
        gc.enable()


def test_tabs_that_closed_unseen_are_collected_after_a_while(monkeypatch):
    open_now = {"a", "b"}
    collector = ClosedConnectionCollector(lambda: open_now)
    assert not collector.collect_if_closed()  # none closed, and not a while yet
    gc.disable()
    try:
        # Tabs that opened and closed between two looks: the count saw none of them close.
        leftover = weakref.ref(Cycle())
        monkeypatch.setattr(memory, "COLLECT_AT_LEAST_EVERY_S", 0.0)  # "a while" has passed
        assert collector.collect_if_closed()
        assert leftover() is None
    finally:
        gc.enable()


def test_a_burst_is_let_go_once_the_heap_has_fallen_and_stopped_falling():
    heap = FakeHeap()
    settling = BurstSettling(heap, threshold_bytes=8 * MB)
    looks = []
    # Heap in use at each look, MB: 1,000 tabs open; close (connections freed, then states
    # expiring over three looks); settled: let go once; small ups and downs after: not again.
    for in_use in (130, 195, 140, 138, 126, 120, 120, 119, 121, 118):
        heap.in_use = in_use
        looks.append(settling.just_settled())
    assert looks == [False, False, False, False, False, False, True, False, False, False]


def test_asyncios_kept_future_iterators_are_freed_and_new_ones_kept_instead():
    loop = asyncio.new_event_loop()  # not run: the iterators' list is the process's, not a loop's
    future = loop.create_future()
    # 255 iterators made and freed, as at the end of a burst: asyncio keeps them for reuse.
    burst = [future.__await__() for _ in range(interpreter_caches.FUTURE_ITERATORS_KEPT)]
    kept_from_burst = {id(iterator) for iterator in burst}
    del burst
    reused = future.__await__()
    assert id(reused) in kept_from_burst  # what the next await gets: one of the burst's
    del reused
    interpreter_caches.renew_future_iterators(loop)
    after = [future.__await__() for _ in range(interpreter_caches.FUTURE_ITERATORS_KEPT)]
    assert not kept_from_burst & {id(iterator) for iterator in after}
    loop.close()


def test_names_that_cpythons_type_cache_holds_are_let_go():
    class Looked:
        pass

    name = "".join(["a_name_made_", "at_run_time"])  # a new string, as C code's lookups make
    before = sys.getrefcount(name)
    assert not hasattr(Looked(), name)
    assert sys.getrefcount(name) > before  # the type cache holds it
    interpreter_caches.clear_type_cache()
    assert sys.getrefcount(name) == before


def test_start_up_objects_leave_the_collectors_reach_and_start_up_garbage_is_freed_first():
    kept, garbage = Cycle(), Cycle()  # only the collector frees them
    garbage_ref = weakref.ref(garbage)
    del garbage
    try:
        freeze_start_up_objects()
        assert garbage_ref() is None  # collected before the freeze, not frozen for good
        assert gc.get_freeze_count() > 1000  # this process's modules and the test's own objects
        assert not any(obj is kept for obj in gc.get_objects())  # frozen: in no generation a collection walks
    finally:
        gc.unfreeze()


def test_the_database_pools_connections_close_after_a_burst_and_open_again_on_next_use(app_factory):
    app = app_factory()
    pool = lambda: app.service.db.engine.pool  # noqa: E731  (replaced by the close)
    assert httpx.get(f"{app.url}/api/health").status_code == 200
    assert pool().checkedin() >= 1
    app.run(app.service.close_idle_database_connections())
    assert pool().checkedin() == 0
    assert httpx.get(f"{app.url}/api/health").status_code == 200
    assert pool().checkedin() == 1


@in_own_loop
async def test_redis_connections_a_burst_opened_close_after_it_and_open_again_on_next_use(redis_url):
    name = f"openv-test-idle-{os.getpid()}"
    observer = Redis.from_url(redis_url)
    tabs = redis_tabs(f"{redis_url}?client_name={name}", max_connections=4)

    async def connected() -> int:
        return sum(client["name"] == name for client in await observer.client_list())

    try:
        await asyncio.gather(*(tabs.redis.set(f"openv-test:idle:{n}", n, ex=30) for n in range(50)))
        assert await connected() == 4
        await tabs.close_idle_connections()
        assert await connected() == 0
        assert await tabs.redis.get("openv-test:idle:7") == b"7"
        assert await connected() == 1
    finally:
        await tabs.aclose()
        await observer.aclose()


@in_own_loop
async def test_reflex_s_own_redis_clients_are_its_state_managers_and_its_token_managers(redis_url):
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex.istate.manager.redis import StateManagerRedis
    from reflex.utils.token_manager import LocalTokenManager, RedisTokenManager

    state_redis, token_redis = Redis.from_url(redis_url), Redis.from_url(redis_url)
    with_redis = SimpleNamespace(
        state_manager=StateManagerRedis(redis=state_redis),
        event_namespace=SimpleNamespace(_token_manager=RedisTokenManager(token_redis)),
    )
    assert reflex_tokens.reflex_redis_clients(with_redis) == [state_redis, token_redis]
    one_process = SimpleNamespace(
        state_manager=StateManagerMemory(), event_namespace=SimpleNamespace(_token_manager=LocalTokenManager())
    )
    assert reflex_tokens.reflex_redis_clients(one_process) == []
    await state_redis.aclose()
    await token_redis.aclose()


@in_own_loop
async def test_a_pool_that_fails_to_close_after_a_burst_leaves_the_rest_to_run(monkeypatch, caplog):
    emptied = []
    monkeypatch.setattr(memory, "empty_free_lists", lambda: emptied.append(True))

    async def redis_away() -> None:
        raise ConnectionError("Redis is away")

    await memory.let_go_of_burst(redis_away)
    assert emptied == [True]
    assert "could not close idle connections" in caplog.text
