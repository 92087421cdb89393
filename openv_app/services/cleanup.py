"""Removing stored files: a deleted video's files (and its start image, unless another of the
user's live videos uses it) once no upload can still arrive, and the orphan sweep for files that
belong to no live video (an unused start image only after its grace, see services/images.py)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openv_app.logs import job_fields
from openv_app.models import Video, utcnow, videos
from openv_app.services.images import StartImages, image_is_orphan
from openv_app.services.queries import COLUMNS, VideoQueries
from openv_app.services.statuses import IN_FLIGHT_STATUSES, VideoStatus, is_terminal
from openv_app.services.storage import Storage, StorageError, image_id_of, video_paths

log = logging.getLogger(__name__)


@dataclass
class FileCleanup:
    queries: VideoQueries
    storage: Storage
    images: StartImages

    async def remove_files(self, video: Video) -> bool:
        """Delete a deleted video's files once no upload can come; True once they are gone."""
        if video.deleted_at is None or video.files_removed_at is not None or not uploads_are_over(video):
            return False
        paths = list(video_paths(video.user_id, str(video.id)))
        if video.start_image_path and not await self.images.used_by_another(video):
            paths.append(video.start_image_path)
        try:
            await self.storage.delete(paths)
        except StorageError as error:
            about_job = job_fields(video.id, video.runpod_job_id)
            log.warning("storage delete failed for %s, will retry: %s", video.id, error, extra=about_job)
            return False
        await self.queries.db.rows(sa.update(videos).where(videos.c.id == video.id).values(files_removed_at=utcnow()))
        return True

    async def remove_pending_files(self) -> int:
        """Retry every deleted video whose files are still stored (run by the poller)."""
        waiting = await self.queries.many(
            sa.select(*COLUMNS).where(
                videos.c.deleted_at.is_not(None),
                videos.c.files_removed_at.is_(None),
                videos.c.status.not_in(IN_FLIGHT_STATUSES),
            )
        )
        return sum([await self.remove_files(video) for video in waiting])

    async def sweep_orphan_files(self, dry_run: bool = False) -> int:
        """Remove stored files that belong to no live video; returns how many were found.

        Catches what nothing else will: a late upload after its video was deleted or gave up
        on its job, files of rows removed by hand, start images uploaded and never used.
        """
        paths = await self.storage.list_files()
        images = [path for path in paths if image_id_of(path)]
        image_set = set(images)
        owners = {path: video_id_of(path) for path in paths if path not in image_set}
        known = {video.id: video for video in await self.queries.videos_by_id([v for v in owners.values() if v])}
        orphans = [
            path for path, video_id in owners.items() if is_orphan(path, known.get(video_id) if video_id else None)
        ]
        held = await self.images.held(images)
        orphans += [path for path in images if image_is_orphan(path, held)]
        log.info(
            "orphan sweep: %d of %d stored files belong to no live video%s",
            len(orphans),
            len(paths),
            " (dry run: nothing deleted)" if dry_run else "",
        )
        if orphans and not dry_run:
            await self.storage.delete(orphans)
        return len(orphans)


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
