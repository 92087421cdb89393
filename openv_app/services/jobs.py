"""The video job lifecycle: submit, apply RunPod reports, cancel, retry, delete, list.

Plain Python used by the HTTP API, the status poller and the Reflex state alike.
"""

from __future__ import annotations

import logging
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from openv_app.db import Database
from openv_app.models import Video, utcnow, videos
from openv_app.services.errors import Conflict, InvalidInput, NotFound, QuotaExceeded, invalid_input
from openv_app.services.runpod_client import RunPodClient, RunPodError, RunPodJob, RunPodJobNotFound, RunPodUnconfirmed
from openv_app.services.signing import webhook_token
from openv_app.services.statuses import IN_FLIGHT_STATUSES, RUNPOD_STATUSES, VideoStatus, is_terminal
from openv_app.services.storage import Storage, StorageError, video_paths
from openv_app.services.transitions import transition_update
from openv_app.settings import Settings
from worker.contract import MAX_PROMPT_LENGTH, MAX_SEED, GenerationSettings, JobInput, UploadTargets

log = logging.getLogger(__name__)

# A row that never got a RunPod job id this long after creation was lost mid-submit.
SUBMIT_GRACE = timedelta(minutes=5)
# Stage of a video whose /run call got no answer: RunPod may have queued it (see submit).
UNCONFIRMED = "unconfirmed"


# --- input --------------------------------------------------------------------------------


