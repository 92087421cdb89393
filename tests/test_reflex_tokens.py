"""What the app does with Reflex's real token managers (openv_app/reflex_tokens.py), on a real
Redis: its listeners restarted after Redis comes back, the links of closed tabs forgotten."""

from __future__ import annotations

import asyncio
import pickle
import time
from types import SimpleNamespace

from openv_app import reflex_tokens
from tests.support.loops import in_own_loop


@in_own_loop
async def test_after_redis_comes_back_the_relink_hears_other_workers_updates_at_once(redis_url):
    """Reflex's real token manager: its lost-and-found subscriber failed while Redis was away
    and sleeps out a second before it tries again; the relink starts it again at once, so an
    update another worker routes here right after is not lost."""
    from redis.asyncio import Redis
    from reflex.state import StateUpdate
    from reflex.utils.token_manager import LostAndFoundRecord, RedisTokenManager

    heard: list[str] = []

    async def emit_update(update: StateUpdate, token: str) -> None:
        heard.append(token)

    manager = RedisTokenManager(Redis.from_url("redis://127.0.0.1:1"))  # Redis away
    app = SimpleNamespace(event_namespace=SimpleNamespace(emit_update=emit_update), state_manager=None)
    manager.ensure_lost_and_found_task(emit_update)
    await asyncio.sleep(0.2)  # its try failed: it waits before the next
    manager.redis = Redis.from_url(redis_url)  # Redis is back
    try:
        await reflex_tokens.restart_reflex_subscribers(app, manager)
        channel = f"channel:{manager._get_lost_and_found_key(manager.instance_id)}"
        update = pickle.dumps(LostAndFoundRecord(token="tab-on-this-worker", update=StateUpdate()))
        deadline = time.monotonic() + 0.5  # well within the subscriber's own retry delay (1 s)
        while not heard and time.monotonic() < deadline:
            await manager.redis.publish(channel, update)
            await asyncio.sleep(0.02)
        assert heard[:1] == ["tab-on-this-worker"]
    finally:
        await manager.close()


@in_own_loop
async def test_links_of_tabs_another_worker_served_are_forgotten_once_they_close(redis_url):
    """Reflex's real token managers, two workers sharing Redis: this one looks up a tab the other
    serves (as a push to a user's tabs does), then that tab closes. Reflex forgets the record but
    keeps the sid's link; the sweep drops it, and keeps the links of sockets connected here."""
    import socketio
    from redis.asyncio import Redis
    from reflex.utils.token_manager import RedisTokenManager

    namespace = "/_event"
    server = socketio.AsyncServer(async_mode="asgi")
    server.manager.set_server(server)
    this_worker, other_worker = (
        RedisTokenManager(Redis.from_url(redis_url)),
        RedisTokenManager(Redis.from_url(redis_url)),
    )
    app = SimpleNamespace(
        event_namespace=SimpleNamespace(_token_manager=this_worker, server=server, namespace=namespace)
    )
    try:
        local_sid = await server.manager.connect("engine-io-sid", namespace)
        await this_worker.link_token_to_sid("tab-here", local_sid)
        await other_worker.link_token_to_sid("tab-there", "sid-there")
        assert await this_worker.is_token_connected("tab-there")
        assert this_worker.sid_to_token == {local_sid: "tab-here", "sid-there": "tab-there"}

        assert reflex_tokens.forget_stale_socket_links(app) == 0  # both tabs are open

        await other_worker.disconnect_token("tab-there", "sid-there")
        await this_worker._handle_socket_record_del("tab-there")  # Reflex's handler of the deletion
        assert "tab-there" not in this_worker.token_to_socket
        assert "sid-there" in this_worker.sid_to_token, "Reflex now forgets the link itself: drop the sweep"

        # A socket still connected here keeps its link, though its token's record names a newer one.
        closing_sid = await server.manager.connect("closing-engine-io-sid", namespace)
        this_worker.sid_to_token[closing_sid] = "tab-here"

        assert reflex_tokens.forget_stale_socket_links(app) == 1
        assert this_worker.sid_to_token == {local_sid: "tab-here", closing_sid: "tab-here"}
    finally:
        for manager in (this_worker, other_worker):
            await manager.redis.delete(*[manager._get_redis_key(token) for token in ("tab-here", "tab-there")])
            await manager.close()
