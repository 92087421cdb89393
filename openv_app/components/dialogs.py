"""The studio's dialogs: the player, and the question before a video is deleted."""

from __future__ import annotations

import reflex as rx

from openv_app.components.download import download_button
from openv_app.states.library import LibraryState


def player() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(LibraryState.player.prompt, size="3"),
            rx.el.video(
                src=LibraryState.player.video_url,
                poster=LibraryState.player.poster_url,
                controls=True,
                auto_play=True,
                loop=True,
                plays_inline=True,
                id="player-video",
                style={"width": "100%", "border-radius": "8px", "background": "black"},
            ),
            rx.hstack(
                rx.text(LibraryState.player.details, size="1", color_scheme="gray"),
                rx.spacer(),
                download_button(
                    LibraryState.player.download_url, rx.icon("download"), "Download", id="player-download"
                ),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                width="100%",
                padding_top="0.5em",
                align="center",
                wrap="wrap",
            ),
            max_width="min(900px, 95vw)",
        ),
        open=LibraryState.player_open,
        on_open_change=LibraryState.set_player_open,
    )


def confirm_delete() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this video?"),
            rx.alert_dialog.description("The video and its files are removed for good."),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Keep", variant="soft", color_scheme="gray", on_click=LibraryState.keep_video)
                ),
                rx.alert_dialog.action(
                    rx.button("Delete", color_scheme="red", on_click=LibraryState.confirm_delete, id="confirm-delete")
                ),
                justify="end",
                spacing="3",
                padding_top="1em",
            ),
        ),
        open=LibraryState.confirm_delete_id != "",
    )
