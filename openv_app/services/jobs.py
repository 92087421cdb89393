"""The video job lifecycle: submit, apply RunPod reports, cancel, retry, delete, list.

Plain Python used by the HTTP API, the status poller and the Reflex state alike.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session, col, select

from openv_app.models import Video, utcnow
from openv_app.services.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from openv_app.services.runpod_client import RunPodClient, RunPodError, RunPodJob, RunPodJobNotFound
from openv_app.services.signing import webhook_token
from openv_app.services.statuses import (
    IN_FLIGHT_STATUSES,
    RUNPOD_STATUSES,
    VideoStatus,
    is_terminal,
    may_move,
    status_from_runpod,
)
from openv_app.services.storage import Storage, StorageError, video_paths
from openv_app.settings import Settings

log = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1
MODELS = ("wan2.1-t2v-1.3b",)
# A row that never got a RunPod job id this long after creation was lost mid-submit.
SUBMIT_GRACE = timedelta(minutes=5)


# --- input --------------------------------------------------------------------------------


class GenerationRequest(BaseModel):
    """What a user asks for. Sizes follow what Wan accepts (multiples of 16, 4k+1 frames)."""

    prompt: str
    negative_prompt: str = Field(default="", max_length=2000)
    model: str = MODELS[0]
    width: int = Field(default=832, ge=128, le=1280, multiple_of=16)
    height: int = Field(default=480, ge=128, le=1280, multiple_of=16)
    num_frames: int = Field(default=33, ge=5, le=161)
    fps: int = Field(default=16, ge=4, le=30)
    steps: int = Field(default=30, ge=1, le=100)
    guidance_scale: float = Field(default=5.0, ge=0.0, le=20.0)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)

    @field_validator("prompt")
    @classmethod
    def _prompt_present_and_short(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        max_length = (info.context or {}).get("max_prompt_length", 1000)
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return value

    @field_validator("num_frames")
    @classmethod
    def _frames_fit_the_model(cls, value: int) -> int:
        if (value - 1) % 4:
            raise ValueError("must be 4k+1 (e.g. 17, 33, 81)")
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"must be one of {', '.join(MODELS)}")
        return value

    @classmethod
    def parse(cls, data: Any, max_prompt_length: int) -> GenerationRequest:
        """Validate or raise InvalidInput naming the first bad field."""
        try:
            return cls.model_validate(data, context={"max_prompt_length": max_prompt_length})
        except ValidationError as error:
            first = error.errors()[0]
            name = ".".join(str(part) for part in first["loc"]) or "body"
            raise InvalidInput(f"{name}: {first['msg']}", field=name) from error


# --- the service --------------------------------------------------------------------------

VideoListener = Callable[[Video], Awaitable[None]]


@dataclass
class JobService:
    settings: Settings
    engine: sa.Engine
    runpod: RunPodClient
    storage: Storage
    # Called after a video changes (the UI pushes the change to the owner's open tabs).
    listeners: list[VideoListener] = field(default_factory=list)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    async def _notify(self, video: Video) -> None:
        for listener in self.listeners:
            try:
                await listener(video)
            except Exception:  # a broken listener must not undo a committed change
                log.exception("video listener failed")

    # reading ----------------------------------------------------------------------------

    def get_video(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """The user's video; another user's or a deleted one is NotFound."""
        video_uuid = _as_uuid(video_id)
        with self.session() as session:
            video = session.get(Video, video_uuid)
        if video is None or video.user_id != user_id or video.deleted_at is not None:
            raise NotFound("video not found")
        return video

    def list_videos(self, user_id: str, limit: int = 24, before: str | None = None) -> tuple[list[Video], str | None]:
        """Newest first, keyset-paginated: `before` is the cursor the previous page returned."""
        query = (
            select(Video)
            .where(Video.user_id == user_id, col(Video.deleted_at).is_(None))
            .order_by(col(Video.created_at).desc(), col(Video.id).desc())
            .limit(limit + 1)
        )
        if before:
            created_at, last_id = decode_cursor(before)
            query = query.where(
                sa.or_(
                    Video.created_at < created_at,
                    sa.and_(Video.created_at == created_at, col(Video.id) < last_id),
                )
            )
        with self.session() as session:
            videos = list(session.exec(query))
        next_cursor = encode_cursor(videos[limit - 1]) if len(videos) > limit else None
        return videos[:limit], next_cursor

    # submitting -------------------------------------------------------------------------

    def _check_limits(self, session: Session, user_id: str) -> None:
        mine = select(sa.func.count()).select_from(Video).where(Video.user_id == user_id)
        unfinished = session.exec(
            mine.where(col(Video.status).in_(IN_FLIGHT_STATUSES), col(Video.deleted_at).is_(None))
        ).one()
        if unfinished >= self.settings.max_concurrent_jobs:
            raise Conflict(
                f"You already have {unfinished} videos in progress (limit {self.settings.max_concurrent_jobs}); "
                "wait for one to finish.",
                unfinished=unfinished,
            )
        # Deleted videos count too: deleting must not reset the quota.
        today = session.exec(mine.where(Video.created_at >= utcnow() - timedelta(days=1))).one()
        if today >= self.settings.daily_quota:
            raise QuotaExceeded(f"Daily quota of {self.settings.daily_quota} videos reached; try again later.")

    async def submit(self, user_id: str, data: Any) -> Video:
        request = GenerationRequest.parse(data, self.settings.max_prompt_length)
        with self.session() as session:
            self._check_limits(session, user_id)
            video = Video(
                user_id=user_id,
                **request.model_dump(exclude={"seed"}),
                seed=request.seed if request.seed is not None else random.randint(0, MAX_SEED),
            )
            session.add(video)
            session.commit()
        await self._notify(video)
        return await self._queue_on_runpod(video)

    def webhook_url(self, video_id: uuid.UUID) -> str:
        token = webhook_token(self.settings.secret, str(video_id))
        return f"{self.settings.public_base_url}/api/runpod/webhook?video_id={video_id}&token={token}"

    async def _queue_on_runpod(self, video: Video) -> Video:
        video_path, poster_path = video_paths(video.user_id, str(video.id))
        try:
            job_input = {
                "prompt": video.prompt,
                "negative_prompt": video.negative_prompt,
                "model": video.model,
                "width": video.width,
                "height": video.height,
                "num_frames": video.num_frames,
                "fps": video.fps,
                "steps": video.steps,
                "guidance_scale": video.guidance_scale,
                "seed": video.seed,
                "upload": {
                    "video": await self.storage.create_upload_url(video_path),
                    "poster": await self.storage.create_upload_url(poster_path),
                },
            }
            job = await self.runpod.run(
                job_input,
                webhook=self.webhook_url(video.id),
                execution_timeout_ms=self.settings.runpod_execution_timeout_s * 1000,
                ttl_ms=self.settings.runpod_job_ttl_s * 1000,
            )
        except (RunPodError, StorageError) as error:
            return await self._fail(video.id, f"Could not queue the job: {error}")
        with self.session() as session:
            stored = session.get(Video, video.id)
            stored.runpod_job_id = job.id
            stored.runpod_status = job.status
            stored.updated_at = utcnow()
            session.commit()
        await self._notify(stored)
        return stored

    async def _fail(self, video_id: uuid.UUID, message: str) -> Video:
        return await self._apply(video_id, RunPodJob(id="-", status="FAILED", error=message))

    # applying RunPod reports ------------------------------------------------------------

    async def apply_report(self, video_id: uuid.UUID | str, report: RunPodJob) -> bool:
        """Apply a webhook or /status report for this video's job. True if anything changed.

        A report for another job than the video's is NotFound; an unknown status is InvalidInput.
        """
        video_uuid = _as_uuid(video_id)
        with self.session() as session:
            video = session.get(Video, video_uuid)
            if video is None or video.runpod_job_id is None or video.runpod_job_id != report.id:
                raise NotFound("unknown job")
        before = video.updated_at
        updated = await self._apply(video_uuid, report)
        return updated.updated_at != before

    async def _apply(self, video_id: uuid.UUID, report: RunPodJob) -> Video:
        if report.status not in RUNPOD_STATUSES:
            raise InvalidInput(f"status: unknown RunPod status {report.status!r}", field="status")
        with self.session() as session:
            # Row lock (PostgreSQL): webhook, poller and user may report at the same moment.
            video = session.exec(select(Video).where(Video.id == video_id).with_for_update()).one()
            changed = apply_runpod_status(video, report)
            if changed:
                video.updated_at = utcnow()
                session.commit()
        if changed:
            await self._notify(video)
        return video

    # user actions -----------------------------------------------------------------------

    async def cancel(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        video = self.get_video(user_id, video_id)
        if is_terminal(video.status):
            raise Conflict(f"video is already {video.status.lower()}")
        return await self._stop_job(video, "Cancelled by the user")

    async def _stop_job(self, video: Video, reason: str) -> Video:
        if video.runpod_job_id:
            try:
                await self.runpod.cancel(video.runpod_job_id)
            except RunPodJobNotFound:
                pass  # expired upstream: cancelling locally is all that is left
        return await self._apply(video.id, RunPodJob(id=video.runpod_job_id or "-", status="CANCELLED", error=reason))

    async def retry(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """A failed or cancelled video is generated again as a new video with the same settings."""
        video = self.get_video(user_id, video_id)
        if video.status not in (VideoStatus.FAILED, VideoStatus.CANCELLED):
            raise Conflict("only failed or cancelled videos can be retried")
        return await self.submit(user_id, settings_of(video))

    async def delete(self, user_id: str, video_id: uuid.UUID | str) -> None:
        """Hide the video at once, stop its job, then remove its files (retried later on failure)."""
        video = self.get_video(user_id, video_id)
        with self.session() as session:
            stored = session.get(Video, video.id)
            stored.deleted_at = stored.updated_at = utcnow()
            session.commit()
        await self._notify(stored)
        if not is_terminal(video.status):
            try:
                await self._stop_job(stored, "Deleted by the user")
            except RunPodError as error:
                # The poller keeps following the job; its files go once it has ended.
                log.warning("could not cancel deleted video %s: %s", video.id, error)
        await self.remove_files(video.id)

    async def remove_files(self, video_id: uuid.UUID) -> bool:
        """Delete a deleted, finished video's files; True once they are gone.

        A video still running may upload later, so its files wait until it is terminal.
        """
        with self.session() as session:
            video = session.get(Video, video_id)
        if video.deleted_at is None or video.files_removed_at is not None or not is_terminal(video.status):
            return False
        try:
            await self.storage.delete(list(video_paths(video.user_id, str(video.id))))
        except StorageError as error:
            log.warning("storage delete failed for %s, will retry: %s", video.id, error)
            return False
        with self.session() as session:
            stored = session.get(Video, video_id)
            stored.files_removed_at = utcnow()
            session.commit()
        return True

    # what the poller works on -----------------------------------------------------------

    def claim_for_polling(self, lease: timedelta, limit: int = 50) -> list[Video]:
        """In-flight jobs whose lease has run out, leased to the caller.

        A conditional UPDATE per row (no advisory locks, no SET) so that it also works
        through Supabase's transaction pooler; two processes never poll the same job at once.
        """
        now = utcnow()
        lease_free = sa.or_(col(Video.poll_lease_until).is_(None), col(Video.poll_lease_until) < now)
        with self.session() as session:
            candidates = session.exec(
                select(Video)
                .where(col(Video.status).in_(IN_FLIGHT_STATUSES), col(Video.runpod_job_id).is_not(None), lease_free)
                .order_by(col(Video.updated_at))
                .limit(limit)
            ).all()
            claimed = []
            for video in candidates:
                result = session.execute(
                    sa.update(Video).where(Video.id == video.id, lease_free).values(poll_lease_until=now + lease)
                )
                if result.rowcount == 1:
                    claimed.append(video)
            session.commit()
        return claimed

    async def poll_one(self, video: Video) -> None:
        try:
            report = await self.runpod.status(video.runpod_job_id)
        except RunPodJobNotFound:
            report = RunPodJob(id=video.runpod_job_id, status="FAILED", error="The job expired on RunPod before it finished.")
        await self._apply(video.id, report)

    async def fail_lost_submissions(self) -> int:
        """Rows that never reached RunPod (the app died mid-submit) become FAILED."""
        cutoff = utcnow() - SUBMIT_GRACE
        with self.session() as session:
            lost = session.exec(
                select(Video.id).where(
                    Video.status == VideoStatus.PENDING, col(Video.runpod_job_id).is_(None), Video.created_at < cutoff
                )
            ).all()
        for video_id in lost:
            await self._fail(video_id, "The job never reached RunPod; please retry.")
        return len(lost)

    async def remove_pending_files(self) -> int:
        with self.session() as session:
            waiting = session.exec(
                select(Video.id).where(
                    col(Video.deleted_at).is_not(None),
                    col(Video.files_removed_at).is_(None),
                    col(Video.status).not_in(IN_FLIGHT_STATUSES),
                )
            ).all()
        return sum([await self.remove_files(video_id) for video_id in waiting])


# --- pure rules -----------------------------------------------------------------------------


def apply_runpod_status(video: Video, report: RunPodJob) -> bool:
    """Apply one RunPod report to a video in memory, following DESIGN.md's transition rule.

    Returns whether anything changed. Late, duplicated and out-of-order reports change nothing.
    """
    new_status = status_from_runpod(report.status, report.output)
    if not may_move(video.status, new_status):
        return False
    snapshot = (video.status, video.runpod_status, video.progress, video.stage)
    video.status = new_status
    video.runpod_status = report.status
    output = report.output if isinstance(report.output, dict) else {}
    if new_status is VideoStatus.PROCESSING:
        video.progress = max(video.progress, _progress_percent(output))
        video.stage = output.get("stage", video.stage)
    elif new_status is VideoStatus.COMPLETED:
        video.video_path, poster_path = video_paths(video.user_id, str(video.id))
        video.poster_path = poster_path if output.get("poster") else None
        video.duration_s = output.get("duration_s")
        video.timings = output.get("timings")
        video.progress = 100
        video.stage = "done"
    elif new_status is VideoStatus.FAILED:
        video.error = _error_text(report)
    if is_terminal(new_status):
        video.completed_at = utcnow()
    return is_terminal(new_status) or snapshot != (video.status, video.runpod_status, video.progress, video.stage)


def _progress_percent(output: dict[str, Any]) -> int:
    step, total = output.get("step"), output.get("total")
    if not isinstance(step, int | float) or not isinstance(total, int | float) or total <= 0:
        return 0
    # 99 at most: 100 means the video is stored, which only COMPLETED says.
    return max(0, min(99, int(100 * step / total)))


def _error_text(report: RunPodJob) -> str:
    if report.status == "TIMED_OUT":
        return "The job ran past its time limit on RunPod."
    if report.status == "COMPLETED":
        output = report.output if isinstance(report.output, dict) else {}
        return str(output.get("error") or "The worker finished without producing a video.")
    error = report.error
    if isinstance(error, dict):
        error = error.get("error_message") or error.get("error") or str(error)
    return str(error or "The job failed on RunPod without an error message.")[:2000]


def settings_of(video: Video) -> dict[str, Any]:
    """The generation settings of a video, as a request would give them."""
    return {name: getattr(video, name) for name in GenerationRequest.model_fields}


def encode_cursor(video: Video) -> str:
    return f"{video.created_at.isoformat()}|{video.id}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created_at, video_id = cursor.split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(video_id)
    except ValueError as error:
        raise InvalidInput("before: invalid cursor", field="before") from error


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise NotFound("video not found") from error
