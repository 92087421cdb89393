"""The backend's server: gunicorn with uvicorn workers, not Reflex 0.10's default, Granian.

A bare websocket costs 152 KB in Granian 2.8 (it gives each connection tungstenite's default
128 KiB read buffer and has no setting for it) and 57 KB in uvicorn with websockets' sans-I/O
protocol: at 1,000 open tabs, a worker held 237 KB per tab under Granian and 81 KB here
(bench/tab_memory.py, README, Tab memory).

`reflex run` takes uvicorn when REFLEX_USE_GRANIAN is false: `--env prod` runs gunicorn with
uvicorn workers and appends GUNICORN_CMD_ARGS to its command line, so these settings win over
Reflex's. Gunicorn's arbiter replaces a worker that dies (the kernel's OOM killer, a segfault)
at once, and stops when workers cannot boot, so a broken build still fails.

Connections are spread over the workers by the kernel: gunicorn's workers all accept from the
one socket the arbiter bound, and an idle asyncio worker that wakes first takes every new
connection, so twelve tabs opened one after another all landed on one worker. Each worker also
listens on a socket of its own on the same port (SO_REUSEPORT), and Linux hashes connections
across the arbiter's socket and the workers' own.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn_worker import UvicornH11Worker
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

log = logging.getLogger(__name__)

# Compression that keeps nothing between messages. Chromium asks every websocket for
# permessage-deflate, and uvicorn agrees with context takeover, so each tab kept a zlib
# compressor and decompressor for its whole life: 49 KB a tab (a worker's tab cost 122 KB at
# 1,000 tabs with them, 71 KB without; README, Tab memory). Without takeover each message is
# still compressed, by a compressor made for it and freed after it: the studio's first load
# crosses the network in 23 % of its bytes (22 % with takeover), in the same time per message
# (bench/ws_compression.py). The windows and zlib's memLevel are uvicorn's (websockets_sansio_impl.py):
# follow them on an upgrade.
TAB_DEFLATE = ServerPerMessageDeflateFactory(
    server_no_context_takeover=True,
    client_no_context_takeover=True,
    server_max_window_bits=12,
    client_max_window_bits=12,
    compress_settings={"memLevel": 5},
)


class TabWebsocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets sans-I/O protocol with TAB_DEFLATE in place of its own compression
    (uvicorn has only an on/off setting for it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = [TAB_DEFLATE]


# Seconds a stopping worker has to finish its requests before it is killed (gunicorn's default
# is 30): open websockets are closed at once and their tabs reconnect to another worker.
GRACEFUL_TIMEOUT_S = 10


class SansIOWebsocketsWorker(UvicornH11Worker):
    """Reflex's worker class (asyncio's loop, h11) with websockets' sans-I/O protocol: 57 KB per
    idle websocket, where the legacy protocol that `auto` picks holds 123 KB (README, Tab memory);
    its compression keeps nothing per tab (TAB_DEFLATE)."""

    CONFIG_KWARGS: dict[str, Any] = {**UvicornH11Worker.CONFIG_KWARGS, "ws": TabWebsocketProtocol}

    def run(self) -> None:
        shared_sockets: list[Any] = self.sockets  # type: ignore[has-type]  # gunicorn's wrappers of the arbiter's sockets
        own = [listener for shared in shared_sockets if (listener := own_listener(shared, self.cfg.backlog))]
        self.sockets = [*own, *shared_sockets]  # the shared socket still has its share of connections
        super().run()


def own_listener(shared: Any, backlog: int) -> socket.socket | None:
    """A socket of this worker's own on the shared socket's TCP address (gunicorn's wrapper or a
    socket); None for a Unix socket, or when the arbiter's socket was bound without SO_REUSEPORT
    (an operator's GUNICORN_CMD_ARGS may have other binds): the shared socket alone then."""
    if shared.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    own = socket.socket(shared.family, socket.SOCK_STREAM)
    try:
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own.bind(shared.getsockname())
        own.listen(backlog)
    except OSError as error:
        own.close()
        log.warning("worker %d accepts from the shared socket only: %s", os.getpid(), error)
        return None
    own.setblocking(False)
    return own


def gunicorn_args(workers: int) -> list[str]:
    return [
        f"--workers={workers}",
        f"--worker-class={SansIOWebsocketsWorker.__module__}.{SansIOWebsocketsWorker.__name__}",
        f"--graceful-timeout={GRACEFUL_TIMEOUT_S}",
        "--reuse-port",  # the workers' own sockets join the arbiter's on its port
        # Gunicorn 24+ serves a control socket from a thread of the arbiter, which forks the
        # workers: a fork copies a lock that thread holds, held for good in the child.
        "--no-control-socket",
    ]


# What `serve_with_gunicorn` put in front of the operator's GUNICORN_CMD_ARGS, for the next call.
OUR_ARGS_VARIABLE = "OPENV_GUNICORN_ARGS"


def serve_with_gunicorn(workers: int) -> None:
    """Must run before `reflex run` picks its server (rxconfig.py). An operator's own
    REFLEX_USE_GRANIAN keeps its value, and their own GUNICORN_CMD_ARGS come after ours.

    rxconfig.py is loaded again in every worker, and in any process that loads Reflex's config
    (the test runner does), whose children inherit the environment: the arguments an earlier
    call added are replaced, not kept in front of the new ones as if an operator had given them
    (a test runner's one worker would otherwise win over the app's two)."""
    os.environ.setdefault("REFLEX_USE_GRANIAN", "false")
    ours = shlex.join(gunicorn_args(workers))
    given = os.environ.get("GUNICORN_CMD_ARGS", "")
    earlier = os.environ.get(OUR_ARGS_VARIABLE)
    if earlier and given.startswith(earlier):
        given = given.removeprefix(earlier).strip()
    os.environ["GUNICORN_CMD_ARGS"] = f"{ours} {given}".strip()
    os.environ[OUR_ARGS_VARIABLE] = ours
