"""Form fields: a label over a control and its error, an accessible select and range input."""

from __future__ import annotations

import reflex as rx

from openv_app.states.studio import GenerateState


def field_error(name: str) -> rx.Component:
    return rx.cond(
        GenerateState.field_errors.contains(name),
        rx.text(GenerateState.field_errors[name], color_scheme="red", size="1", id=f"error-{name}"),
    )


def labelled(label: str, control: rx.Component, error_for: str | None = None) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        field_error(error_for) if error_for else rx.fragment(),
        spacing="1",
        width="100%",
    )


def select(
    options: list[str] | rx.Var, value: rx.Var, on_change, id: str, label: str, pairs: bool = False
) -> rx.Component:
    """A native select. Options: a list of values, or a state var of values (`pairs`: of [value,
    shown label])."""
    if not isinstance(options, rx.Var):
        items = [rx.el.option(option, value=option) for option in options]
    elif pairs:
        items = [rx.foreach(options, lambda option: rx.el.option(option[1], value=option[0]))]
    else:
        items = [rx.foreach(options, lambda option: rx.el.option(option, value=option))]
    return rx.el.select(*items, value=value, on_change=on_change, id=id, aria_label=label, class_name="native-select")


def range_input(value: rx.Var, low: float, high: float, step: float, on_change, id: str, label: str) -> rx.Component:
    """A native range input: it carries its accessible name (Radix Themes' slider thumb cannot)."""
    return rx.el.input(
        type="range",
        min=low,
        max=high,
        step=step,
        value=value,
        on_change=on_change,
        id=id,
        aria_label=label,
        style={"width": "100%", "accent-color": "var(--accent-9)"},
    )
