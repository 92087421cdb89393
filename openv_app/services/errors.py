"""Errors the services raise; the API turns them into JSON responses and the UI into messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

# The one way a validation error is told lives in the job contract; re-exported for the app.
from worker.contract import first_error as first_error


class ConfigurationError(Exception):
    """Settings that cannot work together; the app refuses to start with this message."""


class AppError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidInput(AppError):
    status_code = 400


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class QuotaExceeded(AppError):
    status_code = 429


class UnprocessableReport(AppError):
    """A webhook report that is JSON but not RunPod's shape."""

    status_code = 422


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedMediaType(AppError):
    status_code = 415


class AuthError(AppError):
    """No valid session."""

    status_code = 401


def invalid_input(error: ValidationError) -> InvalidInput:
    message, field = first_error(error.errors())
    return InvalidInput(message, field=field)


class UpstreamUnavailable(AppError):
    """A service the answer depends on (Clerk) could not be asked; trying again may work."""

    status_code = 503
