"""The per-user limits: unfinished jobs, videos a day and GPU seconds a day.

Checked inside the submit transaction that holds the user's lock (see `JobService.submit`), so
concurrent submits from any number of processes cannot both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openv_app.db import Database
from openv_app.models import utcnow, videos
from openv_app.services.errors import Conflict, QuotaExceeded
from openv_app.services.statuses import IN_FLIGHT_STATUSES, UNCONFIRMED
from openv_app.settings import Settings

QUOTA_WINDOW = timedelta(days=1)
# The GPU time a video used: its last attempt's and any earlier ones' (automatic retries).
GPU_MS = sa.func.coalesce(videos.c.execution_ms, 0) + sa.func.coalesce(videos.c.earlier_attempts_ms, 0)


@dataclass(frozen=True)
class Usage:
    unfinished: int
    videos_today: int
    gpu_seconds_today: float
    videos_limit: int
    gpu_seconds_limit: int | None


@dataclass
class Quota:
    settings: Settings
    db: Database

    async def usage(self, user_id: str) -> Usage:
        """What the user used in the last 24 hours, against the limits."""
        async with self.db.transaction() as connection:
            return await self._usage(connection, user_id)

    async def gpu_time_left(self, user_id: str) -> bool:
        """Whether the user may still use the GPU today (always, without a GPU-time limit)."""
        usage = await self.usage(user_id)
        return usage.gpu_seconds_limit is None or usage.gpu_seconds_today < usage.gpu_seconds_limit

    async def check(self, connection: AsyncConnection, user_id: str) -> None:
        """Raise Conflict (too many unfinished) or QuotaExceeded; run under the user's lock."""
        usage = await self._usage(connection, user_id)
        limit = self.settings.max_concurrent_jobs
        if usage.unfinished >= limit:
            raise Conflict(
                f"You already have {usage.unfinished} videos in progress (limit {limit}); wait for one to finish.",
                unfinished=usage.unfinished,
            )
        if usage.videos_today >= usage.videos_limit:
            raise QuotaExceeded(f"Daily quota of {usage.videos_limit} videos reached; try again later.")
        if usage.gpu_seconds_limit is not None and usage.gpu_seconds_today >= usage.gpu_seconds_limit:
            frees_up = await self._gpu_frees_up_at(connection, user_id, usage.gpu_seconds_today)
            raise QuotaExceeded(
                f"Daily GPU time of {usage.gpu_seconds_limit} s used up ({usage.gpu_seconds_today:.0f} s in the last "
                f"24 hours); it frees up at {frees_up.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
                frees_up_at=frees_up.isoformat(),
            )

    async def _usage(self, connection: AsyncConnection, user_id: str) -> Usage:
        # A job RunPod never confirmed holds no slot: the user is not left waiting on it.
        in_flight = sa.and_(
            videos.c.status.in_(IN_FLIGHT_STATUSES),
            videos.c.deleted_at.is_(None),
            videos.c.stage.is_distinct_from(UNCONFIRMED),
        )
        # Deleted videos count towards the quotas too: deleting must not reset them.
        today = videos.c.created_at >= utcnow() - QUOTA_WINDOW
        unfinished, created_today, gpu_ms = (
            await connection.execute(
                sa.select(
                    sa.func.count().filter(in_flight),
                    sa.func.count().filter(today),
                    sa.func.coalesce(sa.func.sum(GPU_MS).filter(today), 0),
                ).where(videos.c.user_id == user_id)
            )
        ).one()
        return Usage(
            unfinished, created_today, int(gpu_ms) / 1000, self.settings.daily_quota, self.settings.daily_gpu_seconds
        )

    async def _gpu_frees_up_at(self, connection: AsyncConnection, user_id: str, used_s: float) -> datetime:
        """When enough of today's GPU time leaves the 24-hour window to allow another job."""
        limit_s = self.settings.daily_gpu_seconds or 0
        rows = await connection.execute(
            sa.select(videos.c.created_at, GPU_MS)
            .where(videos.c.user_id == user_id, videos.c.created_at >= utcnow() - QUOTA_WINDOW, GPU_MS > 0)
            .order_by(videos.c.created_at)
        )
        for created_at, gpu_ms in rows:
            used_s -= gpu_ms / 1000
            if used_s < limit_s:
                return created_at + QUOTA_WINDOW
        return utcnow()
