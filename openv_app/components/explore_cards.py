"""Explore's cards: a shared video, and a sample prompt; both lead back to the studio.

Laid out by the classes of assets/cards.css, not style props: the server writes the first page
of shared cards into the page's HTML with the same markup (openv_app/api/explore_page.py),
before any of the page's JavaScript, which emotion's styles would need, has run."""

from __future__ import annotations

import reflex as rx

from openv_app.services.gallery import SharedCard
from openv_app.states.explore import SamplePrompt


def use_prompt_button(studio_link: rx.Var[str] | str) -> rx.Component:
    """The studio with its form filled in from the card."""
    return rx.link(rx.button("Use this prompt", size="1", variant="soft"), href=studio_link, class_name="use-prompt")


def explore_card(*content: rx.Component, studio_link: rx.Var[str] | str, class_name: str) -> rx.Component:
    return rx.card(
        rx.vstack(*content, use_prompt_button(studio_link), spacing="2", class_name="explore-card-body"),
        class_name=class_name,
    )


def shared_card(card: rx.Var[SharedCard]) -> rx.Component:
    return explore_card(
        rx.link(
            rx.el.img(src=card.poster_url, alt=f"Poster of {card.prompt}"),
            href=card.page_url,
            aria_label=f"Watch {card.prompt}",
            class_name="poster-link",
        ),
        rx.text(card.prompt, size="2", class_name="shared-prompt"),
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
