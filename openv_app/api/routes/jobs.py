"""Generation jobs: submit, RunPod's webhook and health, the worker's progress; the earlier names
of a video's status, cancel and retry."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ValidationError

from openv_app.api.deps import JSON_ONLY, Service, User, json_body
from openv_app.api.errors import errors
from openv_app.api.routes.videos import VIDEO_LINKS, cancel_video, get_video, retry_video
from openv_app.metrics import ReportTimer
from openv_app.schemas import GenerationRequest, VideoOut
from openv_app.services.errors import AuthError, UnprocessableReport, first_error
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.signing import webhook_token_matches
from openv_app.services.views import owner_view
from openv_app.settings import get_settings
from worker.contract import ProgressReport

router = APIRouter(prefix="/api/runpod", tags=["jobs"])
Report = TypeVar("Report", bound=BaseModel)


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# A report's attempt of the video's job (automatic retries run new jobs); absent: the first.
Attempt = Annotated[int, Query(ge=0, le=100)]


@router.post(
    "",
    status_code=201,
    response_model=VideoOut,
    openapi_extra=_body_schema(GenerationRequest.json_schema(get_settings().max_prompt_length)),
    dependencies=JSON_ONLY,
    responses={201: {"links": VIDEO_LINKS}, **errors(401, 404, 409, 413, 415, 429, 502)},
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
    openapi_extra=_body_schema(RunPodJob.model_json_schema()),
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
    openapi_extra=_body_schema(ProgressReport.model_json_schema()),
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


# The earlier names of a video's status, cancel and retry, still served. The schema lists each
# operation once, under the video it acts on (`/api/videos/{video_id}…`, routes/videos.py): one
# resource, one path, as clients and Schemathesis' stateful checks (a deleted video is gone from
# every path below it) read it.
@router.get("/{video_id:uuid}", response_model=VideoOut, include_in_schema=False)
async def video_status(video_id: uuid.UUID, user: User, service: Service) -> VideoOut:
    """Only for ids (`:uuid`), so that a GET of /webhook or /progress is a 405, as for any path."""
    return await get_video(str(video_id), user, service)


for action, endpoint, status_code in (("cancel", cancel_video, 200), ("retry", retry_video, 201)):
    router.add_api_route(
        f"/{{video_id}}/{action}",
        endpoint,
        methods=["POST"],
        name=f"{action}_job",
        status_code=status_code,
        response_model=VideoOut,
        dependencies=JSON_ONLY,
        include_in_schema=False,
    )
