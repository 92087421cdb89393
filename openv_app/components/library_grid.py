"""The library: a heading with what is in flight and today's usage, the cards, Load more."""

from __future__ import annotations

import reflex as rx

from openv_app.components.callouts import error_callout
from openv_app.components.placeholders import placeholder_row
from openv_app.components.video_card import video_card
from openv_app.states.library import LibraryState


def library_heading() -> rx.Component:
    return rx.hstack(
        rx.heading("Library", size="5"),
        rx.cond(
            LibraryState.in_flight_count > 0,
            rx.badge(f"{LibraryState.in_flight_count} in progress", color_scheme="violet", id="in-flight-count"),
        ),
        rx.spacer(),
        # Its line's height is kept while empty, so the heading does not move when it arrives.
        rx.text(LibraryState.usage, size="1", color_scheme="gray", id="usage", min_height="1lh"),
        align="center",
        width="100%",
    )


def empty_library() -> rx.Component:
    return rx.cond(
        LibraryState.loaded & (LibraryState.videos.length() == 0),
        rx.center(
            rx.vstack(
                rx.icon("film", size=40),
                rx.text("No videos yet. Describe one above and press Generate."),
                align="center",
                color_scheme="gray",
            ),
            padding="3em",
            width="100%",
            id="empty-library",
        ),
    )


COLUMNS = {"initial": "1", "sm": "2", "lg": "3"}


def library() -> rx.Component:
    return rx.vstack(
        library_heading(),
        error_callout(LibraryState.action_error, "action-error"),
        empty_library(),
        rx.cond(
            LibraryState.loaded,
            rx.grid(
                rx.foreach(LibraryState.videos, video_card),
                columns=rx.breakpoints(**COLUMNS),
                spacing="4",
                width="100%",
                id="library",
            ),
            placeholder_row("9.5em", COLUMNS, spacing="4", width="100%"),
        ),
        rx.cond(
            LibraryState.has_more,
            rx.button("Load more", on_click=LibraryState.load_more, variant="soft", id="load-more"),
        ),
        spacing="3",
        width="100%",
    )
