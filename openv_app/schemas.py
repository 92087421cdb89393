"""The shapes the app takes in and gives out: a generation request, a video as its owner sees
it (the row's public fields plus signed URLs), a shared video as anyone sees it, and pages of
them. Plain data: building them from a row (signing URLs) is `services/views.py`'s job."""

from __future__ import annotations

import uuid
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from openv_app.models import GenerationColumns, Video, VideoBase
from openv_app.services.errors import invalid_input
from openv_app.services.storage import image_id_of
from worker.contract import (
    DEFAULT_MODEL,
    FRAME_STEP,
    MAX_PROMPT_LENGTH,
    MAX_SEED,
    MODEL_SPECS,
    MODELS,
    GenerationSettings,
    ModelSpec,
)

# What `str.strip()` removes, spelt with escapes that JSON Schema (ECMA 262), Python and Rust
# regular expressions all read alike: a prompt needs one character besides these, and no text
# may hold NUL (`storable_text`).
STRIPPED = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PROMPT_PATTERN = rf"^[^\x00]*[^\x00{STRIPPED}][^\x00]*$"
TEXT_PATTERN = r"^[^\x00]*$"
IMAGE_MODELS = [model for model in MODELS if MODEL_SPECS[model].accepts_image]


def _declare_the_rules(schema: dict[str, Any]) -> None:
    """The schema states the rules the validators add: the models, the frame counts, the
    prompt's pattern, who takes a start image."""
    properties = schema["properties"]
    properties["model"]["enum"] = list(MODELS)
    frames = properties["num_frames"]
    frames["enum"] = [n for n in range(frames["minimum"], frames["maximum"] + 1) if (n - 1) % FRAME_STEP == 0]
    properties["prompt"]["pattern"] = PROMPT_PATTERN
    properties["negative_prompt"]["pattern"] = TEXT_PATTERN
    # The worker only ever gets the app's own signed URLs: a request names an image by its id,
    # for a model that takes one.
    properties["start_image_url"] = {"type": "null", "description": "Not taken: send `start_image_id`."}
    schema["allOf"] = [
        {
            "if": {"properties": {"start_image_id": {"type": "string"}}, "required": ["start_image_id"]},
            "then": {"properties": {"model": {"enum": IMAGE_MODELS}}, "required": ["model"]},
        },
        # Each model's own bounds (a request without `model` gets the default one's).
        *(
            {"if": {"properties": {"model": {"const": spec.id}}, "required": ["model"]}, "then": _bounds(spec)}
            for spec in MODEL_SPECS.values()
        ),
        {"if": {"not": {"required": ["model"]}}, "then": _bounds(MODEL_SPECS[DEFAULT_MODEL])},
    ]


def _bounds(spec: ModelSpec) -> dict[str, Any]:
    size = {"minimum": spec.min_size, "maximum": spec.max_size, "multipleOf": spec.size_multiple}
    frames = [n for n in range(spec.min_frames, spec.max_frames + 1) if (n - 1) % spec.frame_step == 0]
    return {
        "properties": {
            "width": size,
            "height": size,
            "num_frames": {"enum": frames},
            "fps": {"minimum": spec.min_fps, "maximum": spec.max_fps},
            "steps": {"minimum": spec.min_steps, "maximum": spec.max_steps},
            "guidance_scale": {"minimum": spec.min_guidance, "maximum": spec.max_guidance},
        }
    }


def _numeric_fields(model: type[BaseModel]) -> set[str]:
    numeric = {int, float, type(None)}
    return {
        name
        for name, field in model.model_fields.items()
        if set(get_args(field.annotation) or [field.annotation]) <= numeric
    }


