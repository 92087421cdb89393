"""Where a signed-out visitor signs in."""

from __future__ import annotations

import reflex as rx


def sign_in_panel() -> rx.Component:
    """ClerkJS mounts its sign-in (and sign-up) form here (assets/clerk.js)."""
    return rx.center(
        rx.vstack(
            rx.heading("Sign in to OpenV", size="5"),
            rx.box(id="clerk-sign-in"),
            align="center",
        ),
        padding="3em",
        width="100%",
    )
