"""Production backend workers that come back when one dies.

`reflex run --env prod` serves through Granian with several workers and builds Granian's
`Server` itself, without its `respawn_failed_workers` option: one worker killed (the kernel's
OOM killer, a segfault) then stopped the whole app. Reflex 0.10 has no setting for it, so
`rxconfig.py` (loaded by the Reflex CLI before it starts Granian) swaps in a `Server` whose
default turns the option on. Granian replaces a dead worker after its `respawn_interval`
(3.5 s) and still exits on a crash loop (a worker dying within 5.5 s of its respawn), so a
broken build fails as before.
"""

from __future__ import annotations

from typing import Any


def respawn_failed_workers() -> None:
    try:
        import granian.server
    except ImportError:  # uvicorn fallback or a machine without Granian: nothing to change
        return
    base = granian.server.Server
    if getattr(base, "respawns_failed_workers", False):
        return

    class RespawningServer(base):  # type: ignore[misc,valid-type]
        respawns_failed_workers = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            super().__init__(*args, **kwargs)

    granian.server.Server = RespawningServer
