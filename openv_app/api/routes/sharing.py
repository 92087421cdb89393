"""Share links, as their owner manages them: share a completed video, stop sharing."""

from __future__ import annotations

from fastapi import APIRouter

from openv_app.api.deps import JSON_ONLY, Service, User
from openv_app.api.errors import errors
from openv_app.schemas import VideoOut
from openv_app.services.views import owner_view

router = APIRouter(prefix="/api/videos/{video_id}/share", tags=["sharing"])


# Where a shared video leads: its public page data, by the slug anyone may use.
_PUBLIC_LINKS = {"public_video": {"operationId": "public_video", "parameters": {"slug": "$response.body#/share_slug"}}}


@router.post(
    "",
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses={200: {"links": _PUBLIC_LINKS}, **errors(401, 404, 409, 415, 502)},
)
async def share_video(video_id: str, user: User, service: Service) -> VideoOut:
    """Make a completed video public: its `share_url` opens without signing in. 409 if not completed."""
    return await owner_view(service, await service.share(user, video_id))


@router.delete("", response_model=VideoOut, responses=errors(401, 404, 502))
async def unshare_video(video_id: str, user: User, service: Service) -> VideoOut:
    """Revoke the public link at once."""
    return await owner_view(service, await service.unshare(user, video_id))
