"""Which tabs each user has open: the registry live pushes are addressed with.

A tab is a Reflex client token. With several app processes (REDIS_URL set) the registry lives
in Redis, shared by every worker (a client of its own, beside Reflex's), with an expiry that each process renews for the tabs it
serves; without Redis it is a dict in the one process. Tabs leave it when their websocket
closes (see `openv_app.live`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from reflex.utils import prerequisites

# A tab whose process stopped renewing it (crashed, scaled down) leaves after this long.
TAB_TTL_S = 3600
REDIS_CHECK_TIMEOUT_S = 0.5
REDIS_TIMEOUT_S = 2.0


class TabRegistry(Protocol):
    async def add(self, user_id: str, token: str) -> None: ...

    async def remove(self, token: str) -> None: ...

    async def tabs_of(self, user_id: str) -> set[str]: ...

    async def users_of(self, tokens: Iterable[str]) -> dict[str, str]:
        """The user of each registered token (unregistered ones are left out)."""
        ...

    async def renew(self, users_by_token: dict[str, str]) -> None:
        """Keep these live tabs registered for another TAB_TTL_S."""
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

    async def renew(self, users_by_token: dict[str, str]) -> None:
        pass  # nothing expires in memory

    async def aclose(self) -> None:
        pass

    async def is_reachable(self) -> bool | None:
        return None

    async def keep_only(self, connected: set[str]) -> None:
        for token in [token for token in self._user_of if token not in connected]:
            await self.remove(token)


class RedisTabs:
    """`openv:tabs:{user}` is the set of a user's tabs; `openv:tab:{token}` names the tab's user."""

    PREFIX = "openv:tab"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

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

    async def remove(self, token: str) -> None:
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

    async def renew(self, users_by_token: dict[str, str]) -> None:
        if not users_by_token:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for token, user_id in users_by_token.items():
                pipe.expire(self._tab_key(token), TAB_TTL_S)
                pipe.expire(self._tabs_key(user_id), TAB_TTL_S)
            await pipe.execute()


@lru_cache
def get_tab_registry() -> TabRegistry:
    """In Redis exactly when Reflex keeps its state there (REDIS_URL, read by rxconfig.py)."""
    redis_url = prerequisites.parse_redis_url()
    if not redis_url:
        return MemoryTabs()
    # Short timeouts: a frozen Redis holds no push or refresh for long.
    return RedisTabs(Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S))
