"""Progress reporting for the handler: RunPod's `progress_update` on RunPod, a callback locally.

`runpod.serverless.progress_update` only works inside RunPod's worker runtime, so the local
endpoint installs its own reporter instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Reporter = Callable[[dict[str, Any], dict[str, Any]], None]
_local_reporter: Reporter | None = None


def set_local_reporter(reporter: Reporter | None) -> None:
    global _local_reporter
    _local_reporter = reporter


def report_progress(job: dict[str, Any], update: dict[str, Any]) -> None:
    if _local_reporter is not None:
        _local_reporter(job, update)
        return
    import runpod

    runpod.serverless.progress_update(job, update)