class GenerationRequest(GenerationSettings):
    """What a user asks for: the job contract's settings, with the seed optional (random when
    left out) and the operator's prompt-length limit."""

    model_config = ConfigDict(json_schema_extra=_declare_the_rules)

    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)  # type: ignore[assignment]
    # The video's first frame: an image the user uploaded (`POST /api/images`) or took from a
    # clip (`POST /api/videos/{id}/last-frame`). The app signs its URL for the worker.
    start_image_id: uuid.UUID | None = Field(default=None, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """A number is what JSON Schema calls one: not a string or a boolean, which pydantic
        would convert ("3", true); 128.0 is still the integer 128."""
        if isinstance(value, bool | str) and info.field_name in _numeric_fields(cls):
            raise ValueError("must be a number")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_present_and_short(cls, value: str, info: ValidationInfo) -> str:
        max_length = (info.context or {}).get("max_prompt_length", MAX_PROMPT_LENGTH)
        if len(value) > max_length:  # as sent, as the schema's maxLength counts
            raise ValueError(f"must be at most {max_length} characters")
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    # Named as the contract's check of `start_image_url`, so it replaces it: the worker fetches
    # whatever URL it is given, so only the app's own signed URLs may ever reach it (no SSRF).
    @field_validator("start_image_url")
    @classmethod
    def _start_image_fits_the_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            raise PydanticCustomError(
                "start_image_url", "send start_image_id of an uploaded image (POST /api/images) instead"
            )
        return value

    @field_validator("start_image_id")
    @classmethod
    def _image_fits_the_model(cls, value: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        spec = MODEL_SPECS.get(info.data.get("model", ""))
        if spec is not None:
            if value is not None and not spec.accepts_image:
                raise PydanticCustomError(
                    "start_image_id", f"{spec.id} takes no start image (it makes video from text only)"
                )
            if value is None and not spec.accepts_text_only:
                raise PydanticCustomError(
                    "start_image_id", f"required for {spec.id} (it makes video from a start image)"
                )
        return value

    @classmethod
    def json_schema(cls, max_prompt_length: int) -> dict[str, Any]:
        """The request's JSON Schema under the operator's prompt-length limit."""
        schema = cls.model_json_schema()
        schema["properties"]["prompt"]["maxLength"] = max_prompt_length
        return schema

    @classmethod
    def parse(cls, data: Any, max_prompt_length: int) -> GenerationRequest:
        """Validate or raise InvalidInput naming the first bad field."""
        try:
            return cls.model_validate(data, context={"max_prompt_length": max_prompt_length})
        except ValidationError as error:
            raise invalid_input(error) from error


def settings_of(video: Video) -> dict[str, Any]:
    """The generation settings of a video, as a request would give them (a setting the row has
    no column for takes its default; the start image is named by its id)."""
    settings = {name: getattr(video, name) for name in GenerationRequest.model_fields if hasattr(video, name)}
    if video.start_image_path:
        settings["start_image_id"] = image_id_of(video.start_image_path)
    return settings


class VideoOut(VideoBase):
    video_url: str | None = None
    poster_url: str | None = None
    download_url: str | None = None
    share_url: str | None = None  # the public page, while the owner shares the video
    start_image_id: uuid.UUID | None = None  # the image it was made from (to submit again with)
    start_image_url: str | None = None  # that image, signed (the card's thumbnail)


class ImageOut(BaseModel):
    """A start image the user may submit with (`start_image_id`): stored as a JPEG, upright and
    without metadata, at this size; `url` is a signed preview that expires."""

    image_id: uuid.UUID
    width: int
    height: int
    url: str


class PublicVideo(GenerationColumns):
    """A shared video as anyone with its link sees it: no ids, no owner, nothing else."""

    duration_s: float | None
    video_url: str
    poster_url: str | None
    page_url: str  # the public page, /v/{slug}


class PublicPage(BaseModel):
    videos: list[PublicVideo]
    next_cursor: str | None


class VideoPage(BaseModel):
    videos: list[VideoOut]
    next_cursor: str | None


class UsageOut(BaseModel):
    """What the user used against their limits (today: the last 24 hours)."""

    unfinished: int
    max_concurrent_jobs: int
    videos_today: int
    daily_videos: int
    gpu_seconds_today: float
    daily_gpu_seconds: int | None
    gpu_seconds_this_month: float
    monthly_gpu_seconds: int | None


class AccountOut(BaseModel):
    """The signed-in user's standing: may they generate now, and if not, what to do."""

    user_id: str
    email: str | None
    role: str
    disabled: bool
    may_generate: bool
    # Why not, and the field that would change it (`voucher`, `terms` or `account`).
    blocked_reason: str | None
    blocked_field: str | None
    terms_version: str | None  # the current terms' version (None: the instance has none)
    terms_accepted: bool
    usage: UsageOut


class TermsOut(BaseModel):
    version: str
    text: str


class TermsAcceptance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=100)


class VoucherCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
