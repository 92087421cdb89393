"""Reading videos: the owner filter, single rows, keyset pages and change feeds.

Every statement returns all columns (`COLUMNS`) so rows become `Video` models directly.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from openv_app.db import Database
from openv_app.models import Video, videos
from openv_app.services.errors import InvalidInput, NotFound
from openv_app.services.statuses import IN_FLIGHT_STATUSES, VideoStatus

COLUMNS = tuple(videos.c)
# The jobs in flight on RunPod, which the status poller follows (and `/metrics` counts).
FOLLOWED = sa.and_(videos.c.status.in_(IN_FLIGHT_STATUSES), videos.c.runpod_job_id.is_not(None))


def owned_by(user_id: str, video_id: uuid.UUID | str) -> sa.ColumnElement[bool]:
    """The one rule for "this user's video": theirs, and not deleted. Another user's video is
    indistinguishable from a missing one."""
    return sa.and_(videos.c.id == as_uuid(video_id), videos.c.user_id == user_id, videos.c.deleted_at.is_(None))


def publicly_shared() -> sa.ColumnElement[bool]:
    """A video anyone may see: shared by its owner, completed and not deleted."""
    return sa.and_(
        videos.c.share_slug.is_not(None), videos.c.deleted_at.is_(None), videos.c.status == VideoStatus.COMPLETED
    )


@dataclass
class VideoQueries:
    db: Database

    async def many(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> list[Video]:
        return [Video.model_validate(row) for row in await self.db.rows(statement, parameters)]

    async def one(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> Video | None:
        found = await self.many(statement, parameters)
        return found[0] if found else None

    async def get_video(self, user_id: str, video_id: uuid.UUID | str) -> Video:
        """The user's video; another user's or a deleted one is NotFound."""
        return require(await self.one(sa.select(*COLUMNS).where(owned_by(user_id, video_id))))

    async def by_id(self, video_id: uuid.UUID) -> Video:
        """A video whoever owns it, deleted or not (for the services' own follow-ups)."""
        return require(await self.one(sa.select(*COLUMNS).where(videos.c.id == video_id)))

    async def list_videos(
        self, user_id: str, limit: int = 24, before: str | None = None
    ) -> tuple[list[Video], str | None]:
        """Newest first, keyset-paginated: `before` is the cursor the previous page returned."""
        mine = sa.and_(videos.c.user_id == user_id, videos.c.deleted_at.is_(None))
        return await self._newest_first(mine, limit, before)

    async def shared_videos(self, limit: int = 24, before: str | None = None) -> tuple[list[Video], str | None]:
        """Every shared video, newest first, keyset-paginated like a library."""
        return await self._newest_first(publicly_shared(), limit, before)

    async def public_video(self, slug: str) -> Video:
        """A shared video, to anyone holding its link; anything else is NotFound."""
        video = await self.one(sa.select(*COLUMNS).where(videos.c.share_slug == slug, publicly_shared()))
        if video is None or not slug:
            raise NotFound("no such shared video")
        return video

    async def _newest_first(
        self, condition: sa.ColumnElement[bool], limit: int, before: str | None
    ) -> tuple[list[Video], str | None]:
        """One keyset page (limit + 1 rows asked, to know if more follow)."""
        query = sa.select(*COLUMNS).where(condition)
        if before:
            created_at, last_id = decode_cursor(before)
            query = query.where(
                sa.or_(
                    videos.c.created_at < created_at,
                    sa.and_(videos.c.created_at == created_at, videos.c.id < last_id),
                )
            )
        found = await self.many(query.order_by(videos.c.created_at.desc(), videos.c.id.desc()).limit(limit + 1))
        next_cursor = encode_cursor(found[limit - 1]) if len(found) > limit else None
        return found[:limit], next_cursor

    async def videos_by_id(self, video_ids: list[uuid.UUID]) -> list[Video]:
        """Several videos in one query, deleted ones included (callers drop them)."""
        if not video_ids:
            return []
        return await self.many(sa.select(*COLUMNS).where(videos.c.id.in_(video_ids)))

    async def changed_since(self, user_ids: set[str], since: datetime) -> list[Video]:
        """These users' videos changed after `since` (deleted ones included), oldest change first."""
        if not user_ids:
            return []
        return await self.many(
            sa.select(*COLUMNS)
            .where(videos.c.user_id.in_(user_ids), videos.c.updated_at > since)
            .order_by(videos.c.updated_at)
        )


def require(video: Video | None) -> Video:
    if video is None:
        raise NotFound("video not found")
    return video


# A page's cursor: the last video's creation time (microseconds since the epoch, UTC) and id,
# `<micros>_<uuid>`. Every string of this shape decodes (a time beyond what datetime holds is
# clamped: no video is older or newer), so the API can declare it as the parameter's pattern
# and answer 400 exactly for what does not match.
CURSOR_PATTERN = r"^-?[0-9]{1,20}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_CURSOR = re.compile(CURSOR_PATTERN.removesuffix("$"))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EARLIEST = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LATEST = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


def encode_cursor(video: Video) -> str:
    return f"{(video.created_at - _EPOCH) // _MICROSECOND}_{video.id}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    if _CURSOR.fullmatch(cursor):
        micros, video_id = cursor.split("_")
        return _EPOCH + min(max(int(micros), _EARLIEST), _LATEST) * _MICROSECOND, uuid.UUID(video_id)
    return _decode_iso_cursor(cursor)


def _decode_iso_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The earlier `<ISO time>|<uuid>` cursors, which a studio tab's state may still hold."""
    try:
        created_at, video_id = cursor.split("|")
        timestamp = datetime.fromisoformat(created_at)
        if timestamp.tzinfo is None:
            raise ValueError("naive timestamp")
        return timestamp.astimezone(UTC), uuid.UUID(video_id)
    except (ValueError, OverflowError) as error:
        raise InvalidInput("before: invalid cursor", field="before") from error


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise NotFound("video not found") from error
