"""The generate form: its fields, submitting it, and filling it from a video (Remix)."""

from __future__ import annotations

import random
from typing import Any

import reflex as rx
from reflex_base.event import KeyInputInfo

from openv_app.models import Video
from openv_app.schemas import settings_of
from openv_app.services.errors import AppError, Forbidden
from openv_app.services.wiring import get_job_service
from openv_app.settings import get_settings
from openv_app.states import presets
from openv_app.states.account import AccountState
from openv_app.states.library import LibraryState
from openv_app.states.session import SessionState
from worker.contract import MAX_SEED, MODEL_SPECS, ModelSpec

# The local endpoint's tiny CPU engine: small, quick settings.
LOCAL_STEPS = 12
# The "Advanced" disclosure's element id.
ADVANCED_ID = "advanced"
RESTORE_ADVANCED_JS = (
    f"const advanced = document.getElementById('{ADVANCED_ID}');"
    " if (advanced && !window.openvAdvancedRestored) { window.openvAdvancedRestored = true; advanced.open = true }"
)
# Fields the form shows an error under; any other field's error is told above the button.
SHOWN_FIELDS = frozenset({"prompt", "negative_prompt", "steps", "guidance_scale", "seed"})


def offered_models() -> list[str]:
    """The models this instance serves (each on its RunPod endpoint), the default first."""
    return list(get_settings().model_endpoints)


