"""The app's log lines: plain text (the default) or one JSON object per line (`LOG_FORMAT=json`),
configured once at start-up by `configure_logging`.

A JSON line carries `time` (ISO 8601, UTC), `level`, `logger`, `message`, an `exc_info`
traceback when there is one, and whatever the call passed in `extra`. A line about a job passes
`extra=job_fields(...)`, so it carries the job's `video_id` and `runpod_job_id` (null while
RunPod has not given the job an id) for a log pipeline to filter on; the plain text names the
video in the message itself.

Reflex's, gunicorn's and uvicorn's own lines have their own handlers (`REFLEX_LOG_JSON=true` turns those to
JSON too); this configures the root logger, which the app's modules log through.
"""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

APP_LOGGER = "openv_app"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The record attributes a JSON line starts from, under the names it gives them.
JSON_FIELDS = {"levelname": "level", "name": "logger", "message": "message"}


def job_fields(video_id: uuid.UUID | str, runpod_job_id: str | None) -> dict[str, str | None]:
    """What a log line about a job passes as `extra`: the job's two ids."""
    return {"video_id": str(video_id), "runpod_job_id": runpod_job_id}


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        " ".join(f"%({field})s" for field in JSON_FIELDS),
        rename_fields={field: name for field, name in JSON_FIELDS.items() if field != name},
        timestamp="time",
    )


def configure_logging(log_format: Literal["text", "json"]) -> None:
    """One handler on the root logger, to stderr, in the chosen format: the app's own lines from
    INFO up, other libraries' from WARNING (httpx would log every RunPod call at INFO). Called
    again, it replaces its handler instead of adding one."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, "openv", False)]:
        root.removeHandler(previous)
    handler.openv = True  # type: ignore[attr-defined]  # marks the handler this function owns
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger(APP_LOGGER).setLevel(logging.INFO)
