"""The app's 404 page: for paths that do not exist, and for /admin to anyone but an admin."""

from __future__ import annotations

import reflex as rx


def not_found() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("404: Page not found", size="6", as_="h1", id="not-found"),
            rx.text("There is nothing at this address.", color_scheme="gray"),
            rx.link("Go to the studio", href="/"),
            align="center",
            spacing="3",
        ),
        min_height="60vh",
    )
