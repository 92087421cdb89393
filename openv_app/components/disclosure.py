"""A native disclosure (`<details>`/`<summary>`): keyboard-accessible by itself (the summary is a
focusable control that Enter and Space toggle), and it tells the server when it is toggled so
its state can be remembered."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.vars.base import Var
from reflex_base.vars.object import ObjectVar
from reflex_components_core.el.elements.other import Details


@dataclasses.dataclass(frozen=True)
class JavascriptDetailsElement:
    open: bool = False


@dataclasses.dataclass(frozen=True)
class JavascriptToggleEvent:
    target: JavascriptDetailsElement = JavascriptDetailsElement()


def toggle_event(e: ObjectVar[JavascriptToggleEvent]) -> tuple[Var[bool]]:
    """Whether the element is open after the toggle."""
    return (e.target.open,)


class ToggleDetails(Details):
    """`<details>` with React's `onToggle`, which Reflex's element does not declare."""

    # Reflex's own way to declare an event and what it passes (a type checker cannot read it).
    on_toggle: rx.EventHandler[toggle_event]  # type: ignore[type-arg, valid-type]


def disclosure(summary: str, *children: rx.Component, on_toggle, id: str) -> rx.Component:
    """Not bound to an `open` var: the caller opens it once, when the page loads."""
    return ToggleDetails.create(
        rx.el.summary(
            rx.text(summary, as_="span", size="2", weight="medium"),
            id=f"{id}-summary",
            style={"cursor": "pointer", "padding_block": "0.25rem", "width": "fit-content"},
        ),
        rx.vstack(*children, spacing="3", width="100%", padding_top="0.5rem"),
        on_toggle=on_toggle,
        id=id,
        width="100%",
    )
