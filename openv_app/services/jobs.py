"""The video job life cycle: submit, queue on RunPod, apply its reports, cancel, retry, share,
delete. Every change to a video goes through here and is announced to the listeners.

Plain Python used by the HTTP API, the status poller and the Reflex states alike. Reading
(`queries`), who may generate (`accounts`), the limits (`quota`), file removal (`files`) and
the metrics' job counts (`stats`) are parts it is built from.
"""

from __future__ import annotations

import logging
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from openv_app.db import Database
from openv_app.logs import job_fields
from openv_app.models import Video, utcnow, videos
from openv_app.schemas import GenerationRequest, settings_of
from openv_app.services.accounts import Accounts
from openv_app.services.attempts import is_transient, job_ttl_s, queue_again_update
from openv_app.services.cleanup import FileCleanup
from openv_app.services.clerk_users import clerk_email_lookup
from openv_app.services.endpoints import Endpoints, ModelUnavailable
from openv_app.services.errors import Conflict, InvalidInput, NotFound
from openv_app.services.images import StartImages
from openv_app.services.queries import COLUMNS, VideoQueries, as_uuid, owned_by
from openv_app.services.queueing import RunPodQueue
from openv_app.services.quota import Quota
from openv_app.services.runpod_client import RunPodError, RunPodJob, RunPodJobNotFound, RunPodUnconfirmed
from openv_app.services.stats import JobStatsReader
from openv_app.services.statuses import (
    RUNPOD_STATUSES,
    UNCONFIRMED,
    VideoStatus,
    is_terminal,
)
from openv_app.services.storage import Storage, StorageError
from openv_app.services.transitions import QuietPeriod, transition_update
from openv_app.settings import Settings
from worker.contract import MAX_SEED

log = logging.getLogger(__name__)

VideoListener = Callable[[Video], Awaitable[None]]


