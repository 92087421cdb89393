"""Errors the services raise; the API turns them into JSON responses and the UI into messages."""

from __future__ import annotations

from typing import Any


class JobError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidInput(JobError):
    status_code = 400


class NotFound(JobError):
    status_code = 404


class Conflict(JobError):
    status_code = 409


class QuotaExceeded(JobError):
    status_code = 429


class AuthError(JobError):
    """No valid session."""

    status_code = 401
