"""The Explore page: shared videos, newest first, and sample prompts to start from."""

from __future__ import annotations

import reflex as rx

from openv_app.api.explore_page import FIRST_PAGE_ID, GRID, NOTHING_SHARED, PLACEHOLDERS
from openv_app.components import themed
from openv_app.components.explore_cards import sample_card, shared_card
from openv_app.components.header import explore_header
from openv_app.components.live_marker import LIVE_ATTRS
from openv_app.states.explore import SAMPLES, ExploreState


def card_grid(*children: rx.Component, id: str) -> rx.Component:
    """One column on a phone, two from Radix Themes' `sm` breakpoint, three from `md`."""
    return rx.el.div(*children, class_name=GRID, id=id)


def shared_videos() -> rx.Component:
    """Until the gallery has loaded: what the server wrote into the page (the first page of
    cards), or placeholders when the page did not come from the server (openv_app/api/explore_page.py)."""
    return rx.cond(
        ExploreState.loaded,
        rx.el.div(
            rx.cond(
                ExploreState.shared.length() > 0,
                card_grid(rx.foreach(ExploreState.shared, shared_card), id="shared-videos"),
                themed.text(NOTHING_SHARED, color_scheme="gray", id="nothing-shared"),
            ),
            rx.cond(
                ExploreState.has_more,
                themed.button(
                    "Load more", size="2", variant="solid", on_click=ExploreState.load_more, id="explore-more"
                ),
            ),
            class_name="shared-videos",
        ),
        rx.html(PLACEHOLDERS, id=FIRST_PAGE_ID, class_name="shared-videos"),
    )


def explore() -> rx.Component:
    return rx.container(
        rx.vstack(
            explore_header(),
            rx.heading("Shared by their makers", size="5", as_="h2"),
            shared_videos(),
            rx.heading("Sample prompts", size="5", as_="h2"),
            card_grid(*(sample_card(sample) for sample in SAMPLES), id="samples"),
            spacing="4",
            width="100%",
        ),
        size="4",
        custom_attrs=LIVE_ATTRS,
    )
