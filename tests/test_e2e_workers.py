"""The production shape: several backend workers sharing state and live pushes through Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import redis
import socketio
from redis.asyncio import Redis as AsyncRedis

from openv_app.services.signing import webhook_token
from openv_app.tabs import RedisTabs
from tests.support.browser import CARD_STATUS_JS, SOCKET_RECORD, tabs_on_two_workers
from tests.support.loops import run_sync
from tests.support.servers import wait_until


def test_webhook_result_reaches_tabs_on_two_workers_within_a_second(prod_app, browser):
    pages, opened = tabs_on_two_workers(browser, prod_app)

    prompt = f"two workers, one webhook, take your time {uuid.uuid4().hex[:8]}"
    video = httpx.post(
        f"{prod_app.url}/api/runpod",
        json={"prompt": prompt, "width": 128, "height": 128, "num_frames": 9, "fps": 8, "steps": 2},
        timeout=30,
    ).json()
    for page in pages:  # the new card reaches both tabs
        page.wait_for_function(CARD_STATUS_JS, arg=[prompt, "PENDING"], polling="raf", timeout=10000)

    report = {
        "id": video["runpod_job_id"],
        "status": "COMPLETED",
        "output": {"video": "uploaded", "poster": "uploaded", "duration_s": 1.0},
    }
    delivered = httpx.post(
        f"{prod_app.url}/api/runpod/webhook",
        json=report,
        params={"video_id": video["id"], "token": webhook_token("e2e-secret", video["id"])},
    )
    assert delivered.json() == {"ok": True, "changed": True}
    answered = time.monotonic()
    for page in pages:
        remaining_ms = max(1, (answered + 1.0 - time.monotonic()) * 1000)
        page.wait_for_function(CARD_STATUS_JS, arg=[prompt, "COMPLETED"], polling="raf", timeout=remaining_ms)
    print(f"webhook answered -> COMPLETED in both tabs: {time.monotonic() - answered:.3f} s")
    for page in opened:
        page.context.close()
    # Its "completed" files were never uploaded: leave no card with a broken poster behind.
    assert httpx.delete(f"{prod_app.url}/api/videos/{video['id']}").status_code == 204


async def connect_and_close_tabs(url: str, registry: RedisTabs, user: str, count: int) -> tuple[int, list[str]]:
    """Opens `count` websockets the way a tab does, registers them, closes them all."""
    tokens = [str(uuid.uuid4()) for _ in range(count)]
    clients = [socketio.AsyncClient(reconnection=False) for _ in tokens]
    for start in range(0, count, 100):
        await asyncio.gather(
            *(
                client.connect(
                    f"{url}?token={token}",
                    socketio_path="_event",
                    transports=["websocket"],
                    namespaces=["/_event"],
                    wait_timeout=20,
                )
                for client, token in zip(clients[start : start + 100], tokens[start : start + 100], strict=True)
            )
        )
    for token in tokens:
        await registry.add(user, token)
    registered = len(await registry.tabs_of(user))
    await asyncio.gather(*(client.disconnect() for client in clients))
    return registered, tokens


def test_closing_a_thousand_tabs_leaves_no_registry_entries(prod_app):
    client = redis.Redis.from_url(prod_app.redis_url)
    user = f"load-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[int, list[str]]:
        registry = RedisTabs(AsyncRedis.from_url(prod_app.redis_url))
        try:
            return await connect_and_close_tabs(prod_app.url, registry, user, 1000)
        finally:
            await registry.redis.aclose()

    registered, tokens = run_sync(scenario())
    assert registered == 1000

    def registry_is_empty() -> bool:
        return not client.exists(f"openv:open-tabs:{user}", *(f"openv:tab:{token}" for token in tokens))

    wait_until(registry_is_empty, timeout=30, interval=0.2)
    assert not client.exists(*(SOCKET_RECORD.format(token) for token in tokens))
