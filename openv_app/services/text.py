"""Text that PostgreSQL can store: no NUL characters, no lone surrogates (JSON can carry both).

`storable_text` refuses such text (for what users send; it lives in the job contract);
`clean_text` repairs it (for what reports carry, which must apply whatever their details).
"""

from __future__ import annotations

from typing import Any

from worker.contract import storable_text as storable_text


def clean_text(value: Any, max_length: int) -> str | None:
    """Make text storable, at most max_length long; None for anything that is not text.

    For what a report carries: its status must apply even when its details are odd.
    """
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return value[:max_length]
