"""The user's library: list, get, delete; cancel or retry a video's job. Every operation on one
video lives under it, `/api/videos/{video_id}…` (sharing too, in sharing.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from openv_app.api.deps import JSON_ONLY, Cursor, Service, User
from openv_app.api.errors import errors
from openv_app.schemas import VideoOut, VideoPage
from openv_app.services.views import owner_view

router = APIRouter(prefix="/api/videos", tags=["videos"])

# Where a created video's id leads (OpenAPI links: clients and stateful API tests follow them).
VIDEO_LINKS = {
    operation: {"operationId": operation, "parameters": {"video_id": "$response.body#/id"}}
    for operation in (
        "get_video",
        "delete_video",
        "cancel_video",
        "retry_video",
        "share_video",
        "unshare_video",
        "last_frame",
    )
}


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


@router.post(
    "/{video_id}/cancel",
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses=errors(401, 404, 409, 415, 502),
)
async def cancel_video(video_id: str, user: User, service: Service) -> VideoOut:
    """Cancel a queued or running job. 409 if it has already finished."""
    return await owner_view(service, await service.cancel(user, video_id))


@router.post(
    "/{video_id}/retry",
    status_code=201,
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses={201: {"links": VIDEO_LINKS}, **errors(401, 404, 409, 415, 429, 502)},
)
async def retry_video(video_id: str, user: User, service: Service) -> VideoOut:
    """Generate a failed or cancelled video again: a new video with the same settings."""
    return await owner_view(service, await service.retry(user, video_id))
