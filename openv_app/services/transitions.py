"""The one transition rule: what a RunPod report (webhook, /status or a user action) does to a video.

`report_effect` turns a report into the column changes it asks for, cleaned so that any value
fits its column: a report with odd values still applies its status (a terminal report must
never be rejected and leave a video holding a job slot). The same effect is applied two ways:
- `apply_runpod_status`: to a `Video` in memory (the readable statement of the rule);
- `transition_update`: as one conditional `UPDATE … RETURNING` and its parameters, which is
  how the app applies reports, in a single round trip. The permutation tests check the two agree.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from openv_app.models import Video, utcnow, videos
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.statuses import (
    VideoStatus,
    is_terminal,
    may_move,
    status_from_runpod,
    statuses_that_may_move_to,
)
from openv_app.services.storage import video_paths
from openv_app.services.text import clean_text

MAX_STAGE_LENGTH = 50
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class StoredFile:
    """`{user_id}/{video_id}{suffix}`: known in SQL only through the row's user_id."""

    suffix: str


@dataclass(frozen=True)
class Change:
    column: str
    value: Any
    # Progress only ever rises: the column keeps the larger of the two.
    at_least: bool = False


@dataclass(frozen=True)
class QuietPeriod:
    """What a direct progress report does to the poller: the job's next poll comes no sooner
    than `until`, unless its last poll was before `unless_polled_before` (then it stays due)."""

    until: datetime
    unless_polled_before: datetime


@dataclass(frozen=True)
class ReportEffect:
    status: VideoStatus
    changes: tuple[Change, ...]

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)


def report_effect(report: RunPodJob, now: datetime | None = None) -> ReportEffect:
    """The column changes a report asks for. `report.status` must be a known RunPod status."""
    status = status_from_runpod(report.status, report.output)
    output = report.output if isinstance(report.output, dict) else {}
    changes = [Change("status", status.value), Change("runpod_status", report.status)]
    if status is VideoStatus.PROCESSING:
        changes.append(Change("progress", progress_percent(output), at_least=True))
        if (stage := clean_text(output.get("stage"), MAX_STAGE_LENGTH)) is not None:
            changes.append(Change("stage", stage))
    elif status is VideoStatus.COMPLETED:
        changes += [
            Change("video_path", StoredFile(".mp4")),
            Change("poster_path", StoredFile(".jpg") if output.get("poster") else None),
            Change("duration_s", finite_number(output.get("duration_s"))),
            Change("timings", clean_timings(output.get("timings"))),
            Change("progress", 100),
            Change("stage", "done"),
            Change("error", None),  # an earlier attempt's failure no longer applies
        ]
    elif status is VideoStatus.FAILED:
        changes.append(Change("error", error_text(report)))
    if is_terminal(status):
        changes.append(Change("completed_at", now or utcnow()))
        # The job's final queue and GPU time (progress reports' growing values are not kept).
        for column, value in (("delay_ms", report.delay_time), ("execution_ms", report.execution_time)):
            if (milliseconds := duration_ms(value)) is not None:
                changes.append(Change(column, milliseconds))
    return ReportEffect(status, tuple(changes))


# --- in memory ------------------------------------------------------------------------------


def apply_runpod_status(video: Video, report: RunPodJob, now: datetime | None = None) -> bool:
    """Apply one report to a video in memory. Returns whether anything changed.

    A status never moves backwards and a terminal status is final, so late, duplicated and
    out-of-order reports change nothing.
    """
    effect = report_effect(report, now)
    if not may_move(video.status, effect.status):
        return False
    changed = effect.terminal
    for change in effect.changes:
        current = getattr(video, change.column)
        new = _value_in_memory(video, change)
        if change.at_least:
            new = max(current, new)
        changed = changed or new != current
        setattr(video, change.column, new)
    return changed


def _value_in_memory(video: Video, change: Change) -> Any:
    if isinstance(change.value, StoredFile):
        mp4, jpg = video_paths(video.user_id, str(video.id))
        return mp4 if change.value.suffix == ".mp4" else jpg
    return change.value


# --- as one SQL statement -------------------------------------------------------------------


def transition_update(
    video_id: uuid.UUID,
    job_id: str | None,
    report: RunPodJob,
    now: datetime | None = None,
    attempt: int | None = None,
    quiet: QuietPeriod | None = None,
) -> tuple[sa.Update, dict[str, Any]]:
    """`UPDATE videos … WHERE <this video and job> AND <the rule allows it and it changes something>
    RETURNING *`, with its parameters: no row back means nothing changed (or no such video/job).

    A report for a video whose job id is not stored yet adopts the id: the webhook token already
    proved which video it is for, and RunPod can finish before `/run`'s answer was stored.
    With `attempt`, only that attempt's video matches (a report of a job that was retried
    changes nothing); with `quiet`, the poller leaves the job alone a while (its worker reports
    by itself).
    """
    now = now or utcnow()
    effect = report_effect(report, now)
    parameters: dict[str, Any] = {
        "video_id": video_id,
        "job_id": job_id,
        "now": now,
        "attempt": attempt,
        "quiet_until": quiet.until if quiet else None,
        "stale_before": quiet.unless_polled_before if quiet else None,
    }
    for change in effect.changes:
        value = change.value
        parameters[change.column] = f"/{video_id}{value.suffix}" if isinstance(value, StoredFile) else value
    options = (job_id is not None, attempt is not None, quiet is not None)
    return _statement_for(_shape_of(effect), *options), parameters


