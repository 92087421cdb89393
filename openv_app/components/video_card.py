"""One video in the library: poster or progress, status in words, and its actions."""

from __future__ import annotations

from typing import Any

import reflex as rx

from openv_app.states.library import LibraryState, VideoCard
from openv_app.states.start_image import StartImageState
from openv_app.states.studio import GenerateState

STATUS_COLORS = {
    "PENDING": "gray",
    "PROCESSING": "violet",
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCELLED": "orange",
}


def status_badge(video: rx.Var[VideoCard]) -> rx.Component:
    # aria-live: screen readers announce "Generating 40%", "Completed"... as they happen.
    return rx.badge(
        video.status_text,
        color_scheme=rx.match(video.status, *STATUS_COLORS.items(), "gray"),
        class_name="status-text",
        aria_live="polite",
    )


def preview(video: rx.Var[VideoCard]) -> rx.Component:
    return rx.cond(
        video.status == "COMPLETED",
        # A real button, named for what it does: reachable by keyboard, announced by readers.
        rx.el.button(
            rx.image(src=video.poster_url, alt="", width="100%", height="100%", object_fit="cover", loading="lazy"),
            rx.center(rx.icon("circle_play", size=44, color="white"), position="absolute", inset="0"),
            type="button",
            id="play-" + video.id,
            aria_label="Play " + video.prompt,
            position="relative",
            display="block",
            width="100%",
            padding="0",
            border="none",
            aspect_ratio="16 / 9",
            overflow="hidden",
            border_radius="8px",
            cursor="pointer",
            background="black",
            _focus_visible={"outline": "3px solid var(--accent-9)", "outline_offset": "2px"},
            on_click=LibraryState.open_player(video.id),
            class_name="poster",
        ),
        rx.center(
            rx.cond(
                video.in_flight,
                rx.vstack(
                    rx.progress(
                        value=video.progress,
                        max=100,
                        width="80%",
                        class_name="progress",
                        aria_label="Generation progress",
                    ),
                    rx.text(video.status_text, size="2"),
                    align="center",
                    width="100%",
                ),
                # Two static icons, not rx.icon(rx.cond(...)): a computed name makes Reflex load lucide's
                # map of every icon (~40 KiB gzipped) on first paint, and the icon only after it.
                rx.cond(
                    video.status == "FAILED",
                    rx.icon("circle_x", size=36, color=rx.color("gray", 9)),
                    rx.icon("ban", size=36, color=rx.color("gray", 9)),
                ),
            ),
            aspect_ratio="16 / 9",
            border_radius="8px",
            background=rx.color("gray", 3),
            width="100%",
        ),
    )


def card_button(*children: rx.Component | str, **props: Any) -> rx.Component:
    """A small soft button, as every action on a card has."""
    return rx.button(*children, size="1", variant="soft", **props)


def icon_card_button(icon: str, label: str, color_scheme: str, **props: Any) -> rx.Component:
    """A card button showing only an icon: its label is its accessible name."""
    return card_button(rx.icon(icon, size=14), color_scheme=color_scheme, aria_label=label, **props)


def actions(video: rx.Var[VideoCard]) -> rx.Component:
    return rx.hstack(
        rx.cond(
            video.in_flight,
            card_button("Cancel", color_scheme="orange", on_click=LibraryState.cancel(video.id), class_name="cancel"),
        ),
        rx.cond(
            (video.status == "FAILED") | (video.status == "CANCELLED"),
            card_button(
                rx.icon("rotate_ccw", size=14), "Retry", on_click=LibraryState.retry(video.id), class_name="retry"
            ),
        ),
        rx.cond(
            video.status == "COMPLETED",
            rx.link(
                card_button(rx.icon("download", size=14), aria_label="Download"),
                href=video.download_url,
                class_name="download",
                aria_label="Download",
            ),
        ),
        rx.cond(
            (video.status == "COMPLETED") & (video.share_url == ""),
            card_button(
                rx.icon("share_2", size=14), "Share", on_click=LibraryState.share(video.id), class_name="share"
            ),
        ),
        rx.cond(
            (video.status == "COMPLETED") & StartImageState.images_offered,
            card_button(
                rx.icon("film", size=14),
                "Continue",
                on_click=StartImageState.continue_from(video.id),
                class_name="continue",
                aria_label="Continue this clip from its last frame",
            ),
        ),
        # Named in words like the other actions: a tooltip never shows on a touch screen.
        card_button(
            rx.icon("copy", size=14),
            "Remix",
            color_scheme="gray",
            on_click=GenerateState.reuse(video.id),
            class_name="reuse",
            title="This video's prompt, settings and start image back in the form",
        ),
        rx.spacer(),
        icon_card_button("trash_2", "Delete", "red", on_click=LibraryState.ask_delete(video.id), class_name="delete"),
        width="100%",
        wrap="wrap",
    )


def video_card(video: rx.Var[VideoCard]) -> rx.Component:
    return rx.card(
        rx.vstack(
            preview(video),
            rx.hstack(
                status_badge(video), rx.spacer(), rx.text(video.created, size="1", color_scheme="gray"), width="100%"
            ),
            rx.text(video.prompt, size="2", class_name="prompt", style={"overflow-wrap": "anywhere"}),
            rx.cond(video.error != "", rx.text(video.error, size="1", color_scheme="red", class_name="error")),
            rx.hstack(
                rx.cond(
                    video.start_image_url != "",
                    rx.image(
                        src=video.start_image_url,
                        alt="Start image",
                        width="2.5em",
                        height="2.5em",
                        object_fit="cover",
                        border_radius="var(--radius-1)",
                        class_name="start-image-thumb",
                    ),
                ),
                rx.text(video.details, size="1", color_scheme="gray"),
                align="center",
            ),
            rx.cond(
                video.share_url != "",
                rx.hstack(
                    rx.link("Public link", href=video.share_url, is_external=True, size="1", class_name="share-link"),
                    rx.button(
                        "Stop sharing",
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=LibraryState.unshare(video.id),
                        class_name="unshare",
                    ),
                    align="center",
                ),
            ),
            rx.cond(video.timing != "", rx.text(video.timing, size="1", color_scheme="gray", class_name="timing")),
            actions(video),
            spacing="2",
            width="100%",
        ),
        key=video.id,
        class_name="video-card",
        data_status=video.status,
        data_id=video.id,
    )
