"""The per-user limits: unfinished jobs, videos a day, GPU seconds a day and a month (each the
instance's setting or an admin's override for the user: `accounts.Limits`).

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
from openv_app.services.accounts import Accounts, Limits
from openv_app.services.errors import Conflict, QuotaExceeded
from openv_app.services.statuses import IN_FLIGHT_STATUSES, UNCONFIRMED

QUOTA_WINDOW = timedelta(days=1)
# The GPU time a video used: its last attempt's and any earlier ones' (automatic retries).
GPU_MS = sa.func.coalesce(videos.c.execution_ms, 0) + sa.func.coalesce(videos.c.earlier_attempts_ms, 0)


@dataclass(frozen=True)
class Usage:
    unfinished: int
    videos_today: int
    gpu_seconds_today: float
    gpu_seconds_this_month: float
    limits: Limits

    @property
    def videos_limit(self) -> int:
        return self.limits.daily_videos

    @property
    def gpu_seconds_limit(self) -> int | None:
        return self.limits.daily_gpu_seconds

    @property
    def gpu_time_left(self) -> bool:
        """Whether the user may still use the GPU (always, without GPU-time limits)."""
        daily, monthly = self.limits.daily_gpu_seconds, self.limits.monthly_gpu_seconds
        return (daily is None or self.gpu_seconds_today < daily) and (
            monthly is None or self.gpu_seconds_this_month < monthly
        )


def month_start(now: datetime) -> datetime:
    """The monthly GPU time counts from the first of the calendar month, UTC."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


@dataclass
class Quota:
    accounts: Accounts
    db: Database

    async def usage(self, user_id: str) -> Usage:
        """What the user used in the last 24 hours and this month, against their limits."""
        limits = await self.accounts.limits(user_id)
        async with self.db.transaction() as connection:
            return await self._usage(connection, user_id, limits)

    async def gpu_time_left(self, user_id: str) -> bool:
        return (await self.usage(user_id)).gpu_time_left

    async def check(self, connection: AsyncConnection, user_id: str, limits: Limits) -> None:
        """Raise Conflict (too many unfinished) or QuotaExceeded; run under the user's lock."""
        usage = await self._usage(connection, user_id, limits)
        limit = limits.max_concurrent_jobs
        if usage.unfinished >= limit:
            raise Conflict(
                f"You already have {usage.unfinished} videos in progress (limit {limit}); wait for one to finish.",
                unfinished=usage.unfinished,
            )
        if usage.videos_today >= usage.videos_limit:
            raise QuotaExceeded(f"Daily quota of {usage.videos_limit} videos reached; try again later.")
        if usage.gpu_seconds_limit is not None and usage.gpu_seconds_today >= usage.gpu_seconds_limit:
            frees_up = await self._gpu_frees_up_at(
                connection, user_id, usage.gpu_seconds_today, usage.gpu_seconds_limit
            )
            raise QuotaExceeded(
                f"Daily GPU time of {usage.gpu_seconds_limit} s used up ({usage.gpu_seconds_today:.0f} s in the last "
                f"24 hours); it frees up at {frees_up.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
                frees_up_at=frees_up.isoformat(),
            )
        monthly = limits.monthly_gpu_seconds
        if monthly is not None and usage.gpu_seconds_this_month >= monthly:
            resets = next_month_start(utcnow())
            raise QuotaExceeded(
                f"Monthly GPU time of {monthly} s used up ({usage.gpu_seconds_this_month:.0f} s this month); "
                f"it resets on {resets:%Y-%m-%d} at 00:00 UTC.",
                frees_up_at=resets.isoformat(),
            )

    async def _usage(self, connection: AsyncConnection, user_id: str, limits: Limits) -> Usage:
        # A job RunPod never confirmed holds no slot: the user is not left waiting on it.
        in_flight = sa.and_(
            videos.c.status.in_(IN_FLIGHT_STATUSES),
            videos.c.deleted_at.is_(None),
            videos.c.stage.is_distinct_from(UNCONFIRMED),
        )
        # Deleted videos count towards the quotas too: deleting must not reset them.
        now = utcnow()
        today = videos.c.created_at >= now - QUOTA_WINDOW
        this_month = videos.c.created_at >= month_start(now)
        unfinished, created_today, gpu_ms_today, gpu_ms_month = (
            await connection.execute(
                sa.select(
                    sa.func.count().filter(in_flight),
                    sa.func.count().filter(today),
                    sa.func.coalesce(sa.func.sum(GPU_MS).filter(today), 0),
                    sa.func.coalesce(sa.func.sum(GPU_MS).filter(this_month), 0),
                ).where(videos.c.user_id == user_id, sa.or_(today, this_month, in_flight))
            )
        ).one()
        return Usage(unfinished, created_today, int(gpu_ms_today) / 1000, int(gpu_ms_month) / 1000, limits)

    async def _gpu_frees_up_at(
        self, connection: AsyncConnection, user_id: str, used_s: float, limit_s: int
    ) -> datetime:
        """When enough of today's GPU time leaves the 24-hour window to allow another job."""
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
