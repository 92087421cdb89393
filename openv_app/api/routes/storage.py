"""Local storage behind signed URLs (the default backend): the worker uploads to them and the
browser plays and downloads from them, with no user auth. With Supabase these answer 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from openv_app.api.deps import Service
from openv_app.api.errors import errors
from openv_app.services.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from openv_app.services.storage import FileNotStored, FileTooLarge, LocalStorage, StorageError

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024

router = APIRouter(prefix="/api/storage", tags=["storage"])

# A stored file as the API answers it: whole, or the part a `Range` asked for.
MEDIA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"video/mp4": {}, "image/jpeg": {}},
        "headers": {
            "Accept-Ranges": {"description": "`bytes`: a `Range` may ask for a part.", "schema": {"type": "string"}}
        },
    },
    206: {
        "content": {"video/mp4": {}, "image/jpeg": {}},
        "headers": {
            "Content-Range": {
                "required": True,
                "description": "The part sent: `bytes <first>-<last>/<size>`.",
                "schema": {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"},
            }
        },
    },
}


def local_storage(service: Service) -> LocalStorage:
    if not isinstance(service.storage, LocalStorage):
        raise NotFound("local storage is not enabled")
    return service.storage


Local = Annotated[LocalStorage, Depends(local_storage)]


@router.put(
    "/{path:path}",
    responses=errors(403, 404, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in ("video/mp4", "image/jpeg")
            },
        }
    },
)
async def upload_file(
    path: str, request: Request, storage: Local, expires: str | None = None, sig: str | None = None
) -> dict[str, Any]:
    """The worker's upload to a signed URL (the body is the file)."""
    if not storage.signature_is_valid("PUT", path, expires, sig):
        raise Forbidden("invalid or expired upload URL", field="sig")
    try:
        size = await storage.write(path, request.stream(), MAX_UPLOAD_BYTES)
    except FileTooLarge as error:
        raise PayloadTooLarge(f"body: larger than {MAX_UPLOAD_BYTES} bytes", field="body") from error
    except StorageError as error:
        raise InvalidInput(str(error), field="path") from error
    return {"path": path, "size": size}


@router.get(
    "/{path:path}",
    response_class=FileResponse,
    responses={**MEDIA_RESPONSES, **errors(403, 404)},
)
async def download_file(
    path: str,
    request: Request,
    storage: Local,
    expires: str | None = None,
    sig: str | None = None,
    download: str | None = None,
) -> Response:
    """A stored file through a signed URL; `download` (signed too) makes it an attachment."""
    if not storage.signature_is_valid("GET", path, expires, sig, download):
        raise Forbidden("invalid or expired download URL", field="sig")
    try:
        return await storage.serve(path, request.headers.get("range"), download)
    except FileNotStored as error:
        raise NotFound("file not found") from error
    except StorageError as error:
        raise InvalidInput(str(error), field="path") from error
