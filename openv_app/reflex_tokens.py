"""What the app does with Reflex 0.10's token manager, which maps each tab's token to the
websocket (sid) of the worker that holds it, in Redis when there are several workers.

- `forget_closed_tabs` (Redis) removes a tab from the registry when Reflex deletes the
  websocket's record, and drops the links Reflex leaves of closed tabs (`forget_stale_socket_links`).
- `relink_reflex_after_redis_loss` puts back what Reflex kept in Redis after Redis restarted
  empty (run by live.py's refresh).
Reflex has no public accessor for its token manager nor for restarting its listeners, hence
private names here, kept in this one module (Reflex is pinned in requirements.txt).
"""

from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx
from redis.asyncio import Redis
from reflex.istate.manager.redis import StateManagerRedis, enable_keyspace_notifications
from reflex.utils.token_manager import RedisTokenManager, TokenManager

from openv_app.tabs import RedisTabs

log = logging.getLogger(__name__)

# The keyspace listener reads with this timeout (listen() gives up after 2 s), and drops stale
# links at most this often.
LISTEN_TIMEOUT_S = 2.0


def token_manager(app: rx.App) -> TokenManager:
    assert app.event_namespace is not None, "the app serves websockets once it has started"
    return app.event_namespace._token_manager


def reflex_redis_clients(app: rx.App) -> list[Redis]:
    """Reflex's own Redis clients, each with its pool: its state manager's and its token
    manager's (none without Redis)."""
    clients = []
    if isinstance(state_manager := app.state_manager, StateManagerRedis):
        clients.append(state_manager.redis)
    if isinstance(manager := token_manager(app), RedisTokenManager):
        clients.append(manager.redis)
    return clients


async def relink_reflex_after_redis_loss(app: rx.App, served: list[str]) -> None:
    """Put back what Reflex keeps in Redis for the sockets this process holds, after Redis
    restarted empty: without it another worker cannot route an update to these tabs, and this
    one stops hearing about lock releases and other workers' updates. Reflex 0.10 re-stores a
    record only when it sees the key deleted (a restart does not announce it) and its pub/sub
    tasks give up after five errors in a minute; no public way, hence its private methods."""
    manager = token_manager(app)
    if not isinstance(manager, RedisTokenManager):
        return
    log.info("Relinking the %d tabs this process serves in Redis", len(served))
    await enable_keyspace_notifications(manager.redis)  # a fresh Redis has them off
    await restart_reflex_subscribers(app, manager)
    for token in served:
        if (record := manager.token_to_socket.get(token)) is not None:
            await manager._store_socket_record(token, record, nx=True)


async def restart_reflex_subscribers(app: rx.App, manager: RedisTokenManager) -> None:
    """Reflex's pub/sub listeners start again now: after a failed try each sleeps a second, and an
    update another worker routes here meanwhile is lost until the next sweep (README, When a part
    fails). Awaited, not only cancelled: `ensure_task` keeps a task that is still finishing."""
    for task in (manager._lost_and_found_task, manager._socket_record_task):
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # unlike `await task`, lets our own cancellation through
    assert app.event_namespace is not None
    manager._ensure_socket_record_task()
    manager.ensure_lost_and_found_task(app.event_namespace.emit_update)
    if isinstance(state_manager := app.state_manager, StateManagerRedis):
        state_manager._ensure_lock_task()


def forget_stale_socket_links(app: rx.App) -> int:
    """Drops the `sid_to_token` links of closed tabs that Reflex 0.10 leaves behind; returns how
    many. Its Redis token manager caches another worker's socket record when it looks a token
    up (a push to a user's tabs looks up every one), and when that tab closes it forgets the
    record but not its sid's link (`_handle_socket_record_del`): two strings a tab, for every tab
    another worker served, kept by every worker for as long as it runs. A link is stale when its
    token's record no longer names that sid and the sid is not connected here."""
    namespace = app.event_namespace
    assert namespace is not None and namespace.server is not None, "the app serves websockets once it has started"
    manager = token_manager(app)
    stale = [
        sid
        for sid, token in manager.sid_to_token.items()
        if ((record := manager.token_to_socket.get(token)) is None or record.sid != sid)
        and not namespace.server.manager.is_connected(sid, namespace.namespace)
    ]
    for sid in stale:
        del manager.sid_to_token[sid]
    return len(stale)


async def forget_closed_tabs(app: rx.App, tabs: RedisTabs) -> None:
    """Removes a tab from the registry once Reflex deletes (or expires) its socket record.

    Reflex stores `token_manager_socket_record_{token}` in Redis while a websocket is linked
    and deletes it on disconnect; its keyspace notification is the disconnect signal every
    worker sees. A record that is re-stored at once (Reflex keeps a live socket's record
    alive) is checked with `is_token_connected` before the tab is dropped. Between reads, at
    most every 2 s, the links Reflex leaves of closed tabs are dropped too.
    """
    redis = tabs.redis
    await enable_keyspace_notifications(redis)
    db = redis.get_connection_kwargs().get("db", 0)
    prefix = RedisTokenManager._token_socket_record_prefix
    manager = token_manager(app)
    async with redis.pubsub() as pubsub:
        await pubsub.psubscribe(f"__keyspace@{db}__:{prefix}*")
        links_checked_at = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
            if time.monotonic() - links_checked_at >= LISTEN_TIMEOUT_S:
                forget_stale_socket_links(app)
                links_checked_at = time.monotonic()
            if message is None or message["type"] != "pmessage" or message["data"] not in (b"del", b"expired"):
                continue
            token = message["channel"].decode().split(":", 1)[1].removeprefix(prefix)
            try:
                if not await manager.is_token_connected(token):
                    await tabs.remove(token)
            except Exception:
                log.exception("could not forget closed tab %s", token)
