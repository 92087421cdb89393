"""The shapes the app takes in and gives out: a generation request, a video as its owner sees
it (the row's public fields plus signed URLs), a shared video as anyone sees it, and pages of
them. Plain data: building them from a row (signing URLs) is `services/views.py`'s job."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from openv_app.models import GenerationColumns, Video, VideoBase
from openv_app.services.errors import invalid_input
from worker.contract import FRAME_STEP, MAX_PROMPT_LENGTH, MAX_SEED, MODELS, GenerationSettings

# What `str.strip()` removes, spelt with escapes that JSON Schema (ECMA 262), Python and Rust
# regular expressions all read alike: a prompt needs one character besides these, and no text
# may hold NUL (`storable_text`).
STRIPPED = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PROMPT_PATTERN = rf"^[^\x00]*[^\x00{STRIPPED}][^\x00]*$"
TEXT_PATTERN = r"^[^\x00]*$"


def _declare_the_rules(schema: dict[str, Any]) -> None:
    """The schema states the rules the validators add: the models, the frame counts, the
    prompt's pattern."""
    properties = schema["properties"]
    properties["model"]["enum"] = list(MODELS)
    frames = properties["num_frames"]
    frames["enum"] = [n for n in range(frames["minimum"], frames["maximum"] + 1) if (n - 1) % FRAME_STEP == 0]
    properties["prompt"]["pattern"] = PROMPT_PATTERN
    properties["negative_prompt"]["pattern"] = TEXT_PATTERN


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
    no column for, such as a start image, takes its default)."""
    return {name: getattr(video, name) for name in GenerationRequest.model_fields if hasattr(video, name)}


class VideoOut(VideoBase):
    video_url: str | None = None
    poster_url: str | None = None
    download_url: str | None = None
    share_url: str | None = None  # the public page, while the owner shares the video


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