def _shape_of(effect: ReportEffect) -> tuple[Any, ...]:
    """What the statement's SQL depends on; the values travel as parameters."""
    changes = tuple(
        (change.column, change.at_least, isinstance(change.value, StoredFile), change.value is None)
        for change in effect.changes
    )
    return effect.status, changes


@lru_cache(maxsize=256)
def _statement_for(shape: tuple[Any, ...], with_job: bool, with_attempt: bool, with_quiet: bool) -> sa.Update:
    """Built once per shape of report: building SQLAlchemy expressions costs more CPU than a
    round trip to a nearby database."""
    status, changes = shape
    values: dict[str, Any] = {"updated_at": sa.bindparam("now", type_=videos.c.updated_at.type)}
    differs = []
    for column_name, at_least, stored_file, is_null in changes:
        column = videos.c[column_name]
        if stored_file:  # `{user_id}/{video_id}.mp4`: the user id is in the row
            new = videos.c.user_id + sa.bindparam(column_name, type_=sa.String())
        elif is_null:
            new = sa.null()
        else:
            new = sa.bindparam(column_name, type_=column.type)
        if at_least:
            values[column_name] = sa.case((column < new, new), else_=column)
            differs.append(column < new)
        else:
            values[column_name] = new
            differs.append(column.is_distinct_from(new))
    where = [
        videos.c.id == sa.bindparam("video_id", type_=videos.c.id.type),
        videos.c.status.in_(sorted(allowed.value for allowed in statuses_that_may_move_to(status))),
    ]
    if with_job:
        job_id = sa.bindparam("job_id", type_=videos.c.runpod_job_id.type)
        where.append(sa.or_(videos.c.runpod_job_id == job_id, videos.c.runpod_job_id.is_(None)))
        values["runpod_job_id"] = sa.func.coalesce(videos.c.runpod_job_id, job_id)
        differs.append(videos.c.runpod_job_id.is_(None))
    if with_attempt:
        where.append(videos.c.attempts == sa.bindparam("attempt", type_=videos.c.attempts.type))
    if with_quiet:
        # Pushed back one interval per report, but a job is still polled every
        # `poll_interval_with_reports_s`: no push once its last poll is older than `stale_before`.
        quiet_until = sa.bindparam("quiet_until", type_=videos.c.next_poll_at.type)
        stale_before = sa.bindparam("stale_before", type_=videos.c.polled_at.type)
        recently_polled = sa.func.coalesce(videos.c.polled_at, videos.c.created_at) > stale_before
        later = sa.or_(videos.c.next_poll_at.is_(None), videos.c.next_poll_at < quiet_until)
        values["next_poll_at"] = sa.case((sa.and_(recently_polled, later), quiet_until), else_=videos.c.next_poll_at)
    if not is_terminal(status):
        where.append(sa.or_(*differs))
    return sa.update(videos).where(*where).values(values).returning(*videos.c)


# --- cleaning what a report carries ---------------------------------------------------------


def finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def duration_ms(value: Any) -> int | None:
    """A non-negative whole number of milliseconds, at most about 30 years."""
    number = finite_number(value)
    if number is None or number < 0:
        return None
    return int(min(number, 10**12))


def clean_timings(value: Any) -> dict[str, float] | None:
    """The worker's timings as a small map of names to finite numbers (JSON cannot hold NaN)."""
    if not isinstance(value, dict):
        return None
    cleaned = {}
    for key, raw in list(value.items())[:20]:
        name, number = clean_text(key, MAX_STAGE_LENGTH), finite_number(raw)
        if name and number is not None:
            cleaned[name] = number
    return cleaned or None


def progress_percent(output: dict[str, Any]) -> int:
    step, total = finite_number(output.get("step")), finite_number(output.get("total"))
    if step is None or total is None or total <= 0:
        return 0
    share = 100 * step / total  # may overflow to inf for extreme values
    if not math.isfinite(share):
        return 99 if share > 0 else 0
    # 99 at most: 100 means the video is stored, which only COMPLETED says.
    return max(0, min(99, int(share)))


def error_text(report: RunPodJob) -> str:
    if report.status == "TIMED_OUT":
        return "The job ran past its time limit on RunPod."
    if report.status == "COMPLETED":
        output = report.output if isinstance(report.output, dict) else {}
        error: Any = output.get("error") or "The worker finished without producing a video."
    else:
        error = report.error
        if isinstance(error, dict):
            error = error.get("error_message") or error.get("error") or error
        error = error or "The job failed on RunPod without an error message."
    return clean_text(error if isinstance(error, str) else str(error), MAX_ERROR_LENGTH) or "The job failed."
