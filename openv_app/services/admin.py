"""Running the instance: the users and what they spend, their roles, limits and access,
vouchers, every job in flight, the RunPod endpoint's health. Admins only; every change is
written to the audit log in the transaction that makes it.

Anyone else is told "not found", as if none of this existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from openv_app.models import Account, AuditEntry, LimitOverrides, Role, Video, Voucher, accounts, utcnow, videos
from openv_app.services import audit
from openv_app.services.errors import Conflict, NotFound
from openv_app.services.jobs import JobService
from openv_app.services.queries import COLUMNS, as_uuid
from openv_app.services.quota import GPU_MS, QUOTA_WINDOW, month_start
from openv_app.services.statuses import IN_FLIGHT_STATUSES, VideoStatus, is_terminal
from openv_app.services.vouchers import Vouchers, VoucherSpec

log = logging.getLogger(__name__)

LIMIT = Field(default=None, ge=0, le=10_000_000)


class UserChanges(BaseModel):
    """An admin's change to a user. A limit set to null goes back to the instance's setting."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "user", "restricted"] = "user"
    disabled: bool = False
    max_concurrent_jobs: int | None = LIMIT
    daily_videos: int | None = LIMIT
    daily_gpu_seconds: int | None = LIMIT
    monthly_gpu_seconds: int | None = LIMIT

    def given(self) -> dict[str, Any]:
        """Only what the admin sent (an absent field is left as it is)."""
        return self.model_dump(include=self.model_fields_set)


class UserOverview(LimitOverrides):
    user_id: str
    email: str | None
    role: str
    disabled: bool
    created_at: datetime
    gpu_seconds_today: float
    gpu_seconds_this_month: float
    jobs: dict[str, int]
    # Failed among finished (completed or failed) videos; None before any finished.
    failure_rate: float | None


class JobInFlight(BaseModel):
    id: str
    user_id: str
    status: str
    stage: str | None
    progress: int
    model: str
    prompt: str
    runpod_job_id: str | None
    created_at: datetime


