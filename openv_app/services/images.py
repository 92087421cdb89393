"""Start images (image-to-video, "continue this clip"): storing an upload or a finished clip's
last frame under the user's prefix (`{user_id}/images/{image_id}.jpg`), finding the caller's
own image for a request, signing its URL, and when an image may go.

Plain Python for the HTTP API and the Reflex states alike: `StartImages.store(user_id, data,
content_type)` and `StartImages.last_frame(user_id, video_id)` answer `ImageOut`, whose
`image_id` a request then names as `start_image_id`. The worker only ever gets the app's own
signed URL of such an image (`services/queueing.py`), never a URL a user typed.

An image lives as long as a video uses it: deleting a video removes its start image unless
another of the user's live videos uses it (`services/cleanup.py`); an upload no video uses
yet is spared by the orphan sweep for `UNUSED_IMAGE_GRACE` after it was made.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
import sqlalchemy as sa

from openv_app.models import Video, utcnow, videos
from openv_app.schemas import ImageOut
from openv_app.services import image_files
from openv_app.services.errors import Conflict, NotFound
from openv_app.services.queries import VideoQueries
from openv_app.services.statuses import VideoStatus
from openv_app.services.storage import FileTooLarge, Storage, image_id_of, image_path

T = TypeVar("T")

# How long an uploaded image no video uses is kept (the user picks it, then submits).
UNUSED_IMAGE_GRACE = timedelta(hours=24)
# A stored clip larger than this is not decoded for its last frame.
MAX_VIDEO_BYTES = 512 * 1024 * 1024
# Images decoded at once per process (a 40-Mpixel image takes ~120 MB while it is decoded).
DECODING_AT_ONCE = 2


@dataclass
class StartImages:
    queries: VideoQueries
    storage: Storage
    _decoding: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    async def store(self, user_id: str, data: bytes, content_type: str | None) -> ImageOut:
        """Check an upload and store it re-encoded; InvalidInput (400) names what is wrong and
        stores nothing, UnsupportedMediaType (415) for another content type."""
        image_files.media_type(content_type)  # before any decoding
        encoded = await self._in_thread(image_files.prepare_upload, data, content_type)
        return await self._save(user_id, encoded)

    async def last_frame(self, user_id: str, video_id: uuid.UUID | str) -> ImageOut:
        """The last frame of the user's completed video, stored as a start image (to continue
        the clip). NotFound for another user's video, Conflict unless it is COMPLETED."""
        video = await self.queries.get_video(user_id, video_id)
        if video.status != VideoStatus.COMPLETED or not video.video_path:
            raise Conflict("only a completed video's last frame can be taken", field="video_id")
        try:
            mp4 = await self.storage.read(video.video_path, MAX_VIDEO_BYTES)
        except FileTooLarge as error:
            raise Conflict("the video is too large to take a frame from", field="video_id") from error
        return await self._save(user_id, await self._in_thread(image_files.last_frame, mp4))

    async def signed_url(self, path: str, lifetime_s: int | None = None) -> str:
        """A GET URL of a stored image, valid for the storage's usual ttl or `lifetime_s`."""
        return await self.storage.create_download_url(path, lifetime_s=lifetime_s)

    async def path_for(self, user_id: str, image_id: uuid.UUID) -> str:
        """The stored path of the user's own image; another user's or a missing one is
        NotFound naming `start_image_id` (as another user's video is a 404)."""
        path = image_path(user_id, image_id)
        if not await self.storage.exists(path):
            raise NotFound(
                "start_image_id: no such image (upload it with POST /api/images first)", field="start_image_id"
            )
        return path

    async def _save(self, user_id: str, encoded: image_files.EncodedImage) -> ImageOut:
        image_id = image_files.new_image_id()
        path = image_path(user_id, image_id)
        await self.storage.store(path, encoded.data, "image/jpeg")
        return ImageOut(image_id=image_id, width=encoded.width, height=encoded.height, url=await self.signed_url(path))

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        if self._decoding is None:
            self._decoding = anyio.CapacityLimiter(DECODING_AT_ONCE)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._decoding)

    # when an image may go ------------------------------------------------------------------

    async def used_by_another(self, video: Video) -> bool:
        """Another of the owner's live videos uses this video's start image (deleting this one
        keeps the image)."""
        if not video.start_image_path:
            return False
        found = await self.queries.db.rows(
            sa.select(videos.c.id)
            .where(
                videos.c.user_id == video.user_id,
                videos.c.start_image_path == video.start_image_path,
                videos.c.deleted_at.is_(None),
                videos.c.id != video.id,
            )
            .limit(1)
        )
        return bool(found)

    async def held(self, paths: list[str]) -> set[str]:
        """Those of these image paths a video still holds: a live one, or a deleted one whose
        files are not removed yet (its job may still fetch the image; its clean-up removes it)."""
        if not paths:
            return set()
        rows = await self.queries.db.rows(
            sa.select(videos.c.start_image_path)
            .where(
                videos.c.start_image_path.in_(paths),
                sa.or_(videos.c.deleted_at.is_(None), videos.c.files_removed_at.is_(None)),
            )
            .distinct()
        )
        return {row["start_image_path"] for row in rows}


def image_is_orphan(path: str, held: set[str], now: datetime | None = None) -> bool:
    """An image no video holds, once its grace after the upload has passed (an id that tells
    no time has none)."""
    image_id = image_id_of(path)
    if image_id is None:
        return True
    if path in held:
        return False
    made = image_files.made_at(image_id)
    return made is None or made + UNUSED_IMAGE_GRACE < (now or utcnow())
