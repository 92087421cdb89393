"""The studio page: generate a video, follow its progress, manage the library."""

from __future__ import annotations

import reflex as rx

from openv_app.components.access_panel import access_panel
from openv_app.components.dialogs import confirm_delete, player
from openv_app.components.generate_form import generate_form
from openv_app.components.header import studio_header
from openv_app.components.interval import interval
from openv_app.components.library_grid import library
from openv_app.components.live_marker import LIVE_ATTRS
from openv_app.components.sign_in import sign_in_panel
from openv_app.settings import get_settings
from openv_app.states.account import AccountState
from openv_app.states.library import LibraryState
from openv_app.states.session import SessionState


def session_refresh_ms() -> int:
    """Clerk session tokens live about a minute: the tab hands the server a fresh one every 30 s.
    Without Clerk the same event only keeps an open tab's state from expiring (TAB_STATE_TTL_S),
    so a third of that is often enough."""
    settings = get_settings()
    return settings.tab_state_ttl_s * 1000 // 3 if settings.dev_auth else 30_000


def index() -> rx.Component:
    return rx.container(
        studio_header(),
        rx.cond(
            # Before hydration the prerendered page paints the studio, which most visitors see,
            # rather than the sign-in panel that the session would then replace.
            SessionState.signed_in | ~rx.State.is_hydrated,
            # The library loads when this view appears: on load when signed in, and after a sign-in.
            rx.vstack(
                access_panel(),
                generate_form(),
                library(),
                spacing="5",
                width="100%",
                on_mount=[LibraryState.load_library_on_mount, AccountState.load_account],
            ),
            sign_in_panel(),
        ),
        player(),
        confirm_delete(),
        interval(delay_ms=session_refresh_ms(), on_tick=SessionState.refresh_session),
        size="4",
        padding_x="1em",
        padding_bottom="3em",
        custom_attrs=LIVE_ATTRS,
    )
