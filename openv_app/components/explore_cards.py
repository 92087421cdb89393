"""Explore's cards: a shared video, and a sample prompt; both lead back to the studio."""

from __future__ import annotations

import reflex as rx

from openv_app.states.explore import SamplePrompt, SharedCard


def use_prompt_button(studio_link: rx.Var[str] | str) -> rx.Component:
    """The studio with its form filled in from the card."""
    return rx.link(rx.button("Use this prompt", size="1", variant="soft"), href=studio_link, class_name="use-prompt")


def explore_card(*content: rx.Component, studio_link: rx.Var[str] | str, class_name: str) -> rx.Component:
    return rx.card(
        rx.vstack(*content, use_prompt_button(studio_link), spacing="2", width="100%"),
        class_name=class_name,
    )


def shared_card(card: rx.Var[SharedCard]) -> rx.Component:
    return explore_card(
        rx.link(
            rx.image(
                src=card.poster_url,
                alt=f"Poster of {card.prompt}",
                width="100%",
                aspect_ratio="16 / 9",
                object_fit="cover",
                border_radius="8px",
                display="block",
            ),
            href=card.page_url,
            aria_label=f"Watch {card.prompt}",
            # A block as wide as the card: the poster's 16:9 box is sized before the image loads.
            width="100%",
            display="block",
        ),
        rx.text(card.prompt, size="2", class_name="shared-prompt", style={"overflow-wrap": "anywhere"}),
        rx.text(card.details, size="1", color_scheme="gray"),
        studio_link=card.studio_link,
        class_name="shared-card",
    )


def sample_card(sample: SamplePrompt) -> rx.Component:
    return explore_card(
        rx.heading(sample.title, size="3", as_="h3"),
        rx.text(sample.prompt, size="2"),
        rx.text(sample.details, size="1", color_scheme="gray"),
        studio_link=sample.studio_link,
        class_name="sample-card",
    )
