"""The header of every page: the dev-mode banner, the page's title, a link to the other page,
the signed-in user's controls and the light/dark switch."""

from __future__ import annotations

import reflex as rx

from openv_app.settings import get_settings
from openv_app.states.account import AccountState
from openv_app.states.session import SessionState


def dev_banner() -> rx.Component:
    # Decided when the page is built, from the same setting the session reads: the banner is in
    # the prerendered page, so the page below it does not move down when the session loads.
    if not get_settings().dev_auth:
        return rx.fragment()
    return rx.callout(
        "Dev mode: single local user, no sign-in. Configure Clerk keys before exposing this app.",
        icon="triangle_alert",
        color_scheme="amber",
        high_contrast=True,
        size="1",
        width="100%",
        id="dev-banner",
    )


def account_controls() -> rx.Component:
    """ClerkJS mounts its user button in the box (assets/clerk.js)."""
    return rx.cond(
        SessionState.clerk_enabled & SessionState.signed_in,
        rx.hstack(
            rx.box(id="clerk-user-button"),
            rx.button("Sign out", variant="soft", color_scheme="gray", on_click=SessionState.sign_out, id="sign-out"),
            align="center",
        ),
    )


def header(*title: rx.Component, link: rx.Component) -> rx.Component:
    """`title`: the page's heading (and a tagline); `link`: the way to the other page."""
    return rx.vstack(
        dev_banner(),
        rx.hstack(
            *title,
            rx.spacer(),
            rx.cond(AccountState.is_admin, rx.link("Admin", href="/admin", id="to-admin")),
            link,
            account_controls(),
            rx.color_mode.button(id="color-mode", aria_label="Switch light or dark mode"),
            align="center",
            width="100%",
        ),
        width="100%",
        padding_y="1em",
    )


def studio_header() -> rx.Component:
    return header(
        rx.heading("OpenV", size="7", id="app-title"),
        rx.text("AI video generation", color_scheme="gray", display=["none", "block"]),
        link=rx.link("Explore", href="/explore", id="to-explore"),
    )


def explore_header() -> rx.Component:
    return header(
        rx.heading("Explore", size="7", as_="h1", id="explore-title"),
        link=rx.link("Back to the studio", href="/", id="to-studio"),
    )
