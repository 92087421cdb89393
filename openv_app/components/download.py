"""A download drawn as a soft button."""

from __future__ import annotations

from typing import Any

import reflex as rx


def download_button(url: rx.Var[str], *children: rx.Component | str, **props: Any) -> rx.Component:
    """A real link with `download`, drawn by the button (not a button inside a link). Without
    reload_document, React Router takes the app's own storage URLs (local storage is served by the
    app) for one of its pages, and the click showed the 404 page instead of downloading."""
    return rx.button(
        rx.el.a(*children, href=url, reload_document=True, custom_attrs={"download": ""}),
        as_child=True,
        variant="soft",
        **props,
    )
