"""Explore's cards: a shared video, and a sample prompt; both lead back to the studio.

The server writes the first page of shared cards into the page's HTML before any of its
JavaScript has run (openv_app/api/explore_page.py), and the live cards take their place: both
are built from the same Radix Themes classes (there, as strings), laid out by assets/cards.css
rather than by style props, which only emotion's JavaScript turns into styles. The links stay
React Router's: "Use this prompt" is a navigation inside the app.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.react_router.dom import ReactRouterLink

from openv_app.api.explore_page import STACK
from openv_app.components import themed
from openv_app.radix_classes import SMALL_BUTTON
from openv_app.services.gallery import SharedCard
from openv_app.states.explore import SamplePrompt


def use_prompt_link(studio_link: rx.Var[str] | str) -> rx.Component:
    """The studio with its form filled in from the card: a link drawn as a button (a button
    inside a link would be two controls in one, for the keyboard and for screen readers)."""
    return ReactRouterLink.create(
        "Use this prompt",
        to=studio_link,
        class_name=themed.classes(SMALL_BUTTON, "use-prompt"),
        custom_attrs=themed.accent(""),
    )


def explore_card(*content: rx.Component, studio_link: rx.Var[str] | str, class_name: str) -> rx.Component:
    return themed.card(rx.el.div(*content, use_prompt_link(studio_link), class_name=STACK), class_name=class_name)


def shared_card(card: rx.Var[SharedCard]) -> rx.Component:
    return explore_card(
        rx.link(
            rx.el.img(src=card.poster_url, alt=f"Poster of {card.prompt}"),
            href=card.page_url,
            aria_label=f"Watch {card.prompt}",
            class_name="poster-link",
        ),
        themed.text(card.prompt, "2", "shared-prompt"),
        themed.text(card.details, "1", color_scheme="gray"),
        studio_link=card.studio_link,
        class_name="shared-card",
    )


def sample_card(sample: SamplePrompt) -> rx.Component:
    return explore_card(
        rx.el.h3(sample.title, class_name="rt-Heading rt-r-size-3"),
        themed.text(sample.prompt, "2"),
        themed.text(sample.details, "1", color_scheme="gray"),
        studio_link=sample.studio_link,
        class_name="sample-card",
    )
