"""What routes depend on: the job service, the signed-in user, JSON-only bodies, page cursors."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openv_app.services.auth import resolve_user
from openv_app.services.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from openv_app.services.jobs import JobService
from openv_app.services.queries import CURSOR_PATTERN
from openv_app.services.wiring import get_job_service

MAX_JSON_BYTES = 256 * 1024

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
# A list's page cursor: the `next_cursor` the previous page returned (400 for anything else).
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="The `next_cursor` of the previous page.")]


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
