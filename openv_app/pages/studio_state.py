"""State of the studio page: the generate form and the user's library.

Thin: every rule lives in the services. The user is resolved on the server; nothing secret
is in a public var (Reflex sends every non-underscore var to the browser).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any

import reflex as rx

from openv_app.models import Video
from openv_app.services import presets
from openv_app.services.auth import DEV_USER_ID
from openv_app.services.clerk_auth import verify_session_token
from openv_app.services.errors import AuthError, JobError
from openv_app.services.jobs import MAX_SEED, MODELS, UNCONFIRMED, settings_of
from openv_app.services.statuses import IN_FLIGHT_STATUSES
from openv_app.services.views import VideoOut, video_out
from openv_app.services.wiring import get_job_service
from openv_app.tabs import get_tab_registry
from openv_app.settings import get_settings

PAGE_SIZE = 24
SESSION_GRACE_S = 60


@dataclass
class VideoCard:
    id: str = ""
    status: str = ""
    status_text: str = ""
    in_flight: bool = False
    progress: int = 0
    prompt: str = ""
    error: str = ""
    created: str = ""
    details: str = ""
    duration_s: float = 0.0
    video_url: str = ""
    poster_url: str = ""
    download_url: str = ""

    @classmethod
    def from_view(cls, view: VideoOut) -> VideoCard:
        return cls(
            id=str(view.id),
            status=view.status,
            status_text=status_text(view),
            in_flight=view.status in IN_FLIGHT_STATUSES,
            progress=view.progress,
            prompt=view.prompt,
            error=view.error or "",
            created=view.created_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            details=f"{view.width}×{view.height} · {view.num_frames} frames · {view.steps} steps · seed {view.seed}",
            duration_s=view.duration_s or 0.0,
            video_url=view.video_url or "",
            poster_url=view.poster_url or "",
            download_url=view.download_url or "",
        )


async def card_for(video: Video) -> VideoCard:
    return VideoCard.from_view(await video_out(get_job_service(), video))


def status_text(view: VideoOut) -> str:
    if view.status == "PENDING":
        return "Waiting for RunPod to confirm" if view.stage == UNCONFIRMED else "Queued"
    if view.status == "PROCESSING":
        return "Encoding" if view.stage == "encoding" else f"Generating {view.progress}%"
    if view.status == "FAILED":
        return "Failed"
    return view.status.capitalize()


class SessionState(rx.State):
    """Who is signed in, resolved on the server (never from anything the browser sets).

    With Clerk, the browser hands over its session token (ClerkJS `getToken()`) on load and
    every 30 s; the server verifies it and keeps the user id in a backend-only var.
    """

    dev_mode: bool = False
    clerk_enabled: bool = False
    signed_in: bool = False
    _user_id: str = ""
    _session_valid_until: float = 0.0

    def _current_user(self) -> str:
        settings = get_settings()
        if settings.dev_auth:
            return DEV_USER_ID
        if not self._user_id or time.time() > self._session_valid_until:
            raise AuthError("Your session has ended; please sign in again.")
        return self._user_id

    @rx.event
    def load_session(self):
        settings = get_settings()
        self.dev_mode, self.clerk_enabled = settings.dev_auth, not settings.dev_auth
        self.signed_in = settings.dev_auth
        if self.clerk_enabled:
            return SessionState.refresh_session

    @rx.event
    def refresh_session(self):
        if self.clerk_enabled:
            return rx.call_script("window.openvSessionToken()", callback=SessionState.receive_session_token)

    @rx.event
    async def receive_session_token(self, token: str | None):
        was_signed_in = self.signed_in
        try:
            identity = await verify_session_token(get_settings(), token or "")
        except AuthError:
            self._user_id, self.signed_in = "", False
            return
        self._user_id, self.signed_in = identity.user_id, True
        # Clerk tokens live ~60 s and are refreshed every 30 s; a little grace covers a slow refresh.
        self._session_valid_until = identity.expires_at + SESSION_GRACE_S
        if not was_signed_in:
            return LibraryState.load_library

    @rx.event
    def sign_out(self):
        self._user_id, self.signed_in = "", False
        return rx.call_script("window.Clerk && window.Clerk.signOut()")


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
    max_prompt_length: int = 1000

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
        settings = get_settings()
        self.max_prompt_length = settings.max_prompt_length
        if settings.uses_local_runpod and not self.prompt:
            # The local endpoint's tiny CPU engine: small, quick defaults.
            self.resolution, self.duration, self.steps = "240p", "1 s", 12
        if not self.seed:
            self.seed = random.randint(0, MAX_SEED)

    @rx.event
    def set_prompt(self, value: str) -> None:
        self.prompt = value
        self.field_errors.pop("prompt", None)

    @rx.event
    def set_negative_prompt(self, value: str) -> None:
        self.negative_prompt = value

    @rx.event
    def set_aspect(self, value: str) -> None:
        self.aspect = value

    @rx.event
    def set_resolution(self, value: str) -> None:
        self.resolution = value

    @rx.event
    def set_duration(self, value: str) -> None:
        self.duration = value

    @rx.event
    def set_steps(self, value: list[int | float]) -> None:
        self.steps = int(value[0])

    @rx.event
    def set_guidance_scale(self, value: list[int | float]) -> None:
        self.guidance_scale = round(float(value[0]), 1)

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
    def set_model(self, value: str) -> None:
        self.model = value

    @rx.event
    async def prompt_key_down(self, key: str, info: rx.event.KeyInputInfo):
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
        except JobError as error:
            if error.field:
                self.field_errors[error.field] = error.message
            else:
                self.form_error = error.message
        else:
            if not self.seed_locked:
                self.seed = random.randint(0, MAX_SEED)
            library = await self.get_state(LibraryState)
            await library._show_video(video)
        finally:
            self.submitting = False

    def _apply_reuse(self, video: Video) -> None:
        settings = settings_of(video)
        self.prompt, self.negative_prompt, self.model = settings["prompt"], settings["negative_prompt"], settings["model"]
        self.aspect, self.resolution = closest_preset(video.width, video.height)
        self.duration = min(presets.DURATIONS, key=lambda name: abs(presets.DURATIONS[name] - video.num_frames))
        self.steps, self.guidance_scale, self.seed = video.steps, video.guidance_scale, video.seed
        self.seed_locked, self.field_errors, self.form_error = True, {}, ""


def closest_preset(width: int, height: int) -> tuple[str, str]:
    pairs = [(aspect, resolution) for aspect, sizes in presets.SIZES.items() for resolution in sizes]
    return min(pairs, key=lambda pair: sum(abs(a - b) for a, b in zip(presets.size_for(*pair), (width, height))))


class LibraryState(SessionState):
    videos: list[VideoCard] = []
    next_cursor: str = ""
    loaded: bool = False
    player: VideoCard = VideoCard()
    player_open: bool = False
    confirm_delete_id: str = ""
    action_error: str = ""

    @rx.var
    def has_more(self) -> bool:
        return bool(self.next_cursor)

    @rx.var
    def in_flight_count(self) -> int:
        return sum(1 for video in self.videos if video.in_flight)

    @rx.event
    async def load_library(self):
        try:
            user = self._current_user()
        except AuthError:
            return  # signed out: the sign-in panel shows instead; loading follows sign-in
        # Registered so that changes made anywhere (a webhook, the poller, another tab) reach it.
        await get_tab_registry().add(user, self.router.session.client_token)
        videos, cursor = await get_job_service().list_videos(user, PAGE_SIZE)
        self.videos = [await card_for(video) for video in videos]
        self.next_cursor, self.loaded = cursor or "", True

    @rx.event
    async def load_more(self) -> None:
        if not self.next_cursor:
            return
        service = get_job_service()
        try:
            videos, cursor = await service.list_videos(self._current_user(), PAGE_SIZE, self.next_cursor)
        except JobError as error:
            self.action_error = error.message
            return
        known = {card.id for card in self.videos}
        self.videos += [await card_for(video) for video in videos if str(video.id) not in known]
        self.next_cursor = cursor or ""

    async def _show_video(self, video: Video) -> None:
        """Insert or update one card; a deleted video leaves the list."""
        self._apply_change(str(video.id) if video.deleted_at is not None else await card_for(video))

    def _apply_change(self, change: VideoCard | str) -> None:
        """A card to show, or the id of a video that left the library."""
        if isinstance(change, str):
            self._drop_card(change)
        else:
            self._place_card(change)

    def _drop_card(self, video_id: str) -> None:
        if any(card.id == video_id for card in self.videos):
            self.videos = [card for card in self.videos if card.id != video_id]

    def _place_card(self, card: VideoCard) -> None:
        for index, existing in enumerate(self.videos):
            if existing.id == card.id:
                if existing != card:  # an unchanged card sends no update to the browser
                    self.videos[index] = card
                break
        else:
            self.videos = [card, *self.videos]
        if self.player_open and self.player.id == card.id and self.player != card:
            self.player = card

    async def _act(self, action) -> None:
        self.action_error = ""
        try:
            video = await action(get_job_service(), self._current_user())
        except JobError as error:
            self.action_error = error.message
            return
        if video is not None:
            await self._show_video(video)

    @rx.event
    async def cancel(self, video_id: str) -> None:
        await self._act(lambda service, user: service.cancel(user, video_id))

    @rx.event
    async def retry(self, video_id: str) -> None:
        await self._act(lambda service, user: service.retry(user, video_id))

    @rx.event
    def ask_delete(self, video_id: str) -> None:
        self.confirm_delete_id = video_id

    @rx.event
    def keep_video(self) -> None:
        self.confirm_delete_id = ""

    @rx.event
    async def confirm_delete(self) -> None:
        video_id, self.confirm_delete_id = self.confirm_delete_id, ""

        async def delete(service, user):
            await service.delete(user, video_id)

        await self._act(delete)
        if not self.action_error:
            self._drop_card(video_id)
            if self.player.id == video_id:
                self.player_open = False

    @rx.event
    async def reuse(self, video_id: str) -> None:
        try:
            video = await get_job_service().get_video(self._current_user(), video_id)
        except JobError as error:
            self.action_error = error.message
            return
        form = await self.get_state(GenerateState)
        form._apply_reuse(video)

    @rx.event
    def open_player(self, video_id: str) -> None:
        for card in self.videos:
            if card.id == video_id:
                self.player, self.player_open = card, True

    @rx.event
    def set_player_open(self, value: bool) -> None:
        self.player_open = value
