"""What CPython keeps for reuse after a burst of tabs and no collection frees, let go on demand.

The last objects a burst freed stay where the burst put them, each keeping a page of the worker's
memory (openv_app/memory.py, `let_go_of_burst`, runs `empty_free_lists` once the heap settles):
CPython's free lists, asyncio's future iterators and the names in CPython's type attribute cache.
A census of a worker 180 s after 1,000 tabs had closed (README, Tab memory, "What no collection
frees") found 1,950-2,490 allocations of the burst alive, of which only 670-890 any object reached
(most of those: connections the pools opened during the burst, which memory.py closes).
"""

from __future__ import annotations

import asyncio
import gc
import sys

# asyncio's C module keeps this many freed future iterators for reuse (FI_FREELIST_MAXLEN in
# CPython's Modules/_asynciomodule.c).
FUTURE_ITERATORS_KEPT = 255


def renew_future_iterators(loop: asyncio.AbstractEventLoop) -> None:
    """Every `await` of a future makes a future iterator, and asyncio keeps the last 255 freed
    ones for reuse in a list that no collection empties: after a burst of tabs they sit on the
    burst's pages, one a page (48 bytes each: 193-221 a worker after 1,000 tabs, ~0.8 MB).
    No API frees them, so they are swapped out: all of them are taken from the list, as many new
    ones are made (jemalloc places them in its oldest pages with room) and go back on the list,
    which is then full, so the old ones are freed for good. (CPython 3.11's list; a CPython
    without it just makes and frees 510 small objects.)"""
    future = loop.create_future()
    listed = [future.__await__() for _ in range(FUTURE_ITERATORS_KEPT)]
    fresh = [future.__await__() for _ in range(FUTURE_ITERATORS_KEPT)]
    del fresh  # onto the list
    del listed  # the list is full: freed
    future.cancel()


def clear_type_cache() -> None:
    """CPython's type attribute cache (4,096 entries) keeps a reference to the name of each
    attribute looked up on a type, and C code that looks a method up by a C string
    (`dt.timetuple()` in `email.utils.formatdate`, python-socketio's `"on_" + event`) makes a new
    name each time: a burst leaves hundreds of them, 64 bytes each, on its pages. This is
    CPython's documented way to drop them (3.13 deprecates `sys._clear_type_cache` for
    `sys._clear_internal_caches`, which clears it too); the cache fills again with the next
    lookups."""
    clear = getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache
    clear()


def empty_free_lists() -> None:
    """Runs in the event loop: CPython's free lists (a full collection empties them), asyncio's
    future iterators and the type cache's names."""
    gc.collect()
    renew_future_iterators(asyncio.get_running_loop())
    clear_type_cache()
