"""What routes depend on: the job service, the signed-in user, JSON-only bodies, page cursors;
and what the API's schema says about them (`document_dependencies`)."""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from openv_app.api.errors import ErrorOut, error_entry
from openv_app.services.auth import resolve_user
from openv_app.services.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, invalid_input
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


def require_json(request: Request) -> None:
    """State-changing routes take JSON only. A cross-site form can send text/plain or a form
    without asking; `application/json` makes the browser ask first (CORS preflight), and only
    the configured origins are allowed. (Read from the request, not declared as a header
    parameter: the schema says it as the request body's media type.)"""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("content-type: must be application/json", field="content-type")


Service = Annotated[JobService, Depends(get_job_service)]
User = Annotated[str, Depends(current_user)]
JSON_ONLY = [Depends(require_json)]
# A list's page cursor: the `next_cursor` the previous page returned (400 for anything else).
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="The `next_cursor` of the previous page.")]


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request's body, read up to `max_bytes` (413 naming `body` past it). (Starlette's own
    body limit answers in plain text, not in the API's error shape.)"""
    too_large = PayloadTooLarge(f"body: larger than {max_bytes} bytes", field="body")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


async def json_body(request: Request) -> Any:
    """The request's JSON, read up to MAX_JSON_BYTES."""
    body = await read_body(request, MAX_JSON_BYTES)
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
        raise InvalidInput("body: not valid JSON", field="body") from error


Body = TypeVar("Body", bound=BaseModel)


async def parsed_body(request: Request, model: type[Body]) -> Body:
    """The request's JSON as `model`; 400 naming the first bad field."""
    try:
        return model.model_validate(await json_body(request))
    except ValidationError as error:
        raise invalid_input(error) from error


def declared_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body read with `parsed_body` (FastAPI does not see it)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


# --- the schema -------------------------------------------------------------------------------
# FastAPI documents the parameters, bodies and security schemes a route declares, but not what a
# dependency answers on its own: `require_json`'s JSON body and 415, `current_user`'s 401. And it
# documents a 422 for every route with inputs, which this API answers as 400 (errors.py), and
# `null` for optional parameters, which a query string cannot carry. One step after FastAPI
# builds the schema fixes these from each route's dependencies, so that every route, present
# and future, gets them by depending on the same functions.

# The body of a route that only requires the JSON media type (it reads no body).
ANY_JSON_BODY = {
    "required": True,
    "description": "Not read: any JSON, e.g. `{}` (the media type is what is required).",
    "content": {"application/json": {"schema": {}}},
}


def document_dependencies(api: FastAPI) -> None:
    """Make `api.openapi()` return FastAPI's schema with the fixes above."""
    build = api.openapi
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if not any(schema is done for done in documented):  # FastAPI rebuilds when routes change
            _document(api, schema)
            documented[:] = [schema]
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


def _document(api: FastAPI, schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        ErrorOut.__name__, ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for route in iter_route_contexts(api.routes):
        dependant = getattr(route, "dependant", None)
        path = schema["paths"].get(route.path_format or "")
        if dependant is None or path is None:
            continue
        calls = _calls(dependant)
        declared = set(getattr(route, "responses", None) or {})
        for method in route.methods or ():
            operation = path.get(method.lower())
            if operation is None:
                continue
            responses = operation["responses"]
            if require_json in calls:
                operation.setdefault("requestBody", copy.deepcopy(ANY_JSON_BODY))["required"] = True
                responses.setdefault("415", error_entry(415))
            if current_user in calls:
                responses.setdefault("401", error_entry(401))
            if "422" in responses and 422 not in declared:
                del responses["422"]
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter["schema"])
    components = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):  # the 422's, where none is left
        if f"#/components/schemas/{name}" not in json.dumps([schema["paths"], components]):
            components.pop(name, None)


def _calls(dependant: Any) -> set[Any]:
    """Every function a route depends on, however deep."""
    calls = set()
    for dependency in dependant.dependencies:
        calls |= {dependency.call, *_calls(dependency)}
    return calls


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without FastAPI's `null` choice: absent is how it is left out."""
    choices = [choice for choice in schema.get("anyOf", []) if choice != {"type": "null"}]
    if len(choices) != 1:
        return schema
    return {**{key: value for key, value in schema.items() if key != "anyOf"}, **choices[0]}
