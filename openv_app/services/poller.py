"""The status poller: progress for jobs whose worker cannot reach the app, and the repair of
lost webhooks. One per app process.

Every job in flight has its own next poll time (`next_poll_at`): it is asked about one
`interval` after its last poll, or later while its worker reports progress itself. Claiming a
due job moves that time to the poll's deadline, so while a poll is in progress no other
process takes the job; when the poll ends the job is scheduled one interval on. The interval
grows with the number of jobs in flight so that all processes together stay within
`runpod_status_rate_per_s` (RunPod: 2,000 `/status` calls per 10 s per endpoint).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from aiolimiter import AsyncLimiter

from openv_app.logs import job_fields
from openv_app.models import Video, utcnow, videos
from openv_app.services.endpoints import ModelUnavailable
from openv_app.services.jobs import JobService
from openv_app.services.queries import COLUMNS, FOLLOWED
from openv_app.services.runpod_client import RunPodJob, RunPodJobNotFound
from openv_app.services.statuses import UNCONFIRMED, VideoStatus

log = logging.getLogger(__name__)

# A row that never got a RunPod job id this long after it last changed was lost mid-submit.
SUBMIT_GRACE = timedelta(minutes=5)
# Beyond the call's own timeout, before a claimed job is due again (a process that died mid-poll).
LEASE_MARGIN = timedelta(seconds=5)
# The interval plans for this share of the rate: the rate limiter then has room to catch up
# with jobs a slow call or a busy moment has made late.
RATE_HEADROOM = 0.9


async def poll_interval_s(service: JobService) -> float:
    """`poll_interval_s`, or longer when more jobs are in flight than the `/status` budget allows."""
    settings = service.settings
    [row] = await service.db.rows(sa.select(sa.func.count().label("jobs")).select_from(videos).where(FOLLOWED))
    return max(settings.poll_interval_s, int(row["jobs"]) / (settings.runpod_status_rate_per_s * RATE_HEADROOM))


async def claim_due_jobs(service: JobService, limit: int) -> tuple[list[Video], datetime]:
    """Up to `limit` jobs whose poll is due, with the deadline of the poll they are now leased
    for. One statement: SKIP LOCKED lets processes claiming at the same moment take different
    rows, and the claim lives in a column (not a session lock), so this also works through
    Supabase's transaction pooler."""
    now = utcnow()
    lease_until = now + timedelta(seconds=service.settings.poll_call_timeout_s) + LEASE_MARGIN
    due = sa.and_(FOLLOWED, sa.or_(videos.c.next_poll_at.is_(None), videos.c.next_poll_at <= now))
    # A materialized CTE: as a plain `IN (subquery)` PostgreSQL may run the subquery more
    # than once, and SKIP LOCKED then hands it more rows than the limit.
    claimable = (
        sa.select(videos.c.id)
        .where(due)
        .order_by(videos.c.next_poll_at.asc().nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("claimable")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claimed = await service.queries.many(
        sa.update(videos).where(videos.c.id == claimable.c.id, due).values(next_poll_at=lease_until).returning(*COLUMNS)
    )
    return claimed, lease_until


async def poll_one(service: JobService, video: Video) -> None:
    """Ask the endpoint of the video's model about its job and apply the answer; a job RunPod
    forgot, or whose model no endpoint serves any more, has failed."""
    assert video.runpod_job_id is not None
    try:
        report = await service.endpoints.for_model(video.model).status(video.runpod_job_id)
    except (RunPodJobNotFound, ModelUnavailable) as error:
        reason = (
            "The job expired on RunPod before it finished."
            if isinstance(error, RunPodJobNotFound)
            else f"This instance no longer has a RunPod endpoint for {video.model}, so the job cannot be followed."
        )
        failed = RunPodJob(id=video.runpod_job_id, status="FAILED", error=reason)
        await service.transition(video.id, failed, job_id=video.runpod_job_id)  # no retry: not transient
        return
    await service.transition(video.id, report, job_id=video.runpod_job_id, attempt=video.attempts)


async def _reschedule(service: JobService, video: Video, lease_until: datetime, interval_s: float) -> None:
    """The poll is over: due again one interval from now, unless something (the worker's own
    progress reports) has already put its next poll further away."""
    now, still_leased = utcnow(), videos.c.next_poll_at == lease_until
    next_poll = sa.case((still_leased, now + timedelta(seconds=interval_s)), else_=videos.c.next_poll_at)
    await service.db.rows(
        sa.update(videos).where(videos.c.id == video.id).values(next_poll_at=next_poll, polled_at=now)
    )


def status_rate_limiter(service: JobService, processes: int = 1) -> AsyncLimiter:
    """This process's share of the `/status` rate: however many jobs fall due at once (after a
    restart, a burst of submits), its calls never come faster than that."""
    return AsyncLimiter(service.settings.runpod_status_rate_per_s / processes, time_period=1)


async def _poll_and_reschedule(
    service: JobService,
    video: Video,
    lease_until: datetime,
    interval_s: float,
    at_once: asyncio.Semaphore,
    rate: AsyncLimiter,
) -> None:
    about_job = job_fields(video.id, video.runpod_job_id)
    async with at_once, rate:
        try:
            async with asyncio.timeout(service.settings.poll_call_timeout_s):
                await poll_one(service, video)
        except Exception:
            log.exception("polling video %s failed; it is polled again in one interval", video.id, extra=about_job)
        try:
            await _reschedule(service, video, lease_until, interval_s)
        except Exception:
            log.exception("rescheduling video %s failed; its lease runs out by itself", video.id, extra=about_job)


async def poll_due_jobs(service: JobService, rate: AsyncLimiter | None = None, interval_s: float | None = None) -> int:
    """Poll every job that is due now, in batches, each due again `interval_s` after its poll
    (`poll_interval_s` when not given). Returns how many were polled."""
    settings = service.settings
    interval_s = interval_s or await poll_interval_s(service)
    rate = rate or status_rate_limiter(service)
    at_once = asyncio.Semaphore(settings.poll_concurrency)
    # No more than the rate allows within the lease: a claimed job is never due again unpolled.
    batch_size = max(1, min(settings.poll_concurrency * 4, int(rate.max_rate * settings.poll_call_timeout_s)))
    polled = 0
    while True:
        claimed, lease_until = await claim_due_jobs(service, batch_size)
        polls = (_poll_and_reschedule(service, v, lease_until, interval_s, at_once, rate) for v in claimed)
        await asyncio.gather(*polls)
        polled += len(claimed)
        if len(claimed) < batch_size:
            return polled


async def fail_lost_submissions(service: JobService) -> int:
    """PENDING rows without a job id that can no longer get one become FAILED: lost
    mid-submit (the app stopped), or unconfirmed by RunPod past the job's whole ttl."""
    now = utcnow()
    unconfirmed_grace = timedelta(seconds=service.job_ttl_s) + SUBMIT_GRACE
    lost = await service.queries.many(
        sa.select(*COLUMNS).where(
            videos.c.status == VideoStatus.PENDING,
            videos.c.runpod_job_id.is_(None),
            sa.or_(
                sa.and_(videos.c.stage.is_distinct_from(UNCONFIRMED), videos.c.updated_at < now - SUBMIT_GRACE),
                sa.and_(videos.c.stage == UNCONFIRMED, videos.c.updated_at < now - unconfirmed_grace),
            ),
        )
    )
    for video in lost:
        reason = (
            "RunPod never confirmed the job; please retry."
            if video.stage == UNCONFIRMED
            else "The job never reached RunPod; please retry."
        )
        await service.fail(video.id, reason)
    return len(lost)


async def poll_once(service: JobService) -> int:
    """Poll what is due, then tidy up (lost submissions, files of deleted videos)."""
    polled = await poll_due_jobs(service)
    await fail_lost_submissions(service)
    await service.files.remove_pending_files()
    return polled


async def run_status_poller(service: JobService, processes: int = 1) -> None:
    """Claims due jobs a few times per interval; once per interval it counts the jobs in flight
    (for the interval) and tidies up. `processes`: how many app processes poll, sharing the
    `/status` rate."""
    settings = service.settings
    rate = status_rate_limiter(service, processes)
    tick_s = min(1.0, max(0.05, settings.poll_interval_s / 5))
    interval_s = settings.poll_interval_s
    next_tidy = next_orphan_sweep = time.monotonic()
    next_orphan_sweep += settings.orphan_sweep_interval_s
    while True:
        try:
            if time.monotonic() >= next_tidy:
                next_tidy = time.monotonic() + settings.poll_interval_s
                interval_s = await poll_interval_s(service)
                await fail_lost_submissions(service)
                await service.files.remove_pending_files()
            await poll_due_jobs(service, rate, interval_s)
            if time.monotonic() >= next_orphan_sweep:
                next_orphan_sweep = time.monotonic() + settings.orphan_sweep_interval_s
                await service.files.sweep_orphan_files(dry_run=settings.orphan_sweep_dry_run)
        except Exception:
            log.exception("status poller sweep failed")
        await asyncio.sleep(tick_s)
