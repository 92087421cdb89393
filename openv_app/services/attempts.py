"""A job's attempts on RunPod: how long one may live there, and which failures are worth one
more try (RunPod's TIMED_OUT, a worker that died), as opposed to the worker's refusals."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from openv_app.models import utcnow, videos
from openv_app.services.errors import ConfigurationError
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.statuses import IN_FLIGHT_STATUSES, RETRYING, VideoStatus
from openv_app.services.transitions import duration_ms, error_text
from openv_app.settings import Settings
from worker.contract import is_refusal

# Between signing the upload URLs and RunPod accepting the job.
TTL_MARGIN_S = 60


def job_ttl_s(settings: Settings, upload_url_lifetime_s: int) -> int:
    """The job's RunPod ttl: never longer than its upload URLs last, or the job could run on the
    GPU after they expired and then fail to upload."""
    longest = upload_url_lifetime_s - TTL_MARGIN_S
    ttl = settings.runpod_job_ttl_s or longest
    if ttl > longest:
        raise ConfigurationError(
            f"RUNPOD_JOB_TTL_S={ttl} outlives the storage's upload URLs ({upload_url_lifetime_s} s): "
            f"set it to at most {longest}, or leave it unset"
        )
    if ttl <= settings.runpod_execution_timeout_s:
        raise ConfigurationError(
            f"the job ttl ({ttl} s, queue and run) must be longer than RUNPOD_EXECUTION_TIMEOUT_S "
            f"({settings.runpod_execution_timeout_s} s)"
        )
    return ttl


def is_transient(report: RunPodJob) -> bool:
    """A failure that another attempt may not repeat: the job ran out of time, or it failed
    without the worker refusing it (the worker died, lost its GPU, could not upload)."""
    if report.status == "TIMED_OUT":
        return True
    if report.status != "FAILED":
        return False
    error = report.error.get("error_message") if isinstance(report.error, dict) else report.error
    return not (isinstance(error, str) and is_refusal(error))


def queue_again_update(
    video_id: uuid.UUID, report: RunPodJob, job_id: str, attempt: int, uploads_expire_at: datetime
) -> sa.Update:
    """`UPDATE … RETURNING *` that makes the video PENDING for its next attempt, keeping the
    failure's text and adding the GPU time that ran to `earlier_attempts_ms`. It matches only
    the live video at this attempt and job: a duplicated or late failure report matches nothing."""
    return (
        sa.update(videos)
        .where(
            videos.c.id == video_id,
            videos.c.attempts == attempt,
            videos.c.status.in_(IN_FLIGHT_STATUSES),
            videos.c.deleted_at.is_(None),
            sa.or_(videos.c.runpod_job_id == job_id, videos.c.runpod_job_id.is_(None)),
        )
        .values(
            attempts=attempt + 1,
            status=VideoStatus.PENDING,
            runpod_status=report.status,
            runpod_job_id=None,
            progress=0,
            stage=RETRYING,
            error=error_text(report),
            earlier_attempts_ms=sa.func.coalesce(videos.c.earlier_attempts_ms, 0)
            + (duration_ms(report.execution_time) or 0),
            next_poll_at=None,
            uploads_expire_at=uploads_expire_at,
            updated_at=utcnow(),
        )
        .returning(*videos.c)
    )
