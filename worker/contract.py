"""The job contract between the app and the worker: what a job asks for, what it reports while
running and what it returns. Torch-free, so the web app imports it too: the bounds live here
once (each model's in model_specs.py), and a request the app accepts is one the worker accepts.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

# The model registry, re-exported: the app and the worker take models and bounds from here.
from worker.model_specs import DEFAULT_MODEL as DEFAULT_MODEL
from worker.model_specs import MODEL_SPECS as MODEL_SPECS
from worker.model_specs import MODELS as MODELS
from worker.model_specs import ModelSpec as ModelSpec

MAX_SEED = 2**32 - 1
MAX_PROMPT_LENGTH = 4000  # the worker's hard cap; the app may set a lower one (MAX_PROMPT_LENGTH)
MAX_URL_LENGTH = 2000
# Wan2.1's VAE shrinks 8x in space and 4x in time and its transformer patches 2x2: sizes are
# multiples of 16 and frame counts 4k+1. (The default model's rule; each model has its own.)
SIZE_MULTIPLE = 16
FRAME_STEP = 4


# The envelope of every model's bounds: a field outside it is wrong for every model, and the
# per-model check (GenerationSettings._fits_the_model) narrows it to the request's model.
_SPECS = MODEL_SPECS.values()
_SIZE_STEP = min(spec.size_multiple for spec in _SPECS)
_MIN_SIZE, _MAX_SIZE = min(spec.min_size for spec in _SPECS), max(spec.max_size for spec in _SPECS)
_MIN_FRAMES, _MAX_FRAMES = min(spec.min_frames for spec in _SPECS), max(spec.max_frames for spec in _SPECS)
_MIN_FPS, _MAX_FPS = min(spec.min_fps for spec in _SPECS), max(spec.max_fps for spec in _SPECS)
_MIN_STEPS, _MAX_STEPS = min(spec.min_steps for spec in _SPECS), max(spec.max_steps for spec in _SPECS)
_MIN_GUIDANCE, _MAX_GUIDANCE = min(spec.min_guidance for spec in _SPECS), max(spec.max_guidance for spec in _SPECS)


def storable_text(value: str) -> str:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates) instead of changing it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode text (it has a lone surrogate)") from error
    return value


def http_url(value: str | None) -> str | None:
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
    return value


def _refuse(message: str) -> PydanticCustomError:
    """A validation error told as `message` alone (a ValueError gets pydantic's "Value error, ")."""
    return PydanticCustomError("model_bounds", message.replace("{", "{{").replace("}", "}}"))


def _range_error(value: float, low: float, high: float, model: str) -> None:
    if not low <= value <= high:
        raise _refuse(f"must be from {low:g} to {high:g} for {model}")


class GenerationSettings(BaseModel):
    """The settings of one generation, as a user asks for them and the worker runs them.

    Each field is checked against the bounds of the request's model (MODEL_SPECS), and the
    ones a request leaves out take that model's defaults.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_LENGTH)
    negative_prompt: str = Field(default="", max_length=2000)
    # Before the fields below: their checks read the (valid) model from the data so far.
    model: str = Field(default=DEFAULT_MODEL, description=f"one of {', '.join(MODELS)}")
    width: int = Field(default=832, ge=_MIN_SIZE, le=_MAX_SIZE, multiple_of=_SIZE_STEP)
    height: int = Field(default=480, ge=_MIN_SIZE, le=_MAX_SIZE, multiple_of=_SIZE_STEP)
    num_frames: int = Field(default=33, ge=_MIN_FRAMES, le=_MAX_FRAMES)
    fps: int = Field(default=16, ge=_MIN_FPS, le=_MAX_FPS)
    steps: int = Field(default=30, ge=_MIN_STEPS, le=_MAX_STEPS)
    guidance_scale: float = Field(default=5.0, ge=_MIN_GUIDANCE, le=_MAX_GUIDANCE)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    # The video's first frame, for a model that accepts one (fetched by the worker).
    start_image_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH, validate_default=True)
    # How a start image of another aspect ratio is fitted to width x height: "crop" cuts the
    # middle out, "pad" letterboxes it with black.
    image_fit: Literal["crop", "pad"] = "crop"

    @model_validator(mode="before")
    @classmethod
    def _model_defaults(cls, data: Any) -> Any:
        """Fill the settings a request leaves out with its model's defaults."""
        if isinstance(data, dict):
            model = data.get("model", DEFAULT_MODEL)
            spec = MODEL_SPECS.get(model) if isinstance(model, str) else None
            if spec is not None:
                return {**spec.defaults(), **data}
        return data

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _storable_text(cls, value: str) -> str:
        return storable_text(value)

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODEL_SPECS:
            raise ValueError(f"must be one of {', '.join(MODELS)}")
        return value

    # Field validators reading the model already validated (not a model validator after all
    # fields): so an error's location is the field, as `first_error` tells it to the user.
    @field_validator("width", "height", "num_frames", "fps", "steps", "guidance_scale")
    @classmethod
    def _fits_the_model(cls, value: Any, info: ValidationInfo) -> Any:
        spec = MODEL_SPECS.get(info.data.get("model", ""))
        if spec is None:  # the model itself was refused: that error is the one told
            return value
        if info.field_name in ("width", "height"):
            _range_error(value, spec.min_size, spec.max_size, spec.id)
            if value % spec.size_multiple:
                raise _refuse(f"must be a multiple of {spec.size_multiple} for {spec.id}")
        elif info.field_name == "num_frames":
            if (value - 1) % spec.frame_step:
                raise _refuse(f"must be {spec.frame_step}k+1 for {spec.id} (e.g. {spec.frame_examples()})")
            _range_error(value, spec.min_frames, spec.max_frames, spec.id)
        elif info.field_name == "fps":
            _range_error(value, spec.min_fps, spec.max_fps, spec.id)
        elif info.field_name == "steps":
            _range_error(value, spec.min_steps, spec.max_steps, spec.id)
        else:
            _range_error(value, spec.min_guidance, spec.max_guidance, spec.id)
        return value

    @field_validator("start_image_url")
    @classmethod
    def _start_image_fits_the_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        http_url(value)
        spec = MODEL_SPECS.get(info.data.get("model", ""))
        if spec is not None:
            if value is not None and not spec.accepts_image:
                raise _refuse(f"{spec.id} takes no start image (it makes video from text only)")
            if value is None and not spec.accepts_text_only:
                raise _refuse(f"required for {spec.id} (it makes video from a start image)")
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
        return http_url(value)


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