def fitted(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


_FIRST = MODEL_SPECS[offered_models()[0]]


class GenerateState(SessionState):
    prompt: str = ""
    negative_prompt: str = ""
    model: str = _FIRST.id
    aspect: str = "16:9"
    resolution: str = presets.native_resolution(_FIRST)
    duration: str = "2 s"
    steps: int = _FIRST.default_steps
    guidance_scale: float = _FIRST.default_guidance
    fps: int = _FIRST.default_fps
    seed: int = 0
    seed_locked: bool = False
    # An uploaded start image (image-to-video), shown framed as the model will see it.
    start_image_id: str = ""
    start_image_url: str = ""
    image_fit: str = "crop"
    submitting: bool = False
    field_errors: dict[str, str] = {}
    form_error: str = ""
    # The Advanced section (negative prompt, steps, guidance, seed): open or closed, kept in the
    # browser across reloads.
    advanced: str = rx.LocalStorage("closed", name="openv_advanced")

    @property
    def _spec(self) -> ModelSpec:
        return MODEL_SPECS[self.model]

    # The computed vars name `self.model` themselves: Reflex finds what they depend on in their code.

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
    def model_options(self) -> list[list[str]]:
        """[id, display name] of each model on offer."""
        return [[model, MODEL_SPECS[model].name] for model in offered_models()]

    @rx.var
    def shows_model(self) -> bool:
        return len(offered_models()) > 1

    @rx.var
    def model_description(self) -> str:
        return MODEL_SPECS[self.model].description

    @rx.var
    def resolution_options(self) -> list[str]:
        return presets.resolutions_for(MODEL_SPECS[self.model])

    @rx.var
    def duration_options(self) -> list[str]:
        return presets.durations_for(MODEL_SPECS[self.model])

    @rx.var
    def steps_bounds(self) -> list[int]:
        spec = MODEL_SPECS[self.model]
        return [spec.min_steps, spec.max_steps]

    @rx.var
    def guidance_bounds(self) -> list[float]:
        spec = MODEL_SPECS[self.model]
        return [spec.min_guidance, spec.max_guidance]

    @rx.var
    def size_label(self) -> str:
        spec = MODEL_SPECS[self.model]
        width, height = presets.size_for(self.aspect, self.resolution, spec)
        return f"{width}×{height}, {presets.frames_for(self.duration, spec)} frames at {self.fps} fps"

    @rx.event
    def load_form(self):
        if self.model not in offered_models():
            self._switch_model(offered_models()[0])
        if get_settings().uses_local_runpod and not self.prompt:
            self.resolution, self.duration = presets.RESOLUTIONS[-1], "1 s"
            self.steps = min(self.steps, LOCAL_STEPS)
        if not self.seed:
            self.seed = random.randint(0, MAX_SEED)
        # "Make your own" (a shared video's page) and "Use this prompt" (Explore) link here
        # with the prompt and, for samples, the presets.
        query = self.router.url.query_parameters
        if shared_prompt := query.get("prompt"):
            self.prompt = shared_prompt[: self.max_prompt_length]
        if query.get("aspect") in presets.SIZES and query.get("resolution") in self.resolution_options:
            self.aspect, self.resolution = query["aspect"], query["resolution"]
        if query.get("duration") in self.duration_options:
            self.duration = query["duration"]
        # Opened once per page load, not bound to the state: a re-render while a toggle is on its
        # way to the server would undo the user's click, and so would a second load (a socket
        # that reconnects hydrates again) answered after the user has folded it.
        return rx.call_script(RESTORE_ADVANCED_JS) if self.advanced == "open" else None

    @rx.event
    def set_prompt(self, value: str) -> None:
        self.prompt = value
        self.field_errors.pop("prompt", None)

    @rx.event
    def set_negative_prompt(self, value: str) -> None:
        self.negative_prompt = value

    @rx.event
    def choose(self, field: str, value: str) -> None:
        """A select's new value (GenerateState.choose("aspect")); only an offered option is taken."""
        if field == "model" and value in offered_models():
            self._switch_model(value)
        elif field == "aspect" and value in presets.ASPECTS:
            self.aspect = value
        elif field == "resolution" and value in self.resolution_options:
            self.resolution = value
        elif field == "duration" and value in self.duration_options:
            self.duration = value

    def _switch_model(self, model: str) -> None:
        """The model's defaults (steps, guidance, frame rate); the size and duration chosen stay
        when the model offers them."""
        spec = MODEL_SPECS[model]
        self.model, self.fps, self.guidance_scale = model, spec.default_fps, spec.default_guidance
        self.steps = min(spec.default_steps, LOCAL_STEPS) if get_settings().uses_local_runpod else spec.default_steps
        if self.resolution not in presets.resolutions_for(spec):
            self.resolution = presets.native_resolution(spec)
        if self.duration not in presets.durations_for(spec):
            self.duration = presets.durations_for(spec)[0]
        for name in ("model", "steps", "guidance_scale"):
            self.field_errors.pop(name, None)

    @rx.event
    def set_steps(self, value: str) -> None:
        self.steps = int(float(value))
        self.field_errors.pop("steps", None)

    @rx.event
    def set_guidance_scale(self, value: str) -> None:
        self.guidance_scale = round(float(value), 1)
        self.field_errors.pop("guidance_scale", None)

    @rx.event
    def toggle_advanced(self, is_open: bool) -> None:
        self.advanced = "open" if is_open else "closed"

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
        width, height = presets.size_for(self.aspect, self.resolution, self._spec)
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model,
            "width": width,
            "height": height,
            "num_frames": presets.frames_for(self.duration, self._spec),
            "fps": self.fps,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "seed": self.seed,
            **({"start_image_id": self.start_image_id, "image_fit": self.image_fit} if self.start_image_id else {}),
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
            if error.field in SHOWN_FIELDS or (error.field == "model" and self.shows_model):
                self.field_errors[error.field] = error.message
            else:  # the request as a whole: a limit, the session, the account (or a field not shown)
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
        """Fill the form with a video's prompt, settings and start image (a card's Remix button)."""
        try:
            video = await get_job_service().queries.get_video(self._current_user(), video_id)
        except AppError as error:
            self.form_error = error.message
            return
        self._apply_reuse(video)
        # Remix: the source image too (its id as a request names it).
        path, images = video.start_image_path, get_job_service().images
        self.start_image_id = str(settings_of(video).get("start_image_id", ""))
        self.start_image_url = await images.signed_url(path) if path else ""
        self.image_fit = video.image_fit

    def _apply_reuse(self, video: Video) -> None:
        """The video's settings, fitted to its model (or, if this instance no longer offers that
        model, to the default one)."""
        settings = settings_of(video)
        self._switch_model(video.model if video.model in offered_models() else offered_models()[0])
        spec = self._spec
        self.prompt, self.negative_prompt = settings["prompt"], settings["negative_prompt"]
        self.aspect, self.resolution = presets.closest_size(video.width, video.height, spec)
        self.duration = presets.closest_duration(video.num_frames, spec)
        self.steps = int(fitted(video.steps, spec.min_steps, spec.max_steps))
        self.guidance_scale = fitted(video.guidance_scale, spec.min_guidance, spec.max_guidance)
        self.seed, self.seed_locked, self.field_errors, self.form_error = video.seed, True, {}, ""
