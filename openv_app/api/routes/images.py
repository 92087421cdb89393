"""Start images: upload one, or take a completed clip's last frame (to continue it). Either
answers an `ImageOut` whose `image_id` a submit names as `start_image_id`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from openv_app.api.deps import JSON_ONLY, Service, User, read_body
from openv_app.api.errors import errors
from openv_app.schemas import ImageOut
from openv_app.services.image_files import IMAGE_TYPES, MAX_UPLOAD_BYTES, media_type

router = APIRouter(tags=["images"])


def require_image(request: Request) -> None:
    """The one POST that is not JSON: its body is the image itself. `image/*` is no CORS-safelisted
    content type (only form and text/plain types are), so a page on another origin still cannot
    send it without a preflight, which only the configured origins pass, and no HTML form can
    send it at all. (Read from the request: the schema says it as the body's media types.)"""
    media_type(request.headers.get("content-type"))


_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {name: {"schema": {"type": "string", "format": "binary"}} for name in IMAGE_TYPES},
    }
}


@router.post(
    "/api/images",
    status_code=201,
    response_model=ImageOut,
    openapi_extra=_IMAGE_BODY,
    dependencies=[Depends(require_image)],
    responses=errors(401, 413, 415, 502),
)
async def upload_image(request: Request, user: User, service: Service) -> ImageOut:
    """Store a start image: the body is a JPEG, PNG or WebP image of at most 10 MB (the bytes
    decide its type; a `Content-Type` that says otherwise is a 400), at most 40 Mpixels, each
    side at least 64 pixels. Stored upright, without metadata, as a JPEG."""
    data = await read_body(request, MAX_UPLOAD_BYTES)
    return await service.images.store(user, data, request.headers.get("content-type"))


@router.post(
    "/api/videos/{video_id}/last-frame",
    status_code=201,
    response_model=ImageOut,
    dependencies=JSON_ONLY,
    responses=errors(401, 404, 409, 415, 502),
)
async def last_frame(video_id: str, user: User, service: Service) -> ImageOut:
    """Continue this clip: its last frame as a start image (body `{}`). 409 unless completed."""
    return await service.images.last_frame(user, video_id)