class GenerationRequest(GenerationSettings):
    """What a user asks for: the job contract's settings, with the seed optional (random when
    left out) and the operator's prompt-length limit."""

    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)  # type: ignore[assignment]

    @field_validator("prompt")
    @classmethod
    def _prompt_present_and_short(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        max_length = (info.context or {}).get("max_prompt_length", MAX_PROMPT_LENGTH)
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return value

    @classmethod
    def parse(cls, data: Any, max_prompt_length: int) -> GenerationRequest:
        """Validate or raise InvalidInput naming the first bad field."""
        try:
            return cls.model_validate(data, context={"max_prompt_length": max_prompt_length})
        except ValidationError as error:
            raise invalid_input(error) from error


# --- the service --------------------------------------------------------------------------

QUOTA_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Usage:
    unfinished: int
    videos_today: int
    gpu_seconds_today: float
    videos_limit: int
    gpu_seconds_limit: int | None


VideoListener = Callable[[Video], Awaitable[None]]
COLUMNS = tuple(videos.c)


@dataclass
class JobService:
    settings: Settings
    db: Database
    runpod: RunPodClient
    storage: Storage
    # Called after a video changes (the UI pushes the change to the owner's open tabs).
    listeners: list[VideoListener] = field(default_factory=list)

    async def _videos(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> list[Video]:
        return [Video.model_validate(row) for row in await self.db.rows(statement, parameters)]

    async def _video(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> Video | None:
        found = await self._videos(statement, parameters)
        return found[0] if found else None

    async def aclose(self) -> None:
        """Close the network clients and the database pool (at shutdown)."""
        await self.runpod.aclose()
        await self.storage.aclose()
        await self.db.engine.dispose()

    async def _notify(self, video: Video) -> None:
        for listener in self.listeners:
            try:
                await listener(video)
            except Exception:  # a broken listener must not undo a committed change
                log.exception("video listener failed")

    # reading ----------------------------------------------------------------------------

    async def get_video(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """The user's video; another user's or a deleted one is NotFound."""
        video = await self._video(
            sa.select(*COLUMNS).where(
                videos.c.id == _as_uuid(video_id), videos.c.user_id == user_id, videos.c.deleted_at.is_(None)
            )
        )
        if video is None:
            raise NotFound("video not found")
        return video

    async def list_videos(
        self, user_id: str, limit: int = 24, before: str | None = None
    ) -> tuple[list[Video], str | None]:
        """Newest first, keyset-paginated: `before` is the cursor the previous page returned."""
        query = (
            sa.select(*COLUMNS)
            .where(videos.c.user_id == user_id, videos.c.deleted_at.is_(None))
            .order_by(videos.c.created_at.desc(), videos.c.id.desc())
            .limit(limit + 1)
        )
        return await self._page(query, limit, before)

    async def _page(self, query: sa.Select, limit: int, before: str | None) -> tuple[list[Video], str | None]:
        """One keyset page of a newest-first query (limit + 1 rows asked, to know if more follow)."""
        if before:
            created_at, last_id = decode_cursor(before)
            query = query.where(
                sa.or_(
                    videos.c.created_at < created_at,
                    sa.and_(videos.c.created_at == created_at, videos.c.id < last_id),
                )
            )
        found = await self._videos(query)
        next_cursor = encode_cursor(found[limit - 1]) if len(found) > limit else None
        return found[:limit], next_cursor

    async def videos_by_id(self, video_ids: list[uuid.UUID]) -> list[Video]:
        """Several videos in one query, deleted ones included (callers drop them)."""
        if not video_ids:
            return []
        return await self._videos(sa.select(*COLUMNS).where(videos.c.id.in_(video_ids)))

    async def changed_since(self, user_ids: set[str], since: datetime) -> list[Video]:
        """These users' videos changed after `since` (deleted ones included), oldest change first."""
        if not user_ids:
            return []
        return await self._videos(
            sa.select(*COLUMNS)
            .where(videos.c.user_id.in_(user_ids), videos.c.updated_at > since)
            .order_by(videos.c.updated_at)
        )

    # submitting -------------------------------------------------------------------------

    async def usage(self, user_id: str) -> Usage:
        """What the user used in the last 24 hours, against the limits."""
        async with self.db.transaction() as connection:
            return await self._usage(connection, user_id)

    async def _usage(self, connection: AsyncConnection, user_id: str) -> Usage:
        in_flight = sa.and_(videos.c.status.in_(IN_FLIGHT_STATUSES), videos.c.deleted_at.is_(None))
        # Deleted videos count towards the quotas too: deleting must not reset them.
        today = videos.c.created_at >= utcnow() - QUOTA_WINDOW
        unfinished, created_today, gpu_ms = (
            await connection.execute(
                sa.select(
                    sa.func.count().filter(in_flight),
                    sa.func.count().filter(today),
                    sa.func.coalesce(sa.func.sum(videos.c.execution_ms).filter(today), 0),
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
            sa.select(videos.c.created_at, videos.c.execution_ms)
            .where(
                videos.c.user_id == user_id,
                videos.c.created_at >= utcnow() - QUOTA_WINDOW,
                videos.c.execution_ms.is_not(None),
            )
            .order_by(videos.c.created_at)
        )
        for created_at, execution_ms in rows:
            used_s -= execution_ms / 1000
            if used_s < limit_s:
                return created_at + QUOTA_WINDOW
        return utcnow()

    async def _check_limits(self, connection: AsyncConnection, user_id: str) -> None:
        usage = await self._usage(connection, user_id)
        unfinished, created_today = usage.unfinished, usage.videos_today
        if unfinished >= self.settings.max_concurrent_jobs:
            raise Conflict(
                f"You already have {unfinished} videos in progress (limit {self.settings.max_concurrent_jobs}); "
                "wait for one to finish.",
                unfinished=unfinished,
            )
        if created_today >= self.settings.daily_quota:
            raise QuotaExceeded(f"Daily quota of {self.settings.daily_quota} videos reached; try again later.")
        if usage.gpu_seconds_limit is not None and usage.gpu_seconds_today >= usage.gpu_seconds_limit:
            frees_up = await self._gpu_frees_up_at(connection, user_id, usage.gpu_seconds_today)
            raise QuotaExceeded(
                f"Daily GPU time of {usage.gpu_seconds_limit} s used up ({usage.gpu_seconds_today:.0f} s in the last "
                f"24 hours); it frees up at {frees_up.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
                frees_up_at=frees_up.isoformat(),
            )

    async def submit(self, user_id: str, data: Any) -> Video:
        request = GenerationRequest.parse(data, self.settings.max_prompt_length)
        video = Video(
            user_id=user_id,
            **request.model_dump(exclude={"seed"}),
            seed=request.seed if request.seed is not None else random.randint(0, MAX_SEED),
            # The upload URLs made just after this row expire before then.
            uploads_expire_at=utcnow() + timedelta(seconds=self.storage.upload_url_lifetime_s),
        )
        # The limit check and the insert hold the user's lock together, so concurrent submits
        # (from any number of app processes) cannot both pass the check.
        async with self.db.transaction(lock_key=f"submit:{user_id}") as connection:
            await self._check_limits(connection, user_id)
            await connection.execute(sa.insert(videos).values(video.model_dump(exclude_none=True)))
        await self._notify(video)
        return await self._queue_on_runpod(video)

    def webhook_url(self, video_id: uuid.UUID) -> str:
        token = webhook_token(self.settings.secret, str(video_id))
        return f"{self.settings.public_base_url}/api/runpod/webhook?video_id={video_id}&token={token}"

    async def _queue_on_runpod(self, video: Video) -> Video:
        video_path, poster_path = video_paths(video.user_id, str(video.id))
        try:
            upload = UploadTargets(
                video=await self.storage.create_upload_url(video_path),
                poster=await self.storage.create_upload_url(poster_path),
            )
            job_input = JobInput(**settings_of(video), upload=upload).model_dump()
            job = await self.runpod.run(
                job_input,
                webhook=self.webhook_url(video.id),
                execution_timeout_ms=self.settings.runpod_execution_timeout_s * 1000,
                ttl_ms=self.settings.runpod_job_ttl_s * 1000,
            )
        except RunPodUnconfirmed as error:
            # RunPod may have queued the job: asking again could run (and bill) it twice. The
            # video waits for the job's webhook, which adopts it, or fails once the job's
            # ttl has surely run out (fail_lost_submissions).
            log.warning("no answer to /run for video %s: %s", video.id, error)
            return await self._mark_unconfirmed(video.id)
        except (RunPodError, StorageError) as error:
            return await self._fail(video.id, f"Could not queue the job: {error}")
        # Stores the job id, unless the job's webhook got here first and did so already.
        queued = RunPodJob(id=job.id, status=job.status if job.status in RUNPOD_STATUSES else "IN_QUEUE")
        return await self._apply(video.id, queued, job_id=job.id) or await self._current(video.id)

    async def _mark_unconfirmed(self, video_id: uuid.UUID) -> Video:
        marked = await self._video(
            sa.update(videos)
            .where(videos.c.id == video_id, videos.c.status == VideoStatus.PENDING, videos.c.runpod_job_id.is_(None))
            .values(stage=UNCONFIRMED, updated_at=utcnow())
            .returning(*COLUMNS)
        )
        if marked is not None:
            await self._notify(marked)
        return marked or await self._current(video_id)

    async def _current(self, video_id: uuid.UUID) -> Video:
        video = await self._video(sa.select(*COLUMNS).where(videos.c.id == video_id))
        if video is None:
            raise NotFound("video not found")
        return video

    async def _fail(self, video_id: uuid.UUID, message: str) -> Video:
        failed = await self._apply(video_id, RunPodJob(id="-", status="FAILED", error=message), job_id=None)
        return failed or await self._current(video_id)

    # applying RunPod reports ------------------------------------------------------------

    async def apply_report(self, video_id: uuid.UUID | str, report: RunPodJob) -> bool:
        """Apply a webhook or /status report for this video's job. True if anything changed.

        A report for another job than the video's is NotFound; an unknown status is InvalidInput.
        """
        video_uuid = _as_uuid(video_id)
        if await self._apply(video_uuid, report, job_id=report.id):
            return True
        # Nothing changed: a duplicate or stale report (fine), or not this video's job.
        stored = await self._video(sa.select(*COLUMNS).where(videos.c.id == video_uuid))
        if stored is None or stored.runpod_job_id != report.id:
            raise NotFound("unknown job")
        return False

    async def _apply(self, video_id: uuid.UUID, report: RunPodJob, job_id: str | None) -> Video | None:
        """One conditional UPDATE; the changed video, or None when the rule left it as it was."""
        if report.status not in RUNPOD_STATUSES:
            raise InvalidInput(f"status: unknown RunPod status {report.status!r}", field="status")
        try:
            video = await self._video(*transition_update(video_id, job_id, report))
        except sa.exc.IntegrityError as error:  # the job id belongs to another video
            raise NotFound("unknown job") from error
        if video is not None:
            await self._notify(video)
        return video

    # user actions -----------------------------------------------------------------------

    async def cancel(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        video = await self.get_video(user_id, video_id)
        if is_terminal(video.status):
            raise Conflict(f"video is already {video.status.lower()}")
        return await self._stop_job(video, "Cancelled by the user")

    async def _stop_job(self, video: Video, reason: str) -> Video:
        if video.runpod_job_id:
            try:
                await self.runpod.cancel(video.runpod_job_id)
            except RunPodJobNotFound:
                pass  # expired upstream: cancelling locally is all that is left
        cancelled = RunPodJob(id=video.runpod_job_id or "-", status="CANCELLED", error=reason)
        return await self._apply(video.id, cancelled, job_id=None) or await self._current(video.id)

    async def retry(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """A failed or cancelled video is generated again as a new video with the same settings."""
        video = await self.get_video(user_id, video_id)
        if video.status not in (VideoStatus.FAILED, VideoStatus.CANCELLED):
            raise Conflict("only failed or cancelled videos can be retried")
        return await self.submit(user_id, settings_of(video))

    # sharing ----------------------------------------------------------------------------

    async def share(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """Give a completed video a public link (kept if it has one); the slug has 192 bits."""
        shared = await self._video(
            sa.update(videos)
            .where(
                videos.c.id == _as_uuid(video_id),
                videos.c.user_id == user_id,
                videos.c.deleted_at.is_(None),
                videos.c.status == VideoStatus.COMPLETED,
                videos.c.share_slug.is_(None),
            )
            .values(share_slug=secrets.token_urlsafe(24), updated_at=utcnow())
            .returning(*COLUMNS)
        )
        if shared is not None:
            await self._notify(shared)
            return shared
        video = await self.get_video(user_id, video_id)
        if video.status != VideoStatus.COMPLETED:
            raise Conflict("only completed videos can be shared")
        return video  # already shared

    async def unshare(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """Revoke the public link at once: its slug answers 404 from now on."""
        video = await self._video(
            sa.update(videos)
            .where(videos.c.id == _as_uuid(video_id), videos.c.user_id == user_id, videos.c.deleted_at.is_(None))
            .values(share_slug=None, updated_at=utcnow())
            .returning(*COLUMNS)
        )
        if video is None:
            raise NotFound("video not found")
        await self._notify(video)
        return video

    async def public_video(self, slug: str) -> Video:
        """A shared video, to anyone holding its link; anything else is NotFound."""
        video = await self._video(
            sa.select(*COLUMNS).where(
                videos.c.share_slug == slug, videos.c.deleted_at.is_(None), videos.c.status == VideoStatus.COMPLETED
            )
        )
        if video is None or not slug:
            raise NotFound("no such shared video")
        return video

    async def shared_videos(self, limit: int = 24, before: str | None = None) -> tuple[list[Video], str | None]:
        """Every shared video, newest first, keyset-paginated like a library."""
        query = (
            sa.select(*COLUMNS)
            .where(
                videos.c.share_slug.is_not(None),
                videos.c.deleted_at.is_(None),
                videos.c.status == VideoStatus.COMPLETED,
            )
            .order_by(videos.c.created_at.desc(), videos.c.id.desc())
            .limit(limit + 1)
        )
        return await self._page(query, limit, before)

    async def delete(self, user_id: str, video_id: uuid.UUID | str) -> None:
        """Hide the video at once, stop its job, then remove its files (retried later on failure)."""
        now = utcnow()
        video = await self._video(
            sa.update(videos)
            .where(videos.c.id == _as_uuid(video_id), videos.c.user_id == user_id, videos.c.deleted_at.is_(None))
            .values(deleted_at=now, updated_at=now, share_slug=None)  # deleting revokes the link
            .returning(*COLUMNS)
        )
        if video is None:
            raise NotFound("video not found")
        await self._notify(video)
        if not is_terminal(video.status):
            try:
                video = await self._stop_job(video, "Deleted by the user")
            except RunPodError as error:
                # The poller keeps following the job; its files go once it has ended.
                log.warning("could not cancel deleted video %s: %s", video.id, error)
                return
        await self._remove_files(video)

    async def _remove_files(self, video: Video) -> bool:
        """Delete a deleted video's files once no upload can come; True once they are gone."""
        if video.deleted_at is None or video.files_removed_at is not None or not uploads_are_over(video):
            return False
        try:
            await self.storage.delete(list(video_paths(video.user_id, str(video.id))))
        except StorageError as error:
            log.warning("storage delete failed for %s, will retry: %s", video.id, error)
            return False
        await self.db.rows(sa.update(videos).where(videos.c.id == video.id).values(files_removed_at=utcnow()))
        return True

    async def sweep_orphan_files(self, dry_run: bool = False) -> int:
        """Remove stored files that belong to no live video; returns how many were found.

        Catches what nothing else will: a late upload after its video was deleted or gave up
        on its job, files of rows removed by hand.
        """
        paths = await self.storage.list_files()
        owners = {path: video_id_of(path) for path in paths}
        known = {video.id: video for video in await self.videos_by_id([v for v in owners.values() if v])}
        orphans = [
            path for path, video_id in owners.items() if is_orphan(path, known.get(video_id) if video_id else None)
        ]
        log.info(
            "orphan sweep: %d of %d stored files belong to no live video%s",
            len(orphans),
            len(paths),
            " (dry run: nothing deleted)" if dry_run else "",
        )
        if orphans and not dry_run:
            await self.storage.delete(orphans)
        return len(orphans)

    # what the poller works on -----------------------------------------------------------

    async def claim_for_polling(self, lease: timedelta, limit: int) -> list[Video]:
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
        return await self._videos(
            sa.update(videos)
            .where(videos.c.id.in_(claimable), lease_free)
            .values(poll_lease_until=now + lease)
            .returning(*COLUMNS)
        )

    async def poll_one(self, video: Video) -> None:
        assert video.runpod_job_id is not None
        try:
            report = await self.runpod.status(video.runpod_job_id)
        except RunPodJobNotFound:
            report = RunPodJob(
                id=video.runpod_job_id, status="FAILED", error="The job expired on RunPod before it finished."
            )
        await self._apply(video.id, report, job_id=video.runpod_job_id)

    async def fail_lost_submissions(self) -> int:
        """PENDING rows without a job id that can no longer get one become FAILED: lost
        mid-submit (the app stopped), or unconfirmed by RunPod past the job's whole ttl."""
        now = utcnow()
        unconfirmed_grace = timedelta(seconds=self.settings.runpod_job_ttl_s) + SUBMIT_GRACE
        lost = await self._videos(
            sa.select(*COLUMNS).where(
                videos.c.status == VideoStatus.PENDING,
                videos.c.runpod_job_id.is_(None),
                sa.or_(
                    sa.and_(videos.c.stage.is_distinct_from(UNCONFIRMED), videos.c.created_at < now - SUBMIT_GRACE),
                    sa.and_(videos.c.stage == UNCONFIRMED, videos.c.created_at < now - unconfirmed_grace),
                ),
            )
        )
        for video in lost:
            reason = (
                "RunPod never confirmed the job; please retry."
                if video.stage == UNCONFIRMED
                else "The job never reached RunPod; please retry."
            )
            await self._fail(video.id, reason)
        return len(lost)

    async def remove_pending_files(self) -> int:
        waiting = await self._videos(
            sa.select(*COLUMNS).where(
                videos.c.deleted_at.is_not(None),
                videos.c.files_removed_at.is_(None),
                videos.c.status.not_in(IN_FLIGHT_STATUSES),
            )
        )
        return sum([await self._remove_files(video) for video in waiting])


# --- pure rules -----------------------------------------------------------------------------


def uploads_are_over(video: Video, now: datetime | None = None) -> bool:
    """No upload for this video can still arrive: its job reported the files stored
    (COMPLETED), or it ended otherwise and its upload URLs have expired."""
    if video.status == VideoStatus.COMPLETED:
        return True
    if not is_terminal(video.status):
        return False
    return video.uploads_expire_at is None or video.uploads_expire_at < (now or utcnow())


def video_id_of(path: str) -> uuid.UUID | None:
    """The video a stored path belongs to (`{user_id}/{video_id}.mp4|.jpg`), if it is one."""
    try:
        return uuid.UUID(path.rsplit("/", 1)[-1].split(".", 1)[0])
    except ValueError:
        return None


def is_orphan(path: str, video: Video | None, now: datetime | None = None) -> bool:
    """A stored file no live video will ever show: its video is unknown or belongs to someone
    else, or is deleted or unfinished-for-good, with no upload still to come."""
    if video is None or path not in video_paths(video.user_id, str(video.id)):
        return True
    if video.deleted_at is None and video.status == VideoStatus.COMPLETED:
        return False
    return (video.deleted_at is not None or is_terminal(video.status)) and uploads_are_over(video, now)


def settings_of(video: Video) -> dict[str, Any]:
    """The generation settings of a video, as a request would give them."""
    return {name: getattr(video, name) for name in GenerationRequest.model_fields}


def encode_cursor(video: Video) -> str:
    return f"{video.created_at.isoformat()}|{video.id}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created_at, video_id = cursor.split("|")
        timestamp = datetime.fromisoformat(created_at)
        if timestamp.tzinfo is None:
            raise ValueError("naive timestamp")
        return timestamp.astimezone(UTC), uuid.UUID(video_id)
    except (ValueError, OverflowError) as error:
        raise InvalidInput("before: invalid cursor", field="before") from error


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise NotFound("video not found") from error
