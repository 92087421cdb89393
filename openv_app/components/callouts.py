"""A message that something went wrong, shown while there is one."""

from __future__ import annotations

import reflex as rx


def error_callout(message: rx.Var[str], id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="circle_alert", color_scheme="red", id=id, width="100%", high_contrast=True),
    )
