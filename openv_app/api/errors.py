"""The API's one error shape, `{"error": "...", "field": "..."}`, and the handlers that turn the
services' exceptions into it: a 4xx for the caller's mistakes, 502 when a service the app
depends on fails."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

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


async def _app_error(request: Request, error: AppError) -> JSONResponse:
    return error_response(error.status_code, error.message, error.field, **error.details)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    message, field = first_error(list(error.errors()), skip_location=("query", "path", "header", "body"))
    return error_response(400, message, field)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return error_response(error.status_code, str(error.detail))


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
