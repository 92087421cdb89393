"""Running coroutines where pytest-asyncio cannot: Playwright's sync API keeps an event loop
running in the main thread once a browser test has run."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_sync(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running
    in the main thread once a browser test has run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def in_own_loop(test: Callable[..., Any]) -> Callable[..., Any]:
    """An async test run with `run_sync` (pytest-asyncio cannot start a loop once Playwright's
    sync API holds one in the main thread, i.e. after any browser test)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return run_sync(test(*args, **kwargs))

    return run
