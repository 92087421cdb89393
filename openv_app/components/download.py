"""A download drawn as a soft button."""

from __future__ import annotations

from typing import Any

import reflex as rx

from openv_app.components.themed import accent, classes
from openv_app.radix_classes import button_classes


def download_button(
    url: rx.Var[str], *children: rx.Component | str, size: str = "2", class_name: str = "", **props: Any
) -> rx.Component:
    """A real link with `download`, drawn as Radix Themes' soft button. Without reload_document,
    React Router takes the app's own storage URLs (local storage is served by the app) for one
    of its pages, and the click showed the 404 page instead of downloading."""
    return rx.el.a(
        *children,
        href=url,
        reload_document=True,
        class_name=classes(button_classes(size, "soft"), class_name),
        custom_attrs={"download": "", **accent("")},
        **props,
    )
