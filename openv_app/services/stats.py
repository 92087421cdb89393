"""What the operator's metrics read from the database (`/metrics`): videos by status, jobs in
flight and how overdue the most overdue poll is. One query, kept for a few seconds, so that
frequent scrapes (or several Prometheus servers) cost at most one query per STATS_MAX_AGE_S."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import sqlalchemy as sa

from openv_app.db import Database
from openv_app.metrics import JobStats
from openv_app.models import utcnow, videos
from openv_app.services.queries import FOLLOWED
from openv_app.services.statuses import VideoStatus

STATS_MAX_AGE_S = 5.0


def stats_statement() -> sa.Select:
    """Per status: how many videos, how many of them the poller follows, and since when the
    first of those has been due. A job never scheduled (`next_poll_at` empty) is due since it
    last changed, which is when it got its RunPod job id."""
    due_since = sa.func.coalesce(videos.c.next_poll_at, videos.c.updated_at)
    return sa.select(
        videos.c.status,
        sa.func.count().label("videos"),
        sa.func.sum(sa.case((FOLLOWED, 1), else_=0)).label("followed"),
        sa.func.min(sa.case((FOLLOWED, due_since))).label("first_due"),
    ).group_by(videos.c.status)


def stats_from_rows(rows: list[sa.RowMapping], now: datetime) -> JobStats:
    by_status = {str(status): 0 for status in VideoStatus} | {row["status"]: int(row["videos"]) for row in rows}
    due = [row["first_due"] for row in rows if row["first_due"] is not None]
    lag_s = max(0.0, (now - min(due)).total_seconds()) if due else 0.0
    return JobStats(by_status=by_status, in_flight=sum(int(row["followed"] or 0) for row in rows), poll_lag_s=lag_s)


class JobStatsReader:
    """Per process (`service.stats`): the latest `JobStats`, read again once it is older than
    `max_age_s`. Concurrent scrapes wait for one query instead of each running their own."""

    def __init__(self, db: Database, max_age_s: float = STATS_MAX_AGE_S) -> None:
        self.db, self.max_age_s = db, max_age_s
        self._lock = asyncio.Lock()
        self._stats: JobStats | None = None
        self._read_at = 0.0

    async def read(self) -> JobStats:
        async with self._lock:
            if self._stats is None or time.monotonic() - self._read_at >= self.max_age_s:
                self._stats = stats_from_rows(await self.db.rows(stats_statement()), utcnow())
                self._read_at = time.monotonic()
            return self._stats
