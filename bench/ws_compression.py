"""What compressing a tab's websocket saves on the wire and costs the backend.

Starts the app as `make prod` does (one process, PostgreSQL), seeds the dev user's library with
24 finished videos (as bench.tab_memory does), records in Chromium every websocket message of the
studio's first load, both ways, then replays that conversation through websockets'
permessage-deflate, as the server and a browser would run it, under three settings:

- none: what a client that does not ask for compression gets;
- context takeover: uvicorn's own agreement (Chromium asks for permessage-deflate and uvicorn
  agrees with a compressor and a decompressor kept for the life of the tab);
- no context takeover: the app's (openv_app/server.py, TAB_DEFLATE): each message compressed by
  a compressor made for it.

For each: the bytes the server sends and receives (those the tab sends made by websockets'
compressor in the browser's role, not Chromium's), the server's compression time per message it
sends, and what its side of one tab holds between messages (tracemalloc, which sees zlib's
allocations, over 100 tabs).

    bash -c 'source scripts/setup.sh && python -m bench.ws_compression'
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import NamedTuple

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import OP_TEXT, Frame

from bench.tab_memory import open_studio, seed_library
from openv_app.server import TAB_DEFLATE
from tests.support.databases import bench_database
from tests.support.processes import production_app

# TAB_DEFLATE's windows and zlib settings, which are uvicorn's own too: the settings differ only in
# context takeover.
SERVER_WINDOW_BITS = TAB_DEFLATE.server_max_window_bits or 15
TAB_WINDOW_BITS = TAB_DEFLATE.client_max_window_bits or 15
TABS = 100
REPEATS = 200


class Conversation(NamedTuple):
    sent: list[bytes]  # by the tab
    received: list[bytes]  # from the server


class Setting(NamedTuple):
    name: str
    compressed: bool
    takeover: bool


SETTINGS = [
    Setting("none", compressed=False, takeover=False),
    Setting("context takeover (uvicorn's)", compressed=True, takeover=True),
    Setting("no context takeover (the app's)", compressed=True, takeover=False),
]


def record_first_load(url: str) -> Conversation:
    _, recording = open_studio(url)
    return Conversation(list(map(as_bytes, recording.sent)), list(map(as_bytes, recording.received)))


def as_bytes(payload: str | bytes) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload


def server_side(setting: Setting) -> PerMessageDeflate:
    no_takeover = not setting.takeover
    return PerMessageDeflate(
        no_takeover, no_takeover, TAB_WINDOW_BITS, SERVER_WINDOW_BITS, TAB_DEFLATE.compress_settings
    )


def tab_side(setting: Setting) -> PerMessageDeflate:
    """websockets' compressor in the browser's role, with zlib's default settings: Chromium's own
    compressor may make other bytes of the tab's messages."""
    no_takeover = not setting.takeover
    return PerMessageDeflate(no_takeover, no_takeover, SERVER_WINDOW_BITS, TAB_WINDOW_BITS)


def converse(setting: Setting, conversation: Conversation) -> tuple[PerMessageDeflate | None, int, int]:
    """Runs the conversation through one agreement: the server's side, and the payload bytes from
    the tab and from the server."""
    if not setting.compressed:
        return None, sum(map(len, conversation.sent)), sum(map(len, conversation.received))
    server, tab = server_side(setting), tab_side(setting)
    return server, transmit(tab, server, conversation.sent), transmit(server, tab, conversation.received)


def transmit(sender: PerMessageDeflate, receiver: PerMessageDeflate, messages: list[bytes]) -> int:
    sent = 0
    for frame in encoded(sender, messages):
        sent += len(frame.data)
        receiver.decode(frame)
    return sent


def encoded(side: PerMessageDeflate, messages: list[bytes]) -> list[Frame]:
    return [side.encode(Frame(OP_TEXT, message)) for message in messages]


def compress_us_per_message(setting: Setting, messages: list[bytes]) -> str:
    """Per message the server sends; with context takeover, the compressor made for each
    conversation (a tab's) is counted over its messages."""
    if not setting.compressed:
        return "—"
    started = time.perf_counter()
    for _ in range(REPEATS):
        encoded(server_side(setting), messages)
    return f"{(time.perf_counter() - started) / (REPEATS * len(messages)) * 1e6:.1f}"


def held_per_tab_kb(setting: Setting, conversation: Conversation) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [converse(setting, conversation)[0] for _ in range(TABS)]
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del kept
    return held / TABS / 1024


def main() -> None:
    database_url = bench_database()
    seed_library(database_url)
    with tempfile.TemporaryDirectory() as folder:
        with production_app(database_url, "bench-secret", Path(folder) / "reflex.log", LOCAL_STORAGE_DIR=folder) as url:
            conversation = record_first_load(url)
    print(
        f"the studio's first load, 24 cards: {len(conversation.sent)} messages from the tab, "
        f"{len(conversation.received)} from the server, largest {max(map(len, conversation.received)):,} bytes"
    )
    print(f"{'':<34}{'server → tab':>14}{'tab → server':>14}{'µs/message':>12}{'held/tab KB':>13}")
    for setting in SETTINGS:
        _, sent, received = converse(setting, conversation)
        print(
            f"{setting.name:<34}{received:>14,}{sent:>14,}"
            f"{compress_us_per_message(setting, conversation.received):>12}"
            f"{held_per_tab_kb(setting, conversation):>13.1f}"
        )


if __name__ == "__main__":
    main()