@dataclass
class JobService:
    settings: Settings
    db: Database
    endpoints: Endpoints  # each model's RunPod endpoint
    storage: Storage
    # Called after a video changes (the UI pushes the change to the owner's open tabs).
    listeners: list[VideoListener] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.queries = VideoQueries(self.db)
        self.accounts = Accounts(self.settings, self.db, clerk_email_lookup(self.settings))
        self.quota = Quota(self.accounts, self.db)
        self.images = StartImages(self.queries, self.storage)
        self.files = FileCleanup(self.queries, self.storage, self.images)
        self.stats = JobStatsReader(self.db)
        # Refuses, at start-up, a ttl that outlives the upload URLs.
        self.job_ttl_s = job_ttl_s(self.settings, self.storage.upload_url_lifetime_s)
        self.queue = RunPodQueue(self.settings, self.storage, self.endpoints, self.job_ttl_s)

    async def aclose(self) -> None:
        """Close the network clients and the database pool (at shutdown)."""
        await self.endpoints.aclose()
        await self.storage.aclose()
        await self.db.engine.dispose()

    async def close_idle_database_connections(self) -> None:
        """The pool's idle connections close now and new ones open on next use (after a burst of
        tabs: openv_app/memory.py). SQLAlchemy starts a new pool; a connection in use stays with
        the old one and is closed once that is collected."""
        await self.db.engine.dispose()

    async def _notify(self, video: Video) -> None:
        for listener in self.listeners:
            try:
                await listener(video)
            except Exception:  # a broken listener must not undo a committed change
                log.exception("video listener failed", extra=job_fields(video.id, video.runpod_job_id))

    async def _changed(self, video: Video | None) -> Video | None:
        """Announce a change an UPDATE … RETURNING made (None: it matched nothing)."""
        if video is not None:
            await self._notify(video)
        return video

    # submitting -------------------------------------------------------------------------

    async def submit(self, user_id: str, data: Any) -> Video:
        data = self.endpoints.checked_request(data)  # a model this instance serves
        request = GenerationRequest.parse(data, self.settings.max_prompt_length)
        image_id = request.start_image_id  # one of the caller's own images, or InvalidInput
        start_image_path = await self.images.path_for(user_id, image_id) if image_id else None
        video = Video(
            user_id=user_id,
            **request.model_dump(exclude={"seed", "start_image_id", "start_image_url"}),
            start_image_path=start_image_path,
            seed=request.seed if request.seed is not None else random.randint(0, MAX_SEED),
            # The upload URLs made just after this row expire before then.
            uploads_expire_at=utcnow() + timedelta(seconds=self.storage.upload_url_lifetime_s),
        )
        # The limit check and the insert hold the user's lock together, so concurrent submits
        # (from any number of app processes) cannot both pass the check.
        await self.accounts.get(user_id)  # made on first sight, outside the lock: it may ask Clerk
        async with self.db.transaction(lock_key=f"submit:{user_id}") as connection:
            limits = await self.accounts.check_may_generate(connection, user_id)
            await self.quota.check(connection, user_id, limits)
            await connection.execute(sa.insert(videos).values(video.model_dump(exclude_none=True)))
        await self._notify(video)
        return await self._queue_on_runpod(video)

    async def _queue_on_runpod(self, video: Video) -> Video:
        try:
            job = await self.queue.send(video)
        except RunPodUnconfirmed as error:
            # RunPod may have queued the job: asking again could run (and bill) it twice. The
            # video waits for the job's webhook, which adopts it, or fails once the job's
            # ttl has surely run out (fail_lost_submissions). It holds none of the user's slots.
            log.warning("no answer to /run for video %s: %s", video.id, error, extra=job_fields(video.id, None))
            return await self._mark_unconfirmed(video.id)
        except (RunPodError, StorageError, ModelUnavailable) as error:
            return await self.fail(video.id, f"Could not queue the job: {error}")
        # Stores the job id, unless the job's webhook got here first and did so already.
        queued = RunPodJob(id=job.id, status=job.status if job.status in RUNPOD_STATUSES else "IN_QUEUE")
        applied = await self.transition(video.id, queued, job_id=job.id, attempt=video.attempts)
        return applied or await self.queries.by_id(video.id)

    async def _mark_unconfirmed(self, video_id: uuid.UUID) -> Video:
        marked = await self.queries.one(
            sa.update(videos)
            .where(videos.c.id == video_id, videos.c.status == VideoStatus.PENDING, videos.c.runpod_job_id.is_(None))
            .values(stage=UNCONFIRMED, updated_at=utcnow())
            .returning(*COLUMNS)
        )
        return await self._changed(marked) or await self.queries.by_id(video_id)

    async def fail(self, video_id: uuid.UUID, message: str) -> Video:
        failed = await self.transition(video_id, RunPodJob(id="-", status="FAILED", error=message), job_id=None)
        return failed or await self.queries.by_id(video_id)

    # applying RunPod reports ------------------------------------------------------------

    async def apply_report(self, video_id: uuid.UUID | str, report: RunPodJob, attempt: int = 0) -> bool:
        """Apply a webhook or /status report for this attempt of the video's job. True if
        anything changed.

        A report for another job than the video's is NotFound; an unknown status is InvalidInput.
        """
        video_uuid = as_uuid(video_id)
        if await self.transition(video_uuid, report, job_id=report.id, attempt=attempt):
            return True
        # Nothing changed: a duplicate or stale report, or one of an earlier attempt (fine), or
        # not this video's job.
        stored = await self.queries.one(sa.select(*COLUMNS).where(videos.c.id == video_uuid))
        if stored is None or (stored.attempts == attempt and stored.runpod_job_id != report.id):
            raise NotFound("unknown job")
        return False

    async def apply_progress(self, video_id: uuid.UUID | str, attempt: int, job_id: str, progress: dict) -> bool:
        """A progress report the worker sent straight to the app. Each one puts the job's next
        poll one interval away: while they keep coming, RunPod is asked about the job only every
        `poll_interval_with_reports_s`, and once they stop (the job ended, or the worker cannot
        reach the app) within one interval."""
        report = RunPodJob(id=job_id, status="IN_PROGRESS", output=progress)
        now, settings = utcnow(), self.settings
        # Last polled longer ago than this: due at its usual time, however lively the worker.
        polled_too_long_ago = now - timedelta(seconds=settings.poll_interval_with_reports_s - settings.poll_interval_s)
        quiet = QuietPeriod(now + timedelta(seconds=settings.poll_interval_s), polled_too_long_ago)
        return bool(await self.transition(as_uuid(video_id), report, job_id, attempt, quiet))

    async def transition(
        self,
        video_id: uuid.UUID,
        report: RunPodJob,
        job_id: str | None,
        attempt: int | None = None,
        quiet: QuietPeriod | None = None,
    ) -> Video | None:
        """One conditional UPDATE built from the transition rule; the changed video, or None
        when the rule left it as it was. A transient failure of a RunPod job (`job_id` and
        `attempt` known) queues the video again instead, while attempts are left."""
        if report.status not in RUNPOD_STATUSES:
            raise InvalidInput(f"status: unknown RunPod status {report.status!r}", field="status")
        if job_id is not None and attempt is not None and is_transient(report):
            if (queued := await self._queue_again(video_id, report, job_id, attempt)) is not None:
                return queued
        statement = transition_update(video_id, job_id, report, attempt=attempt, quiet=quiet)
        try:
            video = await self.queries.one(*statement)
        except sa.exc.IntegrityError as error:  # the job id belongs to another video
            raise NotFound("unknown job") from error
        return await self._changed(video)

    async def _queue_again(self, video_id: uuid.UUID, report: RunPodJob, job_id: str, attempt: int) -> Video | None:
        """Run the video once more after a transient failure, on a new RunPod job; None when no
        attempt is left, the user's GPU time is used up, or this attempt is already over."""
        if attempt >= self.settings.auto_retries:
            return None
        if not await self.quota.gpu_time_left((await self.queries.by_id(video_id)).user_id):
            return None
        uploads_expire_at = utcnow() + timedelta(seconds=self.storage.upload_url_lifetime_s)
        video = await self.queries.one(queue_again_update(video_id, report, job_id, attempt, uploads_expire_at))
        if video is None:
            return None
        log.warning(
            "video %s: job %s %s, queued again (attempt %d)",
            *(video_id, job_id, report.status, attempt + 2),
            extra=job_fields(video_id, job_id),
        )
        await self._notify(video)
        return await self._queue_on_runpod(video)

    # user actions -----------------------------------------------------------------------

    async def cancel(self, user_id: str, video_id: uuid.UUID | str, reason: str = "Cancelled by the user") -> Video:
        video = await self.queries.get_video(user_id, video_id)
        if is_terminal(video.status):
            raise Conflict(f"video is already {video.status.lower()}")
        return await self._stop_job(video, reason)

    async def _stop_job(self, video: Video, reason: str) -> Video:
        if video.runpod_job_id and video.model in self.endpoints.models():
            try:
                await self.endpoints.for_model(video.model).cancel(video.runpod_job_id)
            except RunPodJobNotFound:
                pass  # expired upstream: cancelling locally is all that is left
        cancelled = RunPodJob(id=video.runpod_job_id or "-", status="CANCELLED", error=reason)
        return await self.transition(video.id, cancelled, job_id=None) or await self.queries.by_id(video.id)

    async def retry(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """A failed or cancelled video is generated again as a new video with the same settings."""
        video = await self.queries.get_video(user_id, video_id)
        if video.status not in (VideoStatus.FAILED, VideoStatus.CANCELLED):
            raise Conflict("only failed or cancelled videos can be retried")
        return await self.submit(user_id, settings_of(video))

    async def share(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """Give a completed video a public link (kept if it has one); the slug has 192 bits."""
        shared = await self.queries.one(
            sa.update(videos)
            .where(owned_by(user_id, video_id), videos.c.status == VideoStatus.COMPLETED, videos.c.share_slug.is_(None))
            .values(share_slug=secrets.token_urlsafe(24), updated_at=utcnow())
            .returning(*COLUMNS)
        )
        if shared is not None:
            await self._notify(shared)
            return shared
        video = await self.queries.get_video(user_id, video_id)
        if video.status != VideoStatus.COMPLETED:
            raise Conflict("only completed videos can be shared")
        return video  # already shared

    async def unshare(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """Revoke the public link at once: its slug answers 404 from now on."""
        return await self._update_owned(user_id, video_id, share_slug=None, updated_at=utcnow())

    async def delete(self, user_id: str, video_id: uuid.UUID | str) -> None:
        """Hide the video at once, stop its job, then remove its files (retried later on failure)."""
        now = utcnow()
        # Deleting revokes the public link too.
        video = await self._update_owned(user_id, video_id, deleted_at=now, updated_at=now, share_slug=None)
        if not is_terminal(video.status):
            try:
                video = await self._stop_job(video, "Deleted by the user")
            except RunPodError as error:
                # The poller keeps following the job; its files go once it has ended.
                log.warning(
                    "could not cancel deleted video %s: %s",
                    video.id,
                    error,
                    extra=job_fields(video.id, video.runpod_job_id),
                )
                return
        await self.files.remove_files(video)

    async def _update_owned(self, user_id: str, video_id: uuid.UUID | str, **values: Any) -> Video:
        """Change the user's video (NotFound if it is not theirs or deleted) and announce it."""
        video = await self.queries.one(
            sa.update(videos).where(owned_by(user_id, video_id)).values(**values).returning(*COLUMNS)
        )
        if video is None:
            raise NotFound("video not found")
        await self._notify(video)
        return video
