"""Open tabs for the benchmarks: Reflex websocket clients (python-socketio), connected the way
the browser connects and registered as a user's open tabs (openv_app.tabs.RedisTabs), that note
when each card first shows each status and progress.

Websocket clients rather than Chromium tabs: many Chromium renderers on a small machine measure
the machine's rendering, not the app (tests/test_e2e_workers.py covers real tabs).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import socketio
from redis.asyncio import Redis as AsyncRedis

from openv_app.tabs import RedisTabs


def cards_in(update: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The video cards of a state update (the library's `videos` list, whole, when it changed)."""
    for substate in (update.get("delta") or {}).values():
        for name, value in substate.items():
            if name.startswith("videos") and isinstance(value, list):
                yield from (card for card in value if isinstance(card, dict))


class Tab:
    """A websocket client that notes, by wall clock, when each card first shows each
    (status, progress), and when it first shows as COMPLETED."""

    def __init__(self, url: str) -> None:
        self.url, self.token = url, str(uuid.uuid4())
        self.first_seen: dict[tuple[str, str, int], float] = {}
        self.completed_at: dict[str, float] = {}
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("event", self._on_update, namespace="/_event")

    async def _on_update(self, update: dict[str, Any]) -> None:
        now = time.time()
        for card in cards_in(update):
            self.first_seen.setdefault((card["id"], card.get("status", ""), int(card.get("progress") or 0)), now)
            if card.get("status") == "COMPLETED":
                self.completed_at.setdefault(card["id"], now)

    def progress_seen(self, video_id: str, status: str = "PROCESSING") -> list[tuple[float, int]]:
        """(first seen, progress) of each progress the card showed with this status, in order."""
        seen = self.first_seen.items()
        return sorted((at, progress) for (card, shown, progress), at in seen if (card, shown) == (video_id, status))

    async def open(self) -> None:
        await self.client.connect(
            f"{self.url}?token={self.token}",
            socketio_path="_event",
            transports=["websocket"],
            namespaces=["/_event"],
            wait_timeout=20,
        )


async def open_tabs(url: str, user: str, count: int, redis_url: str) -> tuple[list[Tab], RedisTabs]:
    """`count` tabs connected and registered as `user`'s open tabs, and the registry."""
    registry = RedisTabs(AsyncRedis.from_url(redis_url))
    tabs = [Tab(url) for _ in range(count)]
    await asyncio.gather(*(tab.open() for tab in tabs))
    for tab in tabs:
        await registry.add(user, tab.token)
    return tabs, registry


async def close_tabs(tabs: list[Tab], registry: RedisTabs) -> None:
    await asyncio.gather(*(tab.client.disconnect() for tab in tabs))
    await registry.redis.aclose()


def percentile(values: list[float], share: float) -> float:
    """The value at `share` (0..1) of the sorted values, nearest rank below."""
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]
