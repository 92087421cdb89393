"""The job contract between the app and the worker: what a job asks for, what it reports while
running and what it returns. Torch-free, so the web app imports it too: the bounds live here
once, and a request the app accepts is one the worker accepts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SEED = 2**32 - 1
MODELS = ("wan2.1-t2v-1.3b",)
MAX_PROMPT_LENGTH = 4000  # the worker's hard cap; the app may set a lower one (MAX_PROMPT_LENGTH)
MAX_URL_LENGTH = 2000
# Wan's VAE shrinks 8x in space and 4x in time and its transformer patches 2x2: sizes are
# multiples of 16 and frame counts 4k+1.
SIZE_MULTIPLE = 16
FRAME_STEP = 4


def storable_text(value: str) -> str:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates) instead of changing it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode text (it has a lone surrogate)") from error
    return value


class GenerationSettings(BaseModel):
    """The settings of one generation, as a user asks for them and the worker runs them."""

    model_config = ConfigDict(allow_inf_nan=False)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_LENGTH)
    negative_prompt: str = Field(default="", max_length=2000)
    model: str = MODELS[0]
    width: int = Field(default=832, ge=128, le=1280, multiple_of=SIZE_MULTIPLE)
    height: int = Field(default=480, ge=128, le=1280, multiple_of=SIZE_MULTIPLE)
    num_frames: int = Field(default=33, ge=5, le=161)
    fps: int = Field(default=16, ge=4, le=30)
    steps: int = Field(default=30, ge=1, le=100)
    guidance_scale: float = Field(default=5.0, ge=0.0, le=20.0)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _storable_text(cls, value: str) -> str:
        return storable_text(value)

    @field_validator("num_frames")
    @classmethod
    def _frames_fit_the_model(cls, value: int) -> int:
        if (value - 1) % FRAME_STEP:
            raise ValueError("must be 4k+1 (e.g. 17, 33, 81)")
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"must be one of {', '.join(MODELS)}")
        return value


class UploadTargets(BaseModel):
    """Signed URLs the worker PUTs its files to (it never holds storage keys)."""

    video: str = Field(min_length=1)
    poster: str | None = None


class JobInput(GenerationSettings):
    """RunPod's `input` for one job."""

    model_config = ConfigDict(extra="ignore")

    upload: UploadTargets | None = None
    # Where the worker POSTs `ProgressReport`s straight to the app (worker/progress.py); the
    # app puts a per-video token in its query.
    progress_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)

    @field_validator("progress_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http(s) URL")
        return value


class Progress(BaseModel):
    """What the worker reports while running (RunPod's `output` while IN_PROGRESS)."""

    stage: str
    step: int
    total: int


class ProgressReport(Progress):
    """What the worker POSTs to the job's `progress_url` (as JSON), besides RunPod's `/status`."""

    job_id: str = Field(min_length=1, max_length=255)


class JobOutput(BaseModel):
    """The worker's result on success; a failure is `{"error": "..."}` instead."""

    video: str
    poster: str | None
    seed: int
    width: int
    height: int
    num_frames: int
    fps: int
    duration_s: float
    engine: str
    timings: dict[str, float]


def first_error(errors: list[Any], skip_location: tuple[str, ...] = ()) -> tuple[str, str]:
    """`("field: what is wrong", "field")` for the first of pydantic's (or FastAPI's) errors.

    The one way a validation failure is told: the API's `{"error", "field"}`, the UI's message
    and the worker's `{"error"}` all come from here. `skip_location` drops leading parts that
    name no field (FastAPI's "query", "body").
    """
    if not errors:
        return "body: invalid", "body"
    location = [str(part) for part in errors[0].get("loc", ()) if str(part) not in skip_location]
    field = ".".join(location) or "body"
    return f"{field}: {errors[0].get('msg', 'invalid')}", field


# How the worker's own refusals begin (worker/handler.py): the input or the model refused the
# job, so running it again would fail again. Any other failure (a worker that died, a lost
# GPU, an upload that broke) is worth another attempt.
REFUSAL_PREFIXES = ("invalid input:", "generation failed:", "model unavailable:")


def is_refusal(error: str) -> bool:
    return error.startswith(REFUSAL_PREFIXES)
