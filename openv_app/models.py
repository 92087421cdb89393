"""Database tables (SQLModel). Every table the app owns lives in this module."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    SQLite drops the offset on storage, so values read back are re-tagged as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _timestamp(nullable: bool = True, **kwargs: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, **kwargs)


class GenerationColumns(SQLModel):
    """A video's generation settings as stored (the model aside): what a shared video shows."""

    prompt: str = Field(sa_type=sa.Text)
    negative_prompt: str = Field(default="", sa_type=sa.Text)
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    seed: int = Field(sa_type=sa.BigInteger)


class VideoBase(GenerationColumns):
    """What a video's owner sees of it: the API's VideoOut adds signed URLs to these."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    model: str = Field(max_length=100)
    status: str = Field(default="PENDING", max_length=20)
    runpod_status: str | None = Field(default=None, max_length=20)
    runpod_job_id: str | None = Field(default=None, max_length=255, unique=True)
    progress: int = 0
    stage: str | None = Field(default=None, max_length=50)
    duration_s: float | None = None
    error: str | None = Field(default=None, sa_type=sa.Text)
    # RunPod's delayTime (waiting for a worker) and executionTime (GPU time) of the finished job.
    delay_ms: int | None = Field(default=None, sa_type=sa.BigInteger)
    execution_ms: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Automatic retries after a transient failure (RunPod's TIMED_OUT, a worker that died), and
    # the GPU time the earlier attempts used: the user is charged for what ran.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    earlier_attempts_ms: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Set while the owner shares the video: the unguessable part of its public link /v/{slug}.
    share_slug: str | None = Field(default=None, max_length=64, unique=True)
    # How a start image of another aspect ratio was fitted ("crop" or "pad"; the job contract's).
    image_fit: str = Field(default="crop", max_length=10, sa_column_kwargs={"server_default": "crop"})

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    completed_at: datetime | None = _timestamp()


class Video(VideoBase, table=True):
    __tablename__ = "videos"
    __table_args__ = (
        sa.Index("ix_videos_user_created", "user_id", sa.text("created_at DESC")),
        sa.Index("ix_videos_status", "status"),
    )

    user_id: str = Field(max_length=255)
    video_path: str | None = Field(default=None, max_length=500)
    poster_path: str | None = Field(default=None, max_length=500)
    # The start image (`{user_id}/images/{image_id}.jpg`) the video was made from, if any;
    # several videos may share one (retry, remix), and it goes with the last of them.
    start_image_path: str | None = Field(default=None, max_length=500, index=True)
    timings: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    deleted_at: datetime | None = _timestamp()
    # Set once the stored files of a deleted video are gone; until then cleanup retries.
    files_removed_at: datetime | None = _timestamp()
    # When the status poller next asks RunPod about this job. While a poll is in progress it
    # holds the poll's deadline instead, so no other process polls the job meanwhile.
    next_poll_at: datetime | None = _timestamp(index=True)
    polled_at: datetime | None = _timestamp()
    # After this the worker's signed upload URLs no longer work: files of a stopped job can be
    # removed without a late upload leaving an orphan.
    uploads_expire_at: datetime | None = _timestamp()


# The table itself, for Core statements: its columns are typed SQL expressions, where the model's
# class attributes read as plain values to a type checker.
videos: sa.Table = Video.__table__  # type: ignore[attr-defined]


# --- who may generate (issue "public instance") -------------------------------------------------


class Role:
    """What a user may do: `restricted` users sign in and watch, `user`s also generate, `admin`s
    also run the instance (the admin page)."""

    ADMIN = "admin"
    USER = "user"
    RESTRICTED = "restricted"
    ALL = (ADMIN, USER, RESTRICTED)


class LimitOverrides(SQLModel):
    """Per-user limits set by an admin; None: the instance's setting applies."""

    max_concurrent_jobs: int | None = None
    daily_videos: int | None = None
    daily_gpu_seconds: int | None = None
    monthly_gpu_seconds: int | None = None


class Account(LimitOverrides, table=True):
    """A user the app has seen (created on first sign-in), with what the instance lets them do."""

    __tablename__ = "accounts"

    user_id: str = Field(primary_key=True, max_length=255)
    # The verified e-mail address Clerk had when the account was created (None in dev mode).
    email: str | None = Field(default=None, max_length=320)
    role: str = Field(max_length=20)
    disabled_at: datetime | None = _timestamp()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TermsAcceptance(SQLModel, table=True):
    """A user accepted this version of the operator's terms at this time."""

    __tablename__ = "terms_acceptances"

    user_id: str = Field(primary_key=True, max_length=255)
    version: str = Field(primary_key=True, max_length=100)
    accepted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Voucher(SQLModel, table=True):
    """A code an admin hands out: redeeming it makes a restricted user a full user."""

    __tablename__ = "vouchers"

    code: str = Field(primary_key=True, max_length=64)
    max_uses: int
    uses: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    note: str = Field(default="", max_length=200)
    expires_at: datetime | None = _timestamp()
    revoked_at: datetime | None = _timestamp()
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class VoucherRedemption(SQLModel, table=True):
    """Who redeemed which code (a user redeems a code once)."""

    __tablename__ = "voucher_redemptions"

    code: str = Field(primary_key=True, max_length=64, foreign_key="vouchers.code")
    user_id: str = Field(primary_key=True, max_length=255)
    redeemed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AuditEntry(SQLModel, table=True):
    """One admin action: who did what to whom, when."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: str = Field(max_length=255)
    action: str = Field(max_length=50)
    target: str = Field(max_length=255)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


accounts: sa.Table = Account.__table__  # type: ignore[attr-defined]
terms_acceptances: sa.Table = TermsAcceptance.__table__  # type: ignore[attr-defined]
vouchers: sa.Table = Voucher.__table__  # type: ignore[attr-defined]
voucher_redemptions: sa.Table = VoucherRedemption.__table__  # type: ignore[attr-defined]
audit_log: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
