"""The HTTP API, mounted into the Reflex app. Routes stay thin: the services own the rules.

Every error is JSON `{"error": "...", "field": "..."}` with a 4xx status (5xx only when a
service the app depends on fails: 502), and every route documents the statuses it can return.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException

from openv_app.api.public_page import render_not_found, render_public_page
from openv_app.models import Video
from openv_app.schemas import PublicPage, PublicVideo, VideoOut, VideoPage, public_video_out, share_url, video_out
from openv_app.services.auth import resolve_user
from openv_app.services.errors import (
    AppError,
    AuthError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnprocessableReport,
    UnsupportedMediaType,
    first_error,
)
from openv_app.services.jobs import GenerationRequest, JobService
from openv_app.services.runpod_client import RunPodError, RunPodJob
from openv_app.services.signing import webhook_token_matches
from openv_app.services.storage import FileTooLarge, LocalStorage, StorageError, content_type_for
from openv_app.services.wiring import get_job_service
from openv_app.settings import get_settings

MAX_JSON_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024


class ErrorOut(BaseModel):
    """What every error response carries."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None = None


def error_response(status_code: int, message: str, field: str | None = None, **details: Any) -> JSONResponse:
    body = {"error": message, **({"field": field} if field else {}), **details}
    return JSONResponse(body, status_code=status_code)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {status: {"model": ErrorOut} for status in sorted({400, *statuses})}


bearer = HTTPBearer(auto_error=False, description="A Clerk session token (none in dev mode).")


async def current_user(
    service: Annotated[JobService, Depends(get_job_service)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    return await resolve_user(service.settings, credentials.credentials if credentials else None)


def require_json(content_type: Annotated[str | None, Header()] = None) -> None:
    """State-changing routes take JSON only. A cross-site form can send text/plain or a form
    without asking; `application/json` makes the browser ask first (CORS preflight), and only
    the configured origins are allowed."""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("content-type: must be application/json", field="content-type")


Service = Annotated[JobService, Depends(get_job_service)]
User = Annotated[str, Depends(current_user)]
JSON_ONLY = [Depends(require_json)]

api = FastAPI(
    title="OpenV API",
    version=get_settings().app_version,
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    generate_unique_id_function=lambda route: route.name,
)


@api.exception_handler(AppError)
async def _job_error(request: Request, error: AppError) -> JSONResponse:
    return error_response(error.status_code, error.message, error.field, **error.details)


@api.exception_handler(RequestValidationError)
async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    message, field = first_error(list(error.errors()), skip_location=("query", "path", "header", "body"))
    return error_response(400, message, field)


@api.exception_handler(HTTPException)
async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return error_response(error.status_code, str(error.detail))


@api.exception_handler(StorageError)
async def _storage_error(request: Request, error: StorageError) -> JSONResponse:
    return error_response(502, str(error))


@api.exception_handler(RunPodError)
async def _runpod_error(request: Request, error: RunPodError) -> JSONResponse:
    return error_response(502, str(error))


async def owner_view(service: JobService, video: Video) -> VideoOut:
    return await video_out(service.storage, video, service.settings.public_base_url)


async def json_body(request: Request) -> Any:
    """The request's JSON, read up to MAX_JSON_BYTES. (Starlette's own body limit answers in
    plain text, not in the API's error shape.)"""
    too_large = PayloadTooLarge(f"body: larger than {MAX_JSON_BYTES} bytes", field="body")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise too_large
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
        raise InvalidInput("body: not valid JSON", field="body") from error


@api.get("/api/health")
async def health(service: Service) -> dict[str, Any]:
    database_ok = await service.db.is_reachable()
    return {
        "status": "ok" if database_ok else "degraded",
        "database": database_ok,
        "version": service.settings.app_version,
    }


# --- jobs ------------------------------------------------------------------------------------

_SUBMIT_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": GenerationRequest.model_json_schema()}},
    }
}
_REPORT_SCHEMA = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": RunPodJob.model_json_schema()}}}
}


# Where a created video's id leads (OpenAPI links: clients and stateful API tests follow them).
_VIDEO_LINKS = {
    operation: {"operationId": operation, "parameters": {"video_id": "$response.body#/id"}}
    for operation in ("video_status", "cancel_video", "retry_video", "get_video", "delete_video")
}


@api.post(
    "/api/runpod",
    status_code=201,
    response_model=VideoOut,
    openapi_extra=_SUBMIT_SCHEMA,
    dependencies=JSON_ONLY,
    responses={201: {"links": _VIDEO_LINKS}, **errors(401, 409, 413, 415, 429, 502)},
)
async def submit_video(request: Request, user: User, service: Service) -> VideoOut:
    """Queue a generation job. 400 names a bad field; 409 too many unfinished; 429 daily quota."""
    video = await service.submit(user, await json_body(request))
    return await owner_view(service, video)


@api.get("/api/runpod", responses=errors(401, 502))
async def runpod_health(user: User, service: Service) -> dict[str, Any]:
    return await service.runpod.health()


