"""What a grid shows before its cards arrive: boxes of a card's shape, so nothing below moves
when the cards come (the page is prerendered with empty lists and painted before they load)."""

from __future__ import annotations

import reflex as rx


def poster_box(*children: rx.Component, **props: object) -> rx.Component:
    """A 16:9 box: a poster's place, reserved before the image arrives."""
    return rx.box(
        *children, aspect_ratio="16 / 9", width="100%", border_radius="8px", background=rx.color("gray", 3), **props
    )


def placeholder_card(text_height: str, display: object = "block") -> rx.Component:
    return rx.card(
        rx.vstack(poster_box(), rx.box(height=text_height), spacing="2", width="100%"),
        aria_hidden="true",
        class_name="placeholder-card",
        display=display,
    )


def placeholder_row(text_height: str, columns: dict[str, str], **grid_props: object) -> rx.Component:
    """One row of placeholder cards in a grid laid out as the real one: as many cards as the grid
    has columns at each breakpoint (`columns`: breakpoint → count, as given to rx.breakpoints).
    One row only: the first real card fills it whatever their number, so nothing moves up."""
    cards = []
    for n in range(1, int(max(columns.values())) + 1):
        # Shown from the first breakpoint whose grid has n columns.
        shown_from = {point: ("block" if int(count) >= n else "none") for point, count in columns.items()}
        cards.append(placeholder_card(text_height, rx.breakpoints(**shown_from)))
    return rx.grid(*cards, columns=rx.breakpoints(**columns), **grid_props)
