"""Video statuses and the one transition rule used by the webhook, the poller and the UI."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class VideoStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES = frozenset({VideoStatus.COMPLETED, VideoStatus.FAILED, VideoStatus.CANCELLED})
IN_FLIGHT_STATUSES = frozenset({VideoStatus.PENDING, VideoStatus.PROCESSING})

# Stage of a PENDING video whose /run call got no answer: RunPod may have queued it.
UNCONFIRMED = "unconfirmed"
# Stage of a PENDING video queued again after its job timed out or its worker died.
RETRYING = "retrying"

_RANK = {
    VideoStatus.PENDING: 0,
    VideoStatus.PROCESSING: 1,
    VideoStatus.COMPLETED: 2,
    VideoStatus.FAILED: 2,
    VideoStatus.CANCELLED: 2,
}

_FROM_RUNPOD = {
    "IN_QUEUE": VideoStatus.PENDING,
    "IN_PROGRESS": VideoStatus.PROCESSING,
    "RUNNING": VideoStatus.PROCESSING,
    "COMPLETED": VideoStatus.COMPLETED,
    "FAILED": VideoStatus.FAILED,
    "TIMED_OUT": VideoStatus.FAILED,
    "CANCELLED": VideoStatus.CANCELLED,
}

RUNPOD_STATUSES = frozenset(_FROM_RUNPOD)


def status_from_runpod(runpod_status: str, output: Any) -> VideoStatus:
    """Our status for a RunPod status; a COMPLETED job without a video counts as FAILED."""
    status = _FROM_RUNPOD[runpod_status]
    if status is VideoStatus.COMPLETED and not (isinstance(output, dict) and output.get("video")):
        return VideoStatus.FAILED
    return status


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def may_move(current: str, new: str) -> bool:
    """A status never moves backwards and a terminal status is final.

    Staying in the same non-terminal status is allowed so that progress can advance.
    """
    if is_terminal(current):
        return False
    return _RANK[VideoStatus(new)] >= _RANK[VideoStatus(current)]


def statuses_that_may_move_to(new: str) -> frozenset[VideoStatus]:
    """Every current status from which `may_move` allows `new`: the rule as a SQL condition."""
    return frozenset(status for status in VideoStatus if may_move(status, new))
