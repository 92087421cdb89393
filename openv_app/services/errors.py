"""Errors the services raise; the API turns them into JSON responses and the UI into messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class AppError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidInput(AppError):
    status_code = 400


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class QuotaExceeded(AppError):
    status_code = 429


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedMediaType(AppError):
    status_code = 415


class AuthError(AppError):
    """No valid session."""

    status_code = 401


def first_error(errors: list[dict[str, Any]], skip_location: tuple[str, ...] = ()) -> tuple[str, str]:
    """`("field: what is wrong", "field")` for the first of pydantic's (or FastAPI's) errors.

    The one way a validation failure becomes the API's `{"error", "field"}` and the UI's message.
    `skip_location` drops leading parts that name no field (FastAPI's "query", "body").
    """
    if not errors:
        return "body: invalid", "body"
    location = [str(part) for part in errors[0].get("loc", ()) if str(part) not in skip_location]
    field = ".".join(location) or "body"
    return f"{field}: {errors[0].get('msg', 'invalid')}", field


def invalid_input(error: ValidationError) -> InvalidInput:
    message, field = first_error(error.errors())
    return InvalidInput(message, field=field)