@api.post(
    "/api/runpod/webhook",
    openapi_extra=_REPORT_SCHEMA,
    dependencies=JSON_ONLY,
    responses=errors(401, 404, 413, 415, 422),
)
async def runpod_webhook(
    request: Request, service: Service, video_id: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """RunPod's report when a job ends; the per-video token in the URL authenticates it."""
    if not video_id or not webhook_token_matches(service.settings.secret, video_id, token):
        raise AuthError("invalid webhook token", field="token")
    try:
        report = RunPodJob.model_validate(await json_body(request))
    except ValidationError as error:
        message, field = first_error(error.errors())
        raise UnprocessableReport(message, field=field) from error
    changed = await service.apply_report(video_id, report)
    return {"ok": True, "changed": changed}


@api.get("/api/runpod/{video_id}", response_model=VideoOut, responses=errors(401, 404, 502))
async def video_status(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.get_video(user, video_id))


@api.post(
    "/api/runpod/{video_id}/cancel",
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses=errors(401, 404, 409, 413, 415, 502),
)
async def cancel_video(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.cancel(user, video_id))


@api.post(
    "/api/runpod/{video_id}/retry",
    status_code=201,
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses={201: {"links": _VIDEO_LINKS}, **errors(401, 404, 409, 413, 415, 429, 502)},
)
async def retry_video(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.retry(user, video_id))


# --- library ---------------------------------------------------------------------------------


@api.get("/api/videos", response_model=VideoPage, responses=errors(401, 502))
async def list_videos(
    user: User, service: Service, limit: Annotated[int, Query(ge=1, le=100)] = 24, before: str | None = None
) -> VideoPage:
    videos, next_cursor = await service.list_videos(user, limit, before)
    return VideoPage(videos=[await owner_view(service, video) for video in videos], next_cursor=next_cursor)


@api.get("/api/videos/{video_id}", response_model=VideoOut, responses=errors(401, 404, 502))
async def get_video(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.get_video(user, video_id))


@api.delete("/api/videos/{video_id}", status_code=204, responses=errors(401, 404, 502))
async def delete_video(video_id: str, user: User, service: Service) -> Response:
    await service.delete(user, video_id)
    return Response(status_code=204)


# --- sharing -----------------------------------------------------------------------------------


@api.post(
    "/api/videos/{video_id}/share",
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses=errors(401, 404, 409, 413, 415, 502),
)
async def share_video(video_id: str, user: User, service: Service) -> VideoOut:
    """Make a completed video public: its `share_url` opens without signing in. 409 if not completed."""
    return await owner_view(service, await service.share(user, video_id))


@api.delete("/api/videos/{video_id}/share", response_model=VideoOut, responses=errors(401, 404, 502))
async def unshare_video(video_id: str, user: User, service: Service) -> VideoOut:
    """Revoke the public link at once."""
    return await owner_view(service, await service.unshare(user, video_id))


@api.get("/api/public", response_model=PublicPage, responses=errors())
async def shared_videos(
    service: Service, limit: Annotated[int, Query(ge=1, le=100)] = 24, before: str | None = None
) -> PublicPage:
    """Videos their owners chose to share, newest first (the Explore gallery)."""
    found, next_cursor = await service.shared_videos(limit, before)
    base = service.settings.public_base_url
    return PublicPage(videos=[public_video_out(video, base) for video in found], next_cursor=next_cursor)


@api.get("/api/public/{slug}", response_model=PublicVideo, responses=errors(404))
async def public_video(slug: str, service: Service) -> PublicVideo:
    """A shared video, for anyone with its link (no sign-in, no ids)."""
    return public_video_out(await service.public_video(slug), service.settings.public_base_url)


PUBLIC_MEDIA = {"video.mp4": "video_path", "poster.jpg": "poster_path"}


@api.get(
    "/api/public/{slug}/{name}",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}, "image/jpeg": {}}},
        206: {"content": {"video/mp4": {}}},
        **errors(404, 502),
    },
)
async def public_media(slug: str, name: str, request: Request, service: Service) -> Response:
    """A shared video's file, served by the app (ranges included, for seeking)."""
    video = await service.public_video(slug)
    path = getattr(video, PUBLIC_MEDIA[name]) if name in PUBLIC_MEDIA else None
    if not path:
        raise NotFound("no such file")
    if isinstance(service.storage, LocalStorage):
        return FileResponse(service.storage.file_path(path), media_type=content_type_for(path))
    status, headers, chunks = await service.storage.stream(path, request.headers.get("range"))
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=content_type_for(path))


@api.get("/v/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def public_page(slug: str, service: Service) -> HTMLResponse:
    """The shared video's page, rendered on the server so link previews (Open Graph, Twitter
    cards) see its title, poster and video without running JavaScript."""
    try:
        video = public_video_out(await service.public_video(slug), service.settings.public_base_url)
    except NotFound:
        return HTMLResponse(render_not_found(), status_code=404)
    page_url = share_url(service.settings.public_base_url, slug)
    return HTMLResponse(render_public_page(video, page_url, service.settings.studio_url))


# --- local storage (signed URLs instead of user auth: the worker and <video> use them) ---------


def local_storage(service: Service) -> LocalStorage:
    if not isinstance(service.storage, LocalStorage):
        raise NotFound("local storage is not enabled")
    return service.storage


@api.put("/api/storage/{path:path}", responses=errors(403, 404, 413))
async def upload_file(
    path: str,
    request: Request,
    storage: Annotated[LocalStorage, Depends(local_storage)],
    expires: str | None = None,
    sig: str | None = None,
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


@api.get(
    "/api/storage/{path:path}",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}}}, **errors(403, 404)},
)
async def download_file(
    path: str,
    storage: Annotated[LocalStorage, Depends(local_storage)],
    expires: str | None = None,
    sig: str | None = None,
    download: str | None = None,
) -> Response:
    """A stored file through a signed URL; `download` (signed too) makes it an attachment."""
    if not storage.signature_is_valid("GET", path, expires, sig, download):
        raise Forbidden("invalid or expired download URL", field="sig")
    try:
        file = storage.file_path(path)
    except StorageError as error:
        raise InvalidInput(str(error), field="path") from error
    if not file.is_file():
        raise NotFound("file not found")
    return FileResponse(
        file,
        media_type=content_type_for(path),
        filename=download,
        content_disposition_type="attachment" if download else "inline",
    )
