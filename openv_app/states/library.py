"""The user's library: cards for their videos, kept live by openv_app/live.py. It knows the
session it builds on and nothing above it (the form, states/studio.py, builds on this)."""

from __future__ import annotations

import time

import reflex as rx

from openv_app.models import Video
from openv_app.services.errors import AppError, AuthError
from openv_app.services.quota import Usage
from openv_app.services.wiring import get_job_service
from openv_app.states.cards import CardChange, VideoCard, card_for, card_or_removal
from openv_app.states.session import SessionState
from openv_app.tabs import get_tab_registry

PAGE_SIZE = 24
# A mount and the on_load of one visit come from one page load, well within this; a mount that
# no on_load follows (after a sign-in) must not make a later visit's on_load skip.
VISIT_PAIRING_S = 30.0


def usage_text(usage: Usage) -> str:
    text = f"Today: {usage.videos_today} of {usage.videos_limit} videos"
    if usage.gpu_seconds_limit is not None:
        text = f"{text} · {usage.gpu_seconds_today:.0f} of {usage.gpu_seconds_limit} GPU seconds"
    else:
        text = f"{text} · {usage.gpu_seconds_today:.0f} GPU seconds"
    if usage.limits.monthly_gpu_seconds is not None:
        text += f" · this month {usage.gpu_seconds_this_month:.0f} of {usage.limits.monthly_gpu_seconds}"
    return text


class LibraryState(SessionState):
    videos: list[VideoCard] = []
    next_cursor: str = ""
    loaded: bool = False
    player: VideoCard = VideoCard()
    player_open: bool = False
    confirm_delete_id: str = ""
    action_error: str = ""
    usage: str = ""
    # A studio visit asks for the library more than once, in no fixed order (the mount's event
    # and the on_load chain reach the backend separately): the page's on_load, also run on a
    # reconnect, and the signed-in view's mount, which with Clerk happens again once the session
    # token is verified. A load sends the whole card list and re-renders every card, a long task
    # on a phone, so a visit loads once: a mount only if nothing was loaded on this connection,
    # an on_load unless a mount of this visit has just loaded.
    _loaded_on: tuple[str, str] = ("", "")  # (user, socket id)
    _mount_loaded: tuple[str, str, float] = ("", "", 0.0)  # (user, socket id, when)

    @rx.var
    def has_more(self) -> bool:
        return bool(self.next_cursor)

    @rx.var
    def in_flight_count(self) -> int:
        return sum(1 for video in self.videos if video.in_flight)

    @rx.event
    async def load_library(self):
        where = self._user_and_socket()
        if where is None:
            return  # signed out: the sign-in panel shows instead; loading follows sign-in
        user, socket, loaded_at = self._mount_loaded
        if (user, socket) == where and time.time() - loaded_at < VISIT_PAIRING_S:
            self._mount_loaded = ("", "", 0.0)
            return
        await self._load_for_visit(where)

    @rx.event
    async def load_library_on_mount(self):
        where = self._user_and_socket()
        if where is None or self._loaded_on == where:
            return
        await self._load_for_visit(where)
        self._mount_loaded = (*where, time.time())

    def _user_and_socket(self) -> tuple[str, str] | None:
        try:
            return self._current_user(), self.router.session.session_id
        except AuthError:
            return None

    async def _load_for_visit(self, where: tuple[str, str]) -> None:
        await self._register_and_load(where[0])
        self._loaded_on = where

    async def _register_and_load(self, user: str) -> None:
        # Registered so that changes made anywhere (a webhook, the poller, another tab) reach it.
        await get_tab_registry().add(user, self.router.session.client_token)
        await self._load_first_page(user)

    async def _load_first_page(self, user: str) -> None:
        videos, cursor = await get_job_service().queries.list_videos(user, PAGE_SIZE)
        self.videos = [await card_for(video) for video in videos]
        self.next_cursor, self.loaded = cursor or "", True
        await self._refresh_usage(user)

    async def _restore(self, user_id: str) -> None:
        """Rebuild an open tab whose state Redis lost, for the user it was registered to."""
        self._resume_session(user_id)
        await self._load_first_page(user_id)

    async def _refresh_usage(self, user: str) -> None:
        self.usage = usage_text(await get_job_service().quota.usage(user))

    @rx.event
    async def load_more(self) -> None:
        if not self.next_cursor:
            return
        try:
            queries = get_job_service().queries
            videos, cursor = await queries.list_videos(self._current_user(), PAGE_SIZE, self.next_cursor)
        except AppError as error:
            self.action_error = error.message
            return
        known = {card.id for card in self.videos}
        self.videos += [await card_for(video) for video in videos if str(video.id) not in known]
        self.next_cursor = cursor or ""

    async def _show_video(self, video: Video) -> None:
        """Insert or update one card; a deleted video leaves the list."""
        self._apply_change(await card_or_removal(video))

    def _apply_change(self, change: CardChange) -> None:
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
        except AppError as error:
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
    async def share(self, video_id: str) -> None:
        await self._act(lambda service, user: service.share(user, video_id))

    @rx.event
    async def unshare(self, video_id: str) -> None:
        await self._act(lambda service, user: service.unshare(user, video_id))

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
    def open_player(self, video_id: str) -> None:
        for card in self.videos:
            if card.id == video_id:
                self.player, self.player_open = card, True

    @rx.event
    def set_player_open(self, value: bool):
        self.player_open = value
        if not value and self.player.id:
            # The dialog opens from state, not from a Radix trigger: give focus back by hand.
            return rx.call_script(f"document.getElementById('play-{self.player.id}')?.focus()")
