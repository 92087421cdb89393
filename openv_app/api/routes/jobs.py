"""Generation jobs: submit, RunPod's webhook and health, status, cancel, retry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ValidationError

from openv_app.api.deps import JSON_ONLY, Service, User, json_body
from openv_app.api.errors import errors
from openv_app.api.routes.videos import get_video
from openv_app.metrics import ReportTimer
from openv_app.schemas import GenerationRequest, VideoOut
from openv_app.services.errors import AuthError, UnprocessableReport, first_error
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.signing import webhook_token_matches
from openv_app.services.views import owner_view
from worker.contract import ProgressReport

router = APIRouter(prefix="/api/runpod", tags=["jobs"])
Report = TypeVar("Report", bound=BaseModel)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


# A report's attempt of the video's job (automatic retries run new jobs); absent: the first.
Attempt = Annotated[int, Query(ge=0, le=100)]

# Where a created video's id leads (OpenAPI links: clients and stateful API tests follow them).
_VIDEO_LINKS = {
    operation: {"operationId": operation, "parameters": {"video_id": "$response.body#/id"}}
    for operation in ("video_status", "cancel_video", "retry_video", "get_video", "delete_video")
}


@router.post(
    "",
    status_code=201,
    response_model=VideoOut,
    openapi_extra=_body_schema(GenerationRequest),
    dependencies=JSON_ONLY,
    responses={201: {"links": _VIDEO_LINKS}, **errors(401, 409, 413, 415, 429, 502)},
)
async def submit_video(request: Request, user: User, service: Service) -> VideoOut:
    """Queue a generation job. 400 names a bad field; 409 too many unfinished; 429 daily quota."""
    return await owner_view(service, await service.submit(user, await json_body(request)))


@router.get("", responses=errors(401, 502))
async def runpod_health(user: User, service: Service) -> dict[str, Any]:
    """Each offered model's RunPod endpoint `/health`, `{model: health}` (`{"error": ...}` for an
    endpoint that did not answer; 502 when none did)."""
    return await service.endpoints.health()


@dataclass(frozen=True)
class Callback:
    """Which attempt of which video's job a report is about, its token checked."""

    video_id: str
    attempt: int


def authenticated_callback(
    service: Service, attempt: Attempt = 0, video_id: str | None = None, token: str | None = None
) -> Callback:
    if not video_id or not webhook_token_matches(service.settings.secret, video_id, token):
        raise AuthError("invalid webhook token", field="token")
    return Callback(video_id, attempt)


Sender = Annotated[Callback, Depends(authenticated_callback)]
REPORT_RESPONSES = errors(401, 404, 413, 415, 422)


# Each report is timed from before its first check (these run first: route dependencies come
# before the handler's own), so a refused token or body is timed, and counted, as rejected.
async def webhook_timer() -> AsyncIterator[ReportTimer]:
    with ReportTimer("webhook") as timer:
        yield timer


async def progress_timer() -> AsyncIterator[ReportTimer]:
    with ReportTimer("progress") as timer:
        yield timer


WebhookTimer = Annotated[ReportTimer, Depends(webhook_timer)]
ProgressTimer = Annotated[ReportTimer, Depends(progress_timer)]


@router.post(
    "/webhook",
    openapi_extra=_body_schema(RunPodJob),
    dependencies=[Depends(webhook_timer), *JSON_ONLY],
    responses=REPORT_RESPONSES,
)
async def runpod_webhook(request: Request, service: Service, sender: Sender, timer: WebhookTimer) -> dict[str, Any]:
    """RunPod's report when a job ends; the per-video token in the URL authenticates it."""
    report = _parse_report(RunPodJob, await json_body(request))
    timer.changed = await service.apply_report(sender.video_id, report, sender.attempt)
    return {"ok": True, "changed": timer.changed}


@router.post(
    "/progress",
    openapi_extra=_body_schema(ProgressReport),
    dependencies=[Depends(progress_timer), *JSON_ONLY],
    responses=REPORT_RESPONSES,
)
async def worker_progress(request: Request, service: Service, sender: Sender, timer: ProgressTimer) -> dict[str, Any]:
    """The worker's own progress report (at most about twice a second), besides RunPod's /status."""
    report = _parse_report(ProgressReport, await json_body(request))
    progress = report.model_dump(exclude={"job_id"})
    timer.changed = await service.apply_progress(sender.video_id, sender.attempt, report.job_id, progress)
    return {"ok": True, "changed": timer.changed}


def _parse_report(model: type[Report], body: Any) -> Report:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        message, field = first_error(error.errors())
        raise UnprocessableReport(message, field=field) from error


# The job's status is the video itself: one handler, documented under both names.
router.add_api_route(
    "/{video_id}", get_video, name="video_status", response_model=VideoOut, responses=errors(401, 404, 502)
)


@router.post(
    "/{video_id}/cancel",
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses=errors(401, 404, 409, 413, 415, 502),
)
async def cancel_video(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.cancel(user, video_id))


@router.post(
    "/{video_id}/retry",
    status_code=201,
    response_model=VideoOut,
    dependencies=JSON_ONLY,
    responses={201: {"links": _VIDEO_LINKS}, **errors(401, 404, 409, 413, 415, 429, 502)},
)
async def retry_video(video_id: str, user: User, service: Service) -> VideoOut:
    return await owner_view(service, await service.retry(user, video_id))
