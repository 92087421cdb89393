"""The status poller: repairs missed webhooks and shows progress for jobs in flight.

One per app process. Jobs are leased through a database column (`JobService.claim_for_polling`),
so with several processes each job is polled by one of them at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from openv_app.models import Video
from openv_app.services.jobs import JobService
from openv_app.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollerConfig:
    interval_s: float
    concurrency: int = 16
    call_timeout_s: float = 10.0
    sweep_deadline_s: float = 30.0
    orphan_sweep_interval_s: float = 3600.0
    orphan_sweep_dry_run: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PollerConfig:
        return cls(
            interval_s=settings.poll_interval_s,
            concurrency=settings.poll_concurrency,
            call_timeout_s=settings.poll_call_timeout_s,
            sweep_deadline_s=settings.poll_sweep_deadline_s,
            orphan_sweep_interval_s=settings.orphan_sweep_interval_s,
            orphan_sweep_dry_run=settings.orphan_sweep_dry_run,
        )

    @property
    def lease(self) -> timedelta:
        # Longer than a whole sweep plus the pause after it: a claimed job is never polled by
        # another process while this one may still be working on it.
        return timedelta(seconds=self.sweep_deadline_s + self.call_timeout_s + self.interval_s)

    @property
    def batch_size(self) -> int:
        return self.concurrency * 4


async def poll_once(service: JobService, config: PollerConfig) -> int:
    """One sweep: poll every claimable in-flight job, then tidy up. Returns jobs polled."""
    deadline = time.monotonic() + config.sweep_deadline_s
    limiter = asyncio.Semaphore(config.concurrency)
    polled = 0
    while time.monotonic() < deadline:
        videos = await service.claim_for_polling(config.lease, config.batch_size)
        await asyncio.gather(*(_poll_within_limits(service, video, limiter, config.call_timeout_s) for video in videos))
        polled += len(videos)
        if len(videos) < config.batch_size:
            break
    await service.fail_lost_submissions()
    await service.remove_pending_files()
    return polled


async def _poll_within_limits(service: JobService, video: Video, limiter: asyncio.Semaphore, timeout_s: float) -> None:
    async with limiter:
        try:
            async with asyncio.timeout(timeout_s):
                await service.poll_one(video)
        except Exception:
            log.exception("polling video %s failed; it is retried when its lease runs out", video.id)


async def run_status_poller(service: JobService, config: PollerConfig) -> None:
    next_orphan_sweep = time.monotonic() + config.orphan_sweep_interval_s
    while True:
        try:
            await poll_once(service, config)
            if time.monotonic() >= next_orphan_sweep:
                next_orphan_sweep = time.monotonic() + config.orphan_sweep_interval_s
                await service.sweep_orphan_files(dry_run=config.orphan_sweep_dry_run)
        except Exception:
            log.exception("status poller sweep failed")
        await asyncio.sleep(config.interval_s)
