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
import socket
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from reflex.utils import prerequisites

from openv_app.settings import get_settings

log = logging.getLogger(__name__)

# A tab whose process stopped writing it (killed, scaled down) gets no push after this long;
# the serving process writes each of its tabs every sweep (2 s).
TAB_TTL_S = 30
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
        """Whether the shared store lost what this process wrote to it (Redis restarted
        empty) since `note_restored`; False without one."""
        ...

    async def note_restored(self) -> None:
        """What the store lost has been written again."""
        ...

    async def aclose(self) -> None: ...

    async def close_idle_connections(self) -> None:
        """Connections to the shared store that no command uses now close; they open again on
        next use (after a burst of tabs: openv_app/memory.py)."""
        ...

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

    async def note_restored(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    async def close_idle_connections(self) -> None:
        pass

    async def is_reachable(self) -> bool | None:
        return None


class RedisTabs:
    """`openv:open-tabs:{user}` holds a user's tabs, each scored with when its process last
    wrote it (a tab not written for TAB_TTL_S is left out, so the tabs of a worker that died
    stop getting pushes); `openv:tab:{token}` names the tab's user."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # The tabs this process registered or serves, and their users: what it writes again.
        self._served: dict[str, str] = {}

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def close_idle_connections(self) -> None:
        await self.redis.connection_pool.disconnect(inuse_connections=False)

    async def is_reachable(self) -> bool | None:
        try:
            async with asyncio.timeout(REDIS_CHECK_TIMEOUT_S):  # a frozen Redis must not hold the check
                return bool(await self.redis.ping())  # type: ignore[misc]  # redis-py types async and sync as one
        except REDIS_DOWN:
            return False

    @staticmethod
    def _tabs_key(user_id: str) -> str:
        return f"openv:open-tabs:{user_id}"

    @staticmethod
    def _tab_key(token: str) -> str:
        return f"openv:tab:{token}"

    def _write(self, pipe: Pipeline, users_by_token: dict[str, str]) -> None:
        """Each tab with the time it was written; each of their users' sets trimmed once."""
        now = time.time()
        for token, user_id in users_by_token.items():
            pipe.set(self._tab_key(token), user_id, ex=TAB_TTL_S)
            pipe.zadd(self._tabs_key(user_id), {token: now})
        for user_id in set(users_by_token.values()):
            pipe.zremrangebyscore(self._tabs_key(user_id), "-inf", now - TAB_TTL_S)
            pipe.expire(self._tabs_key(user_id), TAB_TTL_S)

    async def add(self, user_id: str, token: str) -> None:
        previous = await self.redis.get(self._tab_key(token))
        async with self.redis.pipeline(transaction=True) as pipe:
            if previous is not None and previous.decode() != user_id:
                pipe.zrem(self._tabs_key(previous.decode()), token)
            self._write(pipe, {token: user_id})
            await pipe.execute()
        self._served[token] = user_id

    async def remove(self, token: str) -> None:
        self._served.pop(token, None)
        user_id = await self.redis.getdel(self._tab_key(token))
        if user_id is not None:
            await self.redis.zrem(self._tabs_key(user_id.decode()), token)

    async def tabs_of(self, user_id: str) -> set[str]:
        written_since = time.time() - TAB_TTL_S
        members = await self.redis.zrange(self._tabs_key(user_id), written_since, "+inf", byscore=True)
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
                self._write(pipe, self._served)
                await pipe.execute()
        return dict(self._served)

    @property
    def _marker(self) -> str:
        """Present while Redis keeps what this process wrote; its absence means Redis lost it.
        Named when used: the workers are forked from the process that built this object."""
        return f"openv:tabs-written-by:{socket.gethostname()}:{os.getpid()}"

    async def was_reset(self) -> bool:
        # The first look finds no marker either: harmless, whoever acts on a reset only re-writes.
        return not await self.redis.exists(self._marker)

    async def note_restored(self) -> None:
        await self.redis.set(self._marker, 1, ex=3600)


def redis_tabs(redis_url: str, max_connections: int) -> RedisTabs:
    """Short timeouts: a frozen Redis holds no push or refresh for long. A bounded pool, as Reflex's
    client has (rxconfig.py): a burst of tabs would otherwise leave a connection per tab open."""
    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=max_connections,
        timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    return RedisTabs(Redis.from_pool(pool))


@lru_cache
def get_tab_registry() -> TabRegistry:
    """In Redis exactly when Reflex keeps its state there (REDIS_URL, read by rxconfig.py)."""
    redis_url = prerequisites.parse_redis_url()
    if not redis_url:
        return MemoryTabs()
    return redis_tabs(redis_url, get_settings().redis_max_connections)
