"""One video in the library: poster or progress, status in words, and its actions.

A library holds up to 24 cards and every live update renders all of them again, so a card is
made of plain elements: laid out by assets/cards.css rather than Radix Themes' stacks and
per-element style props (which emotion serializes on every render of every card), and drawn with
Radix Themes' classes rather than its components (components/themed.py), each several React
components deep. Together they cost a phone a long task per update. Actions named in words have
no icon beside the word: lucide's icons were 720 of a full library's 1,160 elements, each one
styled and laid out again on every update.
"""

from __future__ import annotations

import reflex as rx

from openv_app.components import themed
from openv_app.components.download import download_button
from openv_app.states.cards import VideoCard
from openv_app.states.library import LibraryState
from openv_app.states.start_image import StartImageState
from openv_app.states.studio import GenerateState

STATUS_COLORS = {
    "PENDING": "gray",
    "PROCESSING": "violet",
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCELLED": "orange",
}


def row(*children: rx.Component, class_name: str = "") -> rx.Component:
    """Children side by side, centred, wrapping on a narrow card (assets/cards.css)."""
    return rx.el.div(*children, class_name=f"card-row {class_name}".strip())


def status_badge(video: rx.Var[VideoCard]) -> rx.Component:
    # aria-live: screen readers announce "Generating 40%", "Completed"... as they happen.
    return themed.badge(
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
            rx.el.img(src=video.poster_url, alt="", loading="lazy"),
            rx.el.span(rx.icon("circle_play", size=44), class_name="play"),
            type="button",
            id="play-" + video.id,
            aria_label="Play " + video.prompt,
            on_click=LibraryState.open_player(video.id),
            class_name="poster",
        ),
        rx.el.div(
            rx.cond(
                video.in_flight,
                rx.el.div(
                    rx.progress(value=video.progress, max=100, class_name="progress", aria_label="Generation progress"),
                    themed.text(video.status_text, size="2"),
                    class_name="stage-progress",
                ),
                # Two static icons, not rx.icon(rx.cond(...)): a computed name makes Reflex load lucide's
                # map of every icon (~40 KiB gzipped) on first paint, and the icon only after it.
                rx.cond(video.status == "FAILED", rx.icon("circle_x", size=36), rx.icon("ban", size=36)),
            ),
            class_name="stage",
        ),
    )


def actions(video: rx.Var[VideoCard]) -> rx.Component:
    return row(
        rx.cond(
            video.in_flight,
            themed.button("Cancel", color_scheme="orange", on_click=LibraryState.cancel(video.id), class_name="cancel"),
        ),
        rx.cond(
            (video.status == "FAILED") | (video.status == "CANCELLED"),
            themed.button("Retry", on_click=LibraryState.retry(video.id), class_name="retry"),
        ),
        rx.cond(
            video.status == "COMPLETED",
            download_button(
                video.download_url, rx.icon("download", size=14), size="1", aria_label="Download", class_name="download"
            ),
        ),
        rx.cond(
            (video.status == "COMPLETED") & (video.share_url == ""),
            themed.button("Share", on_click=LibraryState.share(video.id), class_name="share"),
        ),
        rx.cond(
            (video.status == "COMPLETED") & StartImageState.images_offered,
            themed.button(
                "Continue",
                on_click=StartImageState.continue_from(video.id),
                class_name="continue",
                aria_label="Continue this clip from its last frame",
            ),
        ),
        # Named in words like the other actions: a tooltip never shows on a touch screen.
        themed.button(
            "Remix",
            color_scheme="gray",
            on_click=GenerateState.reuse(video.id),
            class_name="reuse",
            title="This video's prompt, settings and start image back in the form",
        ),
        themed.button(
            rx.icon("trash_2", size=14),
            color_scheme="red",
            aria_label="Delete",
            on_click=LibraryState.ask_delete(video.id),
            class_name="delete",
        ),
        class_name="card-actions",
    )


def video_card(video: rx.Var[VideoCard]) -> rx.Component:
    return themed.card(
        rx.el.div(
            preview(video),
            row(status_badge(video), themed.text(video.created, size="1", color_scheme="gray"), class_name="spread"),
            themed.text(video.prompt, size="2", class_name="prompt"),
            rx.cond(video.error != "", themed.text(video.error, size="1", color_scheme="red", class_name="error")),
            row(
                rx.cond(
                    video.start_image_url != "",
                    rx.el.img(src=video.start_image_url, alt="Start image", class_name="start-image-thumb"),
                ),
                themed.text(video.details, size="1", color_scheme="gray"),
            ),
            rx.cond(
                video.share_url != "",
                row(
                    rx.link("Public link", href=video.share_url, is_external=True, size="1", class_name="share-link"),
                    themed.button(
                        "Stop sharing",
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=LibraryState.unshare(video.id),
                        class_name="unshare",
                    ),
                ),
            ),
            rx.cond(video.timing != "", themed.text(video.timing, size="1", color_scheme="gray", class_name="timing")),
            actions(video),
            class_name="card-body",
        ),
        key=video.id,
        class_name="video-card",
        data_status=video.status,
        data_id=video.id,
    )
