"""Radix Themes' look on plain elements, for what renders many times over.

Each Radix Themes component is three to five React components deep (Button: Button, BaseButton,
Slot, the element; Text: Text, Slot, the element), and the studio renders every card of the
library again on each live update. Where a component only draws (no focus management, no
popper, no portal), these draw the same element with the same classes (openv_app/radix_classes.py)
and React renders one component instead of several.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from openv_app.radix_classes import ACCENT_COLOR, BADGE, CARD, button_classes, text_classes


def classes(*names: str) -> str:
    return " ".join(name for name in names if name)


def accent(color: rx.Var[str] | str | None) -> dict[str, rx.Var[str] | str]:
    """Radix's `color_scheme`: the colour's name, "" for the theme's accent, None for inherited."""
    return {} if color is None else {ACCENT_COLOR: color}


def text(
    content: rx.Var[str] | str,
    size: str = "",
    class_name: str = "",
    color_scheme: rx.Var[str] | str | None = None,
    **props: Any,
) -> rx.Component:
    """Radix Themes' Text (a paragraph)."""
    return rx.el.p(
        content, class_name=classes(text_classes(size), class_name), custom_attrs=accent(color_scheme), **props
    )


def badge(
    content: rx.Var[str] | str, color_scheme: rx.Var[str] | str, class_name: str = "", **props: Any
) -> rx.Component:
    """Radix Themes' Badge, small and soft."""
    return rx.el.span(content, class_name=classes(BADGE, class_name), custom_attrs=accent(color_scheme), **props)


def button(
    *children: rx.Component | str,
    size: str = "1",
    variant: str = "soft",
    color_scheme: str = "",
    class_name: str = "",
    **props: Any,
) -> rx.Component:
    """Radix Themes' Button, small and soft unless told (`type="button"`: never a form's submit)."""
    return rx.el.button(
        *children,
        type="button",
        class_name=classes(button_classes(size, variant), class_name),
        custom_attrs=accent(color_scheme),
        **props,
    )


def card(*children: rx.Component, class_name: str = "", **props: Any) -> rx.Component:
    """Radix Themes' Card, surface variant."""
    return rx.el.div(*children, class_name=classes(CARD, class_name), **props)
