"""The Explore page: shared videos, newest first, and sample prompts to start from."""

from __future__ import annotations

import reflex as rx

from openv_app.states.explore import ExploreState, SamplePrompt, SharedCard


def shared_card(card: rx.Var[SharedCard]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.link(
                rx.image(src=card.poster_url, alt=f"Poster of {card.prompt}", width="100%", border_radius="8px"),
                href=card.page_url,
                aria_label=f"Watch {card.prompt}",
            ),
            rx.text(card.prompt, size="2", class_name="shared-prompt", style={"overflow-wrap": "anywhere"}),
            rx.text(card.details, size="1", color_scheme="gray"),
            rx.link(
                rx.button("Use this prompt", size="1", variant="soft"), href=card.studio_link, class_name="use-prompt"
            ),
            spacing="2",
            width="100%",
        ),
        class_name="shared-card",
    )


def sample_card(sample: rx.Var[SamplePrompt]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(sample.title, size="3", as_="h3"),
            rx.text(sample.prompt, size="2"),
            rx.text(sample.details, size="1", color_scheme="gray"),
            rx.link(
                rx.button("Use this prompt", size="1", variant="soft"), href=sample.studio_link, class_name="use-prompt"
            ),
            spacing="2",
            width="100%",
        ),
        class_name="sample-card",
    )


def explore() -> rx.Component:
    return rx.container(
        rx.vstack(
            rx.hstack(
                rx.heading("Explore", size="7", as_="h1", id="explore-title"),
                rx.spacer(),
                rx.link("Back to the studio", href="/", id="to-studio"),
                rx.color_mode.button(id="color-mode", aria_label="Switch light or dark mode"),
                align="center",
                width="100%",
                padding_y="1em",
            ),
            rx.heading("Shared by their makers", size="5", as_="h2"),
            rx.cond(
                ExploreState.shared.length() > 0,
                rx.grid(
                    rx.foreach(ExploreState.shared, shared_card),
                    columns=rx.breakpoints(initial="1", sm="2", md="3"),
                    spacing="4",
                    width="100%",
                    id="shared-videos",
                ),
                rx.text("Nothing shared yet: start from a sample below.", color_scheme="gray", id="nothing-shared"),
            ),
            rx.cond(ExploreState.has_more, rx.button("Load more", on_click=ExploreState.load_more, id="explore-more")),
            rx.heading("Sample prompts", size="5", as_="h2"),
            rx.grid(
                rx.foreach(ExploreState.samples, sample_card),
                columns=rx.breakpoints(initial="1", sm="2", md="3"),
                spacing="4",
                width="100%",
                id="samples",
            ),
            spacing="4",
            width="100%",
        ),
        size="4",
    )
