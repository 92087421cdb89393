"""Which tabs each user has open: the registry live pushes are addressed with.

A tab is a Reflex client token. With several app processes (REDIS_URL set) the registry lives
in Redis, shared by every worker (a client of its own, beside Reflex's), with an expiry; each
process also remembers the tabs it serves and writes them again every sweep, so a Redis that
restarts empty is filled again within one sweep. Without Redis it is a dict in the one
process. Tabs leave it when their websocket closes (see `openv_app.live`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from reflex.utils import prerequisites

log = logging.getLogger(__name__)

# A tab whose process stopped renewing it (crashed, scaled down) leaves after this long.
TAB_TTL_S = 3600
REDIS_CHECK_TIMEOUT_S = 0.5
REDIS_TIMEOUT_S = 2.0
# What a Redis that is away or frozen raises through redis-py.
REDIS_DOWN = (RedisError, OSError, TimeoutError)


class OutageLog:
    """Says once that Redis went away and once that it came back, instead of a traceback for
    every failed call of every background task while it is away."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    def failed(self, error: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("Redis is unreachable (%s): live updates pause; webhooks and the API go on", error)

    def recovered(self) -> None:
        if self.down_since is not None:
            log.warning("Redis is back after %.1f s: live updates resume", time.monotonic() - self.down_since)
            self.down_since = None


redis_outage = OutageLog()


class TabRegistry(Protocol):
    async def add(self, user_id: str, token: str) -> None: ...

    async def remove(self, token: str) -> None: ...

    async def tabs_of(self, user_id: str) -> set[str]: ...

    async def users_of(self, tokens: Iterable[str]) -> dict[str, str]:
        """The user of each registered token (unregistered ones are left out)."""
        ...

    async def keep_registered(self, served: Iterable[str]) -> dict[str, str]:
        """`served` are the tabs whose websocket this process holds: keep those registered
        (again, if the store lost them) and return their users; forget the others it served."""
        ...

    async def was_reset(self) -> bool:
        """Whether the shared store lost what this process wrote to it since the last call
        (Redis restarted empty); False without one."""
        ...

    async def aclose(self) -> None: ...

    async def is_reachable(self) -> bool | None:
        """Whether the shared store answers now; None when there is none (one process)."""
        ...


class MemoryTabs:
    """One process, no Redis: the embedded default."""

    def __init__(self) -> None:
        self._tabs: dict[str, set[str]] = {}
        self._user_of: dict[str, str] = {}

    async def add(self, user_id: str, token: str) -> None:
        await self.remove(token)  # a tab that signed in as someone else
        self._tabs.setdefault(user_id, set()).add(token)
        self._user_of[token] = user_id

    async def remove(self, token: str) -> None:
        if (user_id := self._user_of.pop(token, None)) is not None:
            tabs = self._tabs.get(user_id, set())
            tabs.discard(token)
            if not tabs:
                self._tabs.pop(user_id, None)

    async def tabs_of(self, user_id: str) -> set[str]:
        return set(self._tabs.get(user_id, ()))

    async def users_of(self, tokens: Iterable[str]) -> dict[str, str]:
        return {token: self._user_of[token] for token in tokens if token in self._user_of}

    async def keep_registered(self, served: Iterable[str]) -> dict[str, str]:
        # One process serves every tab: one whose socket is gone has closed.
        served = set(served)
        for token in [token for token in self._user_of if token not in served]:
            await self.remove(token)
        return dict(self._user_of)

    async def was_reset(self) -> bool:
        return False

    async def aclose(self) -> None:
        pass

    async def is_reachable(self) -> bool | None:
        return None


class RedisTabs:
    """`openv:tabs:{user}` is the set of a user's tabs; `openv:tab:{token}` names the tab's user."""

    PREFIX = "openv:tab"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # The tabs this process registered or serves, and their users: what it writes again.
        self._served: dict[str, str] = {}
        # Present while Redis keeps what this process wrote; its absence means Redis lost it.
        self._marker = f"{self.PREFIX}s-written-by:{os.getpid()}:{id(self)}"

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def is_reachable(self) -> bool | None:
        try:
            async with asyncio.timeout(REDIS_CHECK_TIMEOUT_S):  # a frozen Redis must not hold the check
                return bool(await self.redis.ping())  # type: ignore[misc]  # redis-py types async and sync as one
        except (TimeoutError, RedisError, OSError):
            return False

    def _tabs_key(self, user_id: str) -> str:
        return f"{self.PREFIX}s:{user_id}"

    def _tab_key(self, token: str) -> str:
        return f"{self.PREFIX}:{token}"

    async def add(self, user_id: str, token: str) -> None:
        previous = await self.redis.get(self._tab_key(token))
        async with self.redis.pipeline(transaction=True) as pipe:
            if previous is not None and previous.decode() != user_id:
                pipe.srem(self._tabs_key(previous.decode()), token)
            pipe.sadd(self._tabs_key(user_id), token)
            pipe.expire(self._tabs_key(user_id), TAB_TTL_S)
            pipe.set(self._tab_key(token), user_id, ex=TAB_TTL_S)
            await pipe.execute()
        self._served[token] = user_id

    async def remove(self, token: str) -> None:
        self._served.pop(token, None)
        user_id = await self.redis.getdel(self._tab_key(token))
        if user_id is not None:
            await self.redis.srem(self._tabs_key(user_id.decode()), token)  # type: ignore[misc]  # redis-py types async and sync as one

    async def tabs_of(self, user_id: str) -> set[str]:
        members = await self.redis.smembers(self._tabs_key(user_id))  # type: ignore[misc]  # as above
        return {token.decode() for token in members}

    async def users_of(self, tokens: Iterable[str]) -> dict[str, str]:
        tokens = list(tokens)
        if not tokens:
            return {}
        users = await self.redis.mget([self._tab_key(token) for token in tokens])
        return {token: user.decode() for token, user in zip(tokens, users, strict=True) if user is not None}

    async def keep_registered(self, served: Iterable[str]) -> dict[str, str]:
        served = list(served)
        self._served = {token: self._served[token] for token in served if token in self._served}
        # A tab that reconnected to this process after its first one died: adopt it.
        if unknown := [token for token in served if token not in self._served]:
            self._served.update(await self.users_of(unknown))
        if self._served:
            # Written whole rather than only renewed: this also fills a Redis that restarted empty.
            async with self.redis.pipeline(transaction=False) as pipe:
                for token, user_id in self._served.items():
                    pipe.set(self._tab_key(token), user_id, ex=TAB_TTL_S)
                    pipe.sadd(self._tabs_key(user_id), token)
                    pipe.expire(self._tabs_key(user_id), TAB_TTL_S)
                await pipe.execute()
        return dict(self._served)

    async def was_reset(self) -> bool:
        # The first call finds no marker either: harmless, whoever acts on a reset only re-writes.
        return bool(await self.redis.set(self._marker, 1, nx=True, ex=TAB_TTL_S))


@lru_cache
def get_tab_registry() -> TabRegistry:
    """In Redis exactly when Reflex keeps its state there (REDIS_URL, read by rxconfig.py)."""
    redis_url = prerequisites.parse_redis_url()
    if not redis_url:
        return MemoryTabs()
    # Short timeouts: a frozen Redis holds no push or refresh for long.
    return RedisTabs(Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S))
