"""Text that PostgreSQL can store: no NUL characters, no lone surrogates (JSON can carry both)."""

from __future__ import annotations

from typing import Any


def storable_text(value: str) -> str:
    """Refuse (ValueError) text that cannot be stored: for what a user or a client sends, so
    nothing is silently changed."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode text (it has a lone surrogate)") from error
    return value


def clean_text(value: Any, max_length: int) -> str | None:
    """Make text storable, at most max_length long; None for anything that is not text.

    For what a report carries: its status must apply even when its details are odd.
    """
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return value[:max_length]
