"""The user's library: list, get, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from openv_app.api.deps import Cursor, Service, User
from openv_app.api.errors import errors
from openv_app.schemas import VideoOut, VideoPage
from openv_app.services.views import owner_view

router = APIRouter(prefix="/api/videos", tags=["videos"])


@router.get("", response_model=VideoPage, responses=errors(401, 502))
async def list_videos(
    user: User, service: Service, limit: Annotated[int, Query(ge=1, le=100)] = 24, before: Cursor = None
) -> VideoPage:
    videos, next_cursor = await service.queries.list_videos(user, limit, before)
    return VideoPage(videos=[await owner_view(service, video) for video in videos], next_cursor=next_cursor)


@router.get("/{video_id}", response_model=VideoOut, responses=errors(401, 404, 502))
async def get_video(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.queries.get_video(user, video_id))


@router.delete("/{video_id}", status_code=204, responses=errors(401, 404, 502))
async def delete_video(video_id: str, user: User, service: Service) -> Response:
    await service.delete(user, video_id)
    return Response(status_code=204)