@dataclass
class Admin:
    jobs: JobService

    def __post_init__(self) -> None:
        self.vouchers = Vouchers(self.jobs.db, self.jobs.accounts)

    async def require_admin(self, user_id: str) -> Account:
        """The caller's account if they are an enabled admin; NotFound for anyone else."""
        account = await self.jobs.accounts.get(user_id)
        if account.role != Role.ADMIN or account.disabled_at is not None:
            raise NotFound("not found")
        return account

    # users --------------------------------------------------------------------------------

    async def users(self, limit: int = 200, offset: int = 0, only: str | None = None) -> list[UserOverview]:
        """Newest accounts first (`only`: that one user's)."""
        now = utcnow()
        today = videos.c.created_at >= now - QUOTA_WINDOW
        this_month = videos.c.created_at >= month_start(now)
        spent = (
            sa.select(
                videos.c.user_id,
                sa.func.coalesce(sa.func.sum(GPU_MS).filter(today), 0).label("today_ms"),
                sa.func.coalesce(sa.func.sum(GPU_MS).filter(this_month), 0).label("month_ms"),
            )
            .group_by(videos.c.user_id)
            .subquery()
        )
        rows = await self.jobs.db.rows(
            sa.select(accounts, spent.c.today_ms, spent.c.month_ms)
            .select_from(accounts.outerjoin(spent, spent.c.user_id == accounts.c.user_id))
            .where(accounts.c.user_id == only if only is not None else sa.true())
            .order_by(accounts.c.created_at.desc(), accounts.c.user_id)
            .limit(limit)
            .offset(offset)
        )
        counts = await self._jobs_by_status([row["user_id"] for row in rows])
        return [self._overview(row, counts.get(row["user_id"], {})) for row in rows]

    async def _jobs_by_status(self, user_ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        if not user_ids:
            return counts
        rows = await self.jobs.db.rows(
            sa.select(videos.c.user_id, videos.c.status, sa.func.count().label("n"))
            .where(videos.c.user_id.in_(user_ids))
            .group_by(videos.c.user_id, videos.c.status)
        )
        for row in rows:
            counts.setdefault(row["user_id"], {})[row["status"]] = row["n"]
        return counts

    @staticmethod
    def _overview(row: Any, jobs: dict[str, int]) -> UserOverview:
        account = Account.model_validate(row)
        finished = jobs.get(VideoStatus.COMPLETED, 0) + jobs.get(VideoStatus.FAILED, 0)
        return UserOverview(
            **account.model_dump(include=set(LimitOverrides.model_fields) | {"user_id", "email", "role", "created_at"}),
            disabled=account.disabled_at is not None,
            gpu_seconds_today=int(row["today_ms"] or 0) / 1000,
            gpu_seconds_this_month=int(row["month_ms"] or 0) / 1000,
            jobs=jobs,
            failure_rate=round(jobs.get(VideoStatus.FAILED, 0) / finished, 4) if finished else None,
        )

    async def change_user(self, actor_id: str, user_id: str, changes: UserChanges) -> UserOverview:
        """Set a user's role, limits or access. Disabling also cancels their jobs in flight."""
        given = changes.given()
        if user_id == actor_id and (given.get("role", Role.ADMIN) != Role.ADMIN or given.get("disabled")):
            raise Conflict("You can't demote or disable yourself; ask another admin.", field="role")
        values = {name: value for name, value in given.items() if name != "disabled"}
        if "disabled" in given:
            values["disabled_at"] = utcnow() if given["disabled"] else None
        # The user's submit lock: a submit either sees the change or ran before it (and its
        # job is then in flight, where disabling finds it).
        async with self.jobs.db.transaction(lock_key=f"submit:{user_id}") as connection:
            changed = await connection.execute(
                sa.update(accounts)
                .where(accounts.c.user_id == user_id)
                .values(**values, updated_at=utcnow())
                .returning(accounts.c.user_id)
            )
            if changed.first() is None:
                raise NotFound("user not found")
            await audit.record(connection, actor_id, "change_user", user_id, **given)
        if given.get("disabled"):
            await self._cancel_all_of(user_id, "Cancelled: the account was disabled")
        return (await self.users(only=user_id))[0]

    async def _cancel_all_of(self, user_id: str, reason: str) -> None:
        in_flight = await self.jobs.queries.many(
            sa.select(*COLUMNS).where(
                videos.c.user_id == user_id, videos.c.status.in_(IN_FLIGHT_STATUSES), videos.c.deleted_at.is_(None)
            )
        )
        for video in in_flight:
            await self._cancel(video, reason)

    async def _cancel(self, video: Video, reason: str) -> Video:
        try:
            return await self.jobs.cancel(video.user_id, video.id, reason)
        except Conflict:
            return video  # it ended meanwhile

    # vouchers -----------------------------------------------------------------------------

    async def create_voucher(self, actor_id: str, spec: VoucherSpec) -> Voucher:
        async with self.jobs.db.transaction() as connection:
            voucher = await self.vouchers.create(connection, actor_id, spec)
            await audit.record(connection, actor_id, "create_voucher", voucher.code, max_uses=voucher.max_uses)
        return voucher

    async def revoke_voucher(self, actor_id: str, code: str) -> Voucher:
        async with self.jobs.db.transaction() as connection:
            voucher = await self.vouchers.revoke(connection, code)
            await audit.record(connection, actor_id, "revoke_voucher", voucher.code)
        return voucher

    # jobs -----------------------------------------------------------------------------------

    async def jobs_in_flight(self, limit: int = 200) -> list[JobInFlight]:
        rows = await self.jobs.queries.many(
            sa.select(*COLUMNS)
            .where(videos.c.status.in_(IN_FLIGHT_STATUSES), videos.c.deleted_at.is_(None))
            .order_by(videos.c.created_at)
            .limit(limit)
        )
        return [
            JobInFlight(
                **video.model_dump(include=set(JobInFlight.model_fields) - {"id", "prompt"}),
                id=str(video.id),
                prompt=video.prompt[:200],
            )
            for video in rows
        ]

    async def cancel_job(self, actor_id: str, video_id: str) -> Video:
        video = await self.jobs.queries.by_id(as_uuid(video_id))
        if video.deleted_at is not None or is_terminal(video.status):
            raise Conflict(f"video is already {video.status.lower()}")
        cancelled = await self._cancel(video, "Cancelled by an admin")
        async with self.jobs.db.transaction() as connection:
            await audit.record(connection, actor_id, "cancel_job", str(video.id), owner=video.user_id)
        return cancelled

    async def endpoint_health(self) -> dict[str, Any]:
        """`{model: health}` for each model's RunPod endpoint."""
        return await self.jobs.endpoints.health()

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        return await audit.recent(self.jobs.db, limit)
