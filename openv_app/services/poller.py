"""The status poller: repairs missed webhooks and shows progress for jobs in flight.

One per app process. Jobs are leased through a database column (`claim_for_polling`), so with
several processes each job is polled by one of them at a time. Its settings are the `POLL_*`
and `ORPHAN_SWEEP_*` values of `Settings`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import sqlalchemy as sa

from openv_app.models import Video, utcnow, videos
from openv_app.services.jobs import JobService
from openv_app.services.queries import COLUMNS
from openv_app.services.runpod_client import RunPodJob, RunPodJobNotFound
from openv_app.services.statuses import IN_FLIGHT_STATUSES
from openv_app.settings import Settings

log = logging.getLogger(__name__)


def lease_for(settings: Settings) -> timedelta:
    # Longer than a whole sweep plus the pause after it: a claimed job is never polled by
    # another process while this one may still be working on it.
    return timedelta(seconds=settings.poll_sweep_deadline_s + settings.poll_call_timeout_s + settings.poll_interval_s)


async def claim_for_polling(service: JobService, lease: timedelta, limit: int) -> list[Video]:
    """Up to `limit` in-flight jobs whose lease has run out, leased to the caller.

    One statement. SKIP LOCKED lets processes claiming at the same moment take different
    rows; the lease column (not a session lock) keeps the claim, so this also works through
    Supabase's transaction pooler.
    """
    now = utcnow()
    lease_free = sa.or_(videos.c.poll_lease_until.is_(None), videos.c.poll_lease_until < now)
    claimable = (
        sa.select(videos.c.id)
        .where(videos.c.status.in_(IN_FLIGHT_STATUSES), videos.c.runpod_job_id.is_not(None), lease_free)
        .order_by(videos.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await service.queries.many(
        sa.update(videos)
        .where(videos.c.id.in_(claimable), lease_free)
        .values(poll_lease_until=now + lease)
        .returning(*COLUMNS)
    )


async def poll_one(service: JobService, video: Video) -> None:
    """Ask RunPod about one job and apply the answer; a job RunPod forgot has failed."""
    assert video.runpod_job_id is not None
    try:
        report = await service.runpod.status(video.runpod_job_id)
    except RunPodJobNotFound:
        report = RunPodJob(
            id=video.runpod_job_id, status="FAILED", error="The job expired on RunPod before it finished."
        )
    await service.transition(video.id, report, job_id=video.runpod_job_id)


async def poll_once(service: JobService) -> int:
    """One sweep: poll every claimable in-flight job, then tidy up. Returns jobs polled."""
    settings = service.settings
    deadline = time.monotonic() + settings.poll_sweep_deadline_s
    limiter = asyncio.Semaphore(settings.poll_concurrency)
    batch_size = settings.poll_concurrency * 4
    polled = 0
    while time.monotonic() < deadline:
        claimed = await claim_for_polling(service, lease_for(settings), batch_size)
        await asyncio.gather(*(_poll_within_limits(service, video, limiter) for video in claimed))
        polled += len(claimed)
        if len(claimed) < batch_size:
            break
    await service.fail_lost_submissions()
    await service.files.remove_pending_files()
    return polled


async def _poll_within_limits(service: JobService, video: Video, limiter: asyncio.Semaphore) -> None:
    async with limiter:
        try:
            async with asyncio.timeout(service.settings.poll_call_timeout_s):
                await poll_one(service, video)
        except Exception:
            log.exception("polling video %s failed; it is retried when its lease runs out", video.id)


async def run_status_poller(service: JobService) -> None:
    settings = service.settings
    next_orphan_sweep = time.monotonic() + settings.orphan_sweep_interval_s
    while True:
        try:
            await poll_once(service)
            if time.monotonic() >= next_orphan_sweep:
                next_orphan_sweep = time.monotonic() + settings.orphan_sweep_interval_s
                await service.files.sweep_orphan_files(dry_run=settings.orphan_sweep_dry_run)
        except Exception:
            log.exception("status poller sweep failed")
        await asyncio.sleep(settings.poll_interval_s)
