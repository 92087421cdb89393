"""The status poller: repairs missed webhooks and shows progress for jobs in flight.

One per app process; with several processes the database lease in
`JobService.claim_for_polling` gives each job to one of them at a time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from openv_app.services.jobs import JobService

log = logging.getLogger(__name__)


async def poll_once(service: JobService, lease: timedelta) -> int:
    """One sweep: poll every claimable in-flight job, then tidy up. Returns jobs polled."""
    videos = service.claim_for_polling(lease)
    for video in videos:
        try:
            await service.poll_one(video)
        except Exception:
            log.exception("polling video %s failed; it is retried when its lease runs out", video.id)
    await service.fail_lost_submissions()
    await service.remove_pending_files()
    return len(videos)


async def run_status_poller(service: JobService, interval_s: float) -> None:
    # The lease outlives one sweep, so a slow sweep is not polled twice by another process.
    lease = timedelta(seconds=max(interval_s * 2, 5))
    while True:
        try:
            await poll_once(service, lease)
        except Exception:
            log.exception("status poller sweep failed")
        await asyncio.sleep(interval_s)
