"""The API's one error shape, `{"error": "...", "field": "..."}`, and the handlers that turn the
services' exceptions into it: a 4xx for the caller's mistakes, 502 when a service the app
depends on fails."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.routing import Match

from openv_app.services.errors import AppError, first_error
from openv_app.services.runpod_client import RunPodError
from openv_app.services.storage import FileNotStored, StorageError


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


def error_entry(status: int) -> dict[str, Any]:
    """An error status's entry in the built schema (what `errors` makes FastAPI write)."""
    schema = {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}
    return {"description": HTTPStatus(status).phrase, "content": {"application/json": {"schema": schema}}}


async def _app_error(request: Request, error: AppError) -> JSONResponse:
    return error_response(error.status_code, error.message, error.field, **error.details)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    message, field = first_error(list(error.errors()), skip_location=("query", "path", "header", "body"))
    return error_response(400, message, field)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    response = error_response(error.status_code, str(error.detail))
    response.headers.update(error.headers or {})
    if error.status_code == 405:
        response.headers["Allow"] = ", ".join(sorted(allowed_methods(request)))
    return response


def allowed_methods(request: Request) -> set[str]:
    """A 405's `Allow` (RFC 9110 requires it): the methods of every route on the path the request
    matched, as the schema lists them under it. (Starlette's names only the first route's.)"""
    routes = [route for route in iter_route_contexts(request.app.routes) if isinstance(route.path_format, str)]
    matched = next((route for route in routes if route.matches(request.scope)[0] != Match.NONE), None)
    if matched is None:
        return set()
    return {method for route in routes if route.path_format == matched.path_format for method in route.methods or ()}


async def _upstream_error(request: Request, error: Exception) -> JSONResponse:
    return error_response(502, str(error))


async def _file_not_stored(request: Request, error: Exception) -> JSONResponse:
    return error_response(404, "file not found")


def add_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    api.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    api.add_exception_handler(StorageError, _upstream_error)
    api.add_exception_handler(FileNotStored, _file_not_stored)
    api.add_exception_handler(RunPodError, _upstream_error)
