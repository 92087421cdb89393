"""What a grid shows before its cards arrive: boxes of a card's shape, so nothing below moves
when the cards come (the page is prerendered with empty lists and painted before they load)."""

from __future__ import annotations

import reflex as rx


def poster_box(*children: rx.Component, **props: object) -> rx.Component:
    """A 16:9 box: a poster's place, reserved before the image arrives."""
    return rx.box(
        *children, aspect_ratio="16 / 9", width="100%", border_radius="8px", background=rx.color("gray", 3), **props
    )


def placeholder_card(text_height: str) -> rx.Component:
    return rx.card(
        rx.vstack(poster_box(), rx.box(height=text_height), spacing="2", width="100%"),
        aria_hidden="true",
        class_name="placeholder-card",
    )


def placeholder_grid(count: int, text_height: str, **grid_props: object) -> rx.Component:
    """`count` placeholder cards in a grid laid out as the real one (`grid_props`)."""
    return rx.grid(*(placeholder_card(text_height) for _ in range(count)), **grid_props)
