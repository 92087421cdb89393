"""The generate form: its fields, submitting it, and filling it from a video (Reuse)."""

from __future__ import annotations

import random
from typing import Any

import reflex as rx
from reflex_base.event import KeyInputInfo

from openv_app.models import Video
from openv_app.schemas import GenerationRequest, settings_of
from openv_app.services.errors import AppError, Forbidden
from openv_app.services.wiring import get_job_service
from openv_app.settings import get_settings
from openv_app.states import presets
from openv_app.states.account import AccountState
from openv_app.states.library import LibraryState
from openv_app.states.session import SessionState
from worker.contract import MAX_SEED, MODELS

# The form's selects: the state field each one sets, and the options it offers.
CHOICES: dict[str, list[str]] = {
    "aspect": presets.ASPECTS,
    "resolution": presets.RESOLUTIONS,
    "duration": list(presets.DURATIONS),
    "model": list(MODELS),
}


class GenerateState(SessionState):
    prompt: str = ""
    negative_prompt: str = ""
    aspect: str = "16:9"
    resolution: str = "480p"
    duration: str = "2 s"
    steps: int = 30
    guidance_scale: float = 5.0
    seed: int = 0
    seed_locked: bool = False
    model: str = MODELS[0]
    submitting: bool = False
    field_errors: dict[str, str] = {}
    form_error: str = ""

    @rx.var
    def max_prompt_length(self) -> int:
        return get_settings().max_prompt_length

    @rx.var
    def prompt_length(self) -> int:
        return len(self.prompt)

    @rx.var
    def prompt_too_long(self) -> bool:
        return len(self.prompt) > self.max_prompt_length

    @rx.var
    def can_submit(self) -> bool:
        return bool(self.prompt.strip()) and not self.prompt_too_long and not self.submitting

    @rx.var
    def size_label(self) -> str:
        width, height = presets.size_for(self.aspect, self.resolution)
        return f"{width}×{height}, {presets.frames_for(self.duration)} frames"

    @rx.event
    def load_form(self) -> None:
        if get_settings().uses_local_runpod and not self.prompt:
            # The local endpoint's tiny CPU engine: small, quick defaults.
            self.resolution, self.duration, self.steps = "240p", "1 s", 12
        if not self.seed:
            self.seed = random.randint(0, MAX_SEED)
        # "Make your own" (a shared video's page) and "Use this prompt" (Explore) link here
        # with the prompt and, for samples, the presets.
        query = self.router.url.query_parameters
        if shared_prompt := query.get("prompt"):
            self.prompt = shared_prompt[: self.max_prompt_length]
        if query.get("aspect") in presets.SIZES and query.get("resolution") in presets.RESOLUTIONS:
            self.aspect, self.resolution = query["aspect"], query["resolution"]
        if query.get("duration") in presets.DURATIONS:
            self.duration = query["duration"]

    @rx.event
    def set_prompt(self, value: str) -> None:
        self.prompt = value
        self.field_errors.pop("prompt", None)

    @rx.event
    def set_negative_prompt(self, value: str) -> None:
        self.negative_prompt = value

    @rx.event
    def choose(self, field: str, value: str) -> None:
        """A preset select's new value (GenerateState.choose("aspect")); only an offered option is taken."""
        if value in CHOICES.get(field, ()):
            setattr(self, field, value)

    @rx.event
    def set_steps(self, value: str) -> None:
        self.steps = int(float(value))

    @rx.event
    def set_guidance_scale(self, value: str) -> None:
        self.guidance_scale = round(float(value), 1)

    @rx.event
    def set_seed(self, value: str) -> None:
        if value.strip().isdigit() and int(value) <= MAX_SEED:
            self.seed = int(value)
            self.field_errors.pop("seed", None)
        else:
            self.field_errors["seed"] = f"a whole number from 0 to {MAX_SEED}"

    @rx.event
    def toggle_seed_lock(self) -> None:
        self.seed_locked = not self.seed_locked

    @rx.event
    def randomize_seed(self) -> None:
        self.seed = random.randint(0, MAX_SEED)

    @rx.event
    async def prompt_key_down(self, key: str, info: KeyInputInfo):
        if key == "Enter" and (info["ctrl_key"] or info["meta_key"]):
            return GenerateState.submit

    def _request(self) -> dict[str, Any]:
        width, height = presets.size_for(self.aspect, self.resolution)
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model,
            "width": width,
            "height": height,
            "num_frames": presets.frames_for(self.duration),
            "fps": presets.FPS,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "seed": self.seed,
        }

    @rx.event
    async def submit(self):
        if not self.can_submit or self.field_errors:
            return
        self.submitting, self.form_error = True, ""
        yield
        try:
            video = await get_job_service().submit(self._current_user(), self._request())
        except AppError as error:
            if error.field in GenerationRequest.model_fields:
                self.field_errors[error.field] = error.message
            else:  # the request as a whole: a limit, the session, the account
                self.form_error = error.message
            if isinstance(error, Forbidden):  # the account's standing changed: the access panel says what to do
                await (await self.get_state(AccountState))._load()
        else:
            if not self.seed_locked:
                self.seed = random.randint(0, MAX_SEED)
            library = await self.get_state(LibraryState)
            await library._show_video(video)
            await library._refresh_usage(video.user_id)
        finally:
            self.submitting = False

    @rx.event
    async def reuse(self, video_id: str) -> None:
        """Fill the form with a video's prompt and settings (a card's Reuse button)."""
        try:
            video = await get_job_service().queries.get_video(self._current_user(), video_id)
        except AppError as error:
            self.form_error = error.message
            return
        self._apply_reuse(video)

    def _apply_reuse(self, video: Video) -> None:
        settings = settings_of(video)
        self.prompt, self.negative_prompt, self.model = (
            settings["prompt"],
            settings["negative_prompt"],
            settings["model"],
        )
        self.aspect, self.resolution = closest_preset(video.width, video.height)
        self.duration = min(presets.DURATIONS, key=lambda name: abs(presets.DURATIONS[name] - video.num_frames))
        self.steps, self.guidance_scale, self.seed = video.steps, video.guidance_scale, video.seed
        self.seed_locked, self.field_errors, self.form_error = True, {}, ""


def closest_preset(width: int, height: int) -> tuple[str, str]:
    pairs = [(aspect, resolution) for aspect, sizes in presets.SIZES.items() for resolution in sizes]
    return min(
        pairs, key=lambda pair: sum(abs(a - b) for a, b in zip(presets.size_for(*pair), (width, height), strict=True))
    )
