"""Health that a load balancer can act on: readiness tells the database from Redis (503 only
without the database), liveness only says the process serves."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from openv_app.tabs import RedisTabs
from tests.support.loops import in_own_loop

UNREACHABLE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:9/none"


def test_readiness_is_503_without_the_database_and_liveness_stays_200(app_factory):
    app = app_factory()
    ready = httpx.get(f"{app.url}/api/health")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": True, "redis": None, "version": "0.1.0"}

    cut_off = app_factory(database_url=UNREACHABLE_POSTGRES)  # the API now serves this one
    not_ready = httpx.get(f"{cut_off.url}/api/health", timeout=10)
    assert not_ready.status_code == 503
    assert (not_ready.json()["status"], not_ready.json()["database"]) == ("down", False)
    assert httpx.get(f"{cut_off.url}/api/health/live").json() == {"status": "alive"}


@pytest.mark.parametrize("url, reachable", [("redis://127.0.0.1:6379/9", True), ("redis://127.0.0.1:9/0", False)])
@in_own_loop
async def test_the_tab_registry_says_quickly_whether_redis_answers(redis_url, url, reachable):
    tabs = RedisTabs(Redis.from_url(url))
    started = time.monotonic()
    try:
        assert await tabs.is_reachable() is reachable
    finally:
        await tabs.aclose()
    assert time.monotonic() - started < 1.5
