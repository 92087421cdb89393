"""The open-tab registry in Redis after Redis lost its data, and what the log says while Redis
is away: once down, once back, no traceback per attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from openv_app import live
from openv_app.tabs import RedisTabs, redis_tabs
from tests.support.loops import in_own_loop


@in_own_loop
async def test_a_worker_writes_the_tabs_it_serves_again_after_redis_lost_them(redis_url):
    tabs = RedisTabs(Redis.from_url(redis_url))
    other_worker = RedisTabs(Redis.from_url(redis_url))
    try:
        await tabs.add("u1", "served-here")
        await other_worker.add("u2", "came-over")  # its tab reconnected to this worker
        assert await tabs.was_reset() is True  # the first look finds no marker either
        await tabs.note_restored()
        assert await tabs.was_reset() is False

        await tabs.redis.flushdb()  # Redis restarted empty
        assert await tabs.tabs_of("u1") == set()
        assert await tabs.was_reset() is True
        served = await tabs.keep_registered(["served-here"])
        assert served == {"served-here": "u1"}
        assert await tabs.tabs_of("u1") == {"served-here"}
        assert await tabs.users_of(["served-here"]) == {"served-here": "u1"}
        assert await tabs.redis.ttl("openv:tab:served-here") > 0

        await other_worker.keep_registered(["came-over"])  # still registered by its first worker
        assert await tabs.keep_registered(["served-here", "came-over"]) == {"served-here": "u1", "came-over": "u2"}
        # A tab that left this worker is not written again by it.
        assert await tabs.keep_registered(["came-over"]) == {"came-over": "u2"}
        await tabs.remove("served-here")
        assert await tabs.tabs_of("u1") == set()
    finally:
        await tabs.redis.flushdb()
        await tabs.aclose()
        await other_worker.aclose()


class RegistryThatIsAway:
    """A registry whose Redis refuses `failures` sweeps, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0
        self.answered = asyncio.Event()

    async def keep_registered(self, served):
        self.calls += 1
        if self.calls <= self.failures:
            raise RedisConnectionError("Connection refused")
        self.answered.set()
        return {}

    async def was_reset(self) -> bool:
        return False

    async def note_restored(self) -> None:
        pass


@in_own_loop
async def test_while_redis_is_away_the_refresh_backs_off_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(live, "REFRESH_INTERVAL_S", 0.01)
    monkeypatch.setattr(live, "REFRESH_BACKOFF_MAX_S", 0.08)
    registry = RegistryThatIsAway(failures=6)
    app = type("App", (), {})()
    app.event_namespace = type("Namespace", (), {})()
    app.event_namespace._token_manager = type("Manager", (), {"token_to_socket": {}, "instance_id": "w"})()
    refresher = live.ServedTabsRefresher(live.TabPusher(app, registry), service=None)
    caplog.set_level(logging.WARNING)
    task = asyncio.create_task(refresher.run())
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(registry.answered.wait(), timeout=5)
    elapsed = asyncio.get_running_loop().time() - started
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "Redis is unreachable" in m]) == 1
    assert len([m for m in messages if "Redis is back" in m]) == 1
    assert not [record for record in caplog.records if record.exc_info]
    # 0.02 + 0.04 + 0.08 × 4 after the first interval: the pauses grew.
    assert elapsed > 0.3


@in_own_loop
async def test_a_burst_of_operations_shares_a_bounded_pool_of_connections(redis_url):
    """200 operations at once on a registry capped at 4 connections: they wait their turn on
    those 4 rather than opening one each and keeping them all (as an uncapped client does)."""
    observer = Redis.from_url(redis_url)
    tabs = redis_tabs(redis_url, max_connections=4)
    try:
        before = (await observer.info("clients"))["connected_clients"]
        await asyncio.gather(*(tabs.redis.set(f"openv-test:burst:{n}", n, ex=30) for n in range(200)))
        assert [int(value) for value in await tabs.redis.mget(f"openv-test:burst:{n}" for n in range(200))] == list(
            range(200)
        )
        opened = (await observer.info("clients"))["connected_clients"] - before
        assert 1 <= opened <= 4 + 2, opened  # + 2: other processes' idle pools may add a connection
    finally:
        await tabs.redis.aclose()
        await observer.aclose()
