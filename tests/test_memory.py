"""Freed memory goes back to the operating system (openv_app/memory.py)."""

from __future__ import annotations

import gc
import os
import sys
import weakref

import psutil
import pytest
from redis.asyncio import BlockingConnectionPool
from reflex.utils import prerequisites

from openv_app import memory
from openv_app.memory import (
    GRANIAN_JEMALLOC_CONF,
    ClosedConnectionCollector,
    GlibcHeap,
    HeapTrimmer,
    cap_reflex_redis_connections,
    configure_granian_allocator,
    freeze_start_up_objects,
)

MB = 2**20


class FakeHeap(GlibcHeap):
    def __init__(self) -> None:
        self.free, self.trims = 10 * MB, 0

    def free_bytes(self) -> int:
        return self.free

    def trim(self) -> None:
        self.trims += 1


def test_only_newly_freed_memory_is_worth_a_trim():
    heap = FakeHeap()
    trimmer = HeapTrimmer(heap, threshold_bytes=8 * MB)
    trims = []
    # Free bytes never drop after a trim (the pages go back, the chunks stay free), so a heap
    # with much free memory is not trimmed again and again; reused memory is not "freed" either.
    for free in (12, 30, 30, 20, 27, 29):
        heap.free = free * MB
        trims.append(trimmer.trim_if_freed())
    assert trims == [False, True, False, False, False, True]
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
    trimmer = HeapTrimmer(heap)  # counts from here: the heap may have had free memory before
    del blocks
    assert process.memory_info().rss > held - 16 * MB  # freed, but still the process's
    assert trimmer.trim_if_freed()
    assert process.memory_info().rss < held - 64 * MB
    assert pinned


def test_granian_allocator_setting_keeps_an_operators_own(monkeypatch):
    monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    configure_granian_allocator()
    assert os.environ["_RJEM_MALLOC_CONF"] == GRANIAN_JEMALLOC_CONF
    monkeypatch.setenv("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000")
    configure_granian_allocator()
    assert os.environ["_RJEM_MALLOC_CONF"] == "dirty_decay_ms:5000"


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


def test_a_few_closed_connections_are_collected_after_a_while(monkeypatch):
    monkeypatch.setattr(memory, "COLLECT_AT_LEAST_EVERY_S", 0.0)  # "a while" has always passed
    open_now = {"a", "b"}
    collector = ClosedConnectionCollector(lambda: open_now)
    assert not collector.collect_if_closed()  # none closed: nothing to collect
    open_now = {"b"}
    assert collector.collect_if_closed()


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
