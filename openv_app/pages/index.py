"""The studio page: generate a video, follow its progress, manage the library."""

from __future__ import annotations

import reflex as rx

from openv_app.components import presets
from openv_app.components.video_card import video_card
from openv_app.states.library import LibraryState
from openv_app.states.session import SessionState
from openv_app.states.studio import GenerateState
from worker.contract import MODELS


def header() -> rx.Component:
    return rx.vstack(
        rx.cond(
            SessionState.dev_mode,
            rx.callout(
                "Dev mode: single local user, no sign-in. Configure Clerk keys before exposing this app.",
                icon="triangle_alert",
                color_scheme="amber",
                high_contrast=True,
                size="1",
                width="100%",
                id="dev-banner",
            ),
        ),
        rx.hstack(
            rx.heading("OpenV", size="7", id="app-title"),
            rx.text("AI video generation", color_scheme="gray", display=["none", "block"]),
            rx.spacer(),
            rx.link("Explore", href="/explore", id="to-explore"),
            rx.cond(
                SessionState.clerk_enabled & SessionState.signed_in,
                rx.hstack(
                    rx.box(id="clerk-user-button"),
                    rx.button(
                        "Sign out", variant="soft", color_scheme="gray", on_click=SessionState.sign_out, id="sign-out"
                    ),
                    align="center",
                ),
            ),
            rx.color_mode.button(id="color-mode", aria_label="Switch light or dark mode"),
            align="center",
            width="100%",
        ),
        width="100%",
        padding_y="1em",
    )


def field_error(name: str) -> rx.Component:
    return rx.cond(
        GenerateState.field_errors.contains(name),
        rx.text(GenerateState.field_errors[name], color_scheme="red", size="1", id=f"error-{name}"),
    )


def labelled(label: str, control: rx.Component, error_for: str | None = None) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        field_error(error_for) if error_for else rx.fragment(),
        spacing="1",
        width="100%",
    )


def select(options: list[str], value: rx.Var, on_change, id: str, label: str) -> rx.Component:
    # Built from parts: the trigger button must carry the accessible name.
    return rx.select.root(
        rx.select.trigger(id=id, width="100%", aria_label=label),
        rx.select.content(*[rx.select.item(option, value=option) for option in options]),
        value=value,
        on_change=on_change,
    )


def range_input(value: rx.Var, low: float, high: float, step: float, on_change, id: str, label: str) -> rx.Component:
    """A native range input: it carries its accessible name (Radix Themes' slider thumb cannot)."""
    return rx.el.input(
        type="range",
        min=low,
        max=high,
        step=step,
        value=value,
        on_change=on_change,
        id=id,
        aria_label=label,
        style={"width": "100%", "accent-color": "var(--accent-9)"},
    )


def generate_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            labelled(
                "Prompt",
                rx.text_area(
                    value=GenerateState.prompt,
                    on_change=GenerateState.set_prompt,
                    on_key_down=GenerateState.prompt_key_down,
                    placeholder="A corgi surfing a wave at sunset, cinematic",
                    rows="3",
                    width="100%",
                    id="prompt",
                    resize="vertical",
                ),
                "prompt",
            ),
            rx.hstack(
                rx.text("Ctrl/⌘ + Enter to generate", size="1", color_scheme="gray"),
                rx.spacer(),
                rx.text(
                    f"{GenerateState.prompt_length} / {GenerateState.max_prompt_length}",
                    size="1",
                    id="prompt-counter",
                    color_scheme=rx.cond(GenerateState.prompt_too_long, "red", "gray"),
                ),
                width="100%",
            ),
            labelled(
                "Negative prompt",
                rx.input(
                    value=GenerateState.negative_prompt,
                    on_change=GenerateState.set_negative_prompt,
                    placeholder="blurry, low quality",
                    width="100%",
                    id="negative-prompt",
                ),
                "negative_prompt",
            ),
            rx.grid(
                labelled(
                    "Aspect ratio",
                    select(presets.ASPECTS, GenerateState.aspect, GenerateState.set_aspect, "aspect", "Aspect ratio"),
                ),
                labelled(
                    "Resolution",
                    select(
                        presets.RESOLUTIONS,
                        GenerateState.resolution,
                        GenerateState.set_resolution,
                        "resolution",
                        "Resolution",
                    ),
                ),
                labelled(
                    "Duration",
                    select(
                        list(presets.DURATIONS),
                        GenerateState.duration,
                        GenerateState.set_duration,
                        "duration",
                        "Duration",
                    ),
                ),
                *(
                    [
                        labelled(
                            "Model",
                            select(list(MODELS), GenerateState.model, GenerateState.set_model, "model", "Model"),
                        )
                    ]
                    if len(MODELS) > 1
                    else []
                ),
                columns=rx.breakpoints(initial="1", sm="3"),
                spacing="3",
                width="100%",
            ),
            labelled(
                f"Steps: {GenerateState.steps}",
                range_input(GenerateState.steps, 4, 50, 1, GenerateState.set_steps, "steps", "Steps"),
                "steps",
            ),
            labelled(
                f"Guidance: {GenerateState.guidance_scale}",
                range_input(
                    GenerateState.guidance_scale,
                    1,
                    10,
                    0.5,
                    GenerateState.set_guidance_scale,
                    "guidance",
                    "Guidance scale",
                ),
                "guidance_scale",
            ),
            labelled(
                "Seed",
                rx.hstack(
                    rx.input(
                        value=GenerateState.seed.to_string(),
                        on_change=GenerateState.set_seed,
                        id="seed",
                        width="100%",
                        aria_label="Seed",
                    ),
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("dices"),
                            on_click=GenerateState.randomize_seed,
                            variant="soft",
                            id="seed-random",
                            aria_label="Random seed",
                        ),
                        content="Random seed",
                    ),
                    rx.tooltip(
                        rx.icon_button(
                            rx.cond(GenerateState.seed_locked, rx.icon("lock"), rx.icon("lock_open")),
                            on_click=GenerateState.toggle_seed_lock,
                            variant="soft",
                            id="seed-lock",
                            aria_label=rx.cond(GenerateState.seed_locked, "Unlock the seed", "Lock the seed"),
                        ),
                        content="Keep this seed for the next video",
                    ),
                    width="100%",
                ),
                "seed",
            ),
            rx.cond(
                GenerateState.form_error != "",
                rx.callout(
                    GenerateState.form_error,
                    icon="circle_alert",
                    color_scheme="red",
                    id="form-error",
                    width="100%",
                    high_contrast=True,
                ),
            ),
            rx.hstack(
                rx.text(GenerateState.size_label, size="1", color_scheme="gray"),
                rx.spacer(),
                rx.button(
                    rx.cond(GenerateState.submitting, rx.spinner(), rx.icon("sparkles")),
                    "Generate",
                    on_click=GenerateState.submit,
                    disabled=~GenerateState.can_submit,
                    size="3",
                    id="generate",
                ),
                width="100%",
                align="center",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def library() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Library", size="5"),
            rx.cond(
                LibraryState.in_flight_count > 0,
                rx.badge(f"{LibraryState.in_flight_count} in progress", color_scheme="violet", id="in-flight-count"),
            ),
            rx.spacer(),
            rx.text(LibraryState.usage, size="1", color_scheme="gray", id="usage"),
            align="center",
            width="100%",
        ),
        rx.cond(
            LibraryState.action_error != "",
            rx.callout(
                LibraryState.action_error,
                icon="circle_alert",
                color_scheme="red",
                id="action-error",
                width="100%",
                high_contrast=True,
            ),
        ),
        rx.cond(
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
        ),
        rx.grid(
            rx.foreach(LibraryState.videos, video_card),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="4",
            width="100%",
            id="library",
        ),
        rx.cond(
            LibraryState.has_more,
            rx.button("Load more", on_click=LibraryState.load_more, variant="soft", id="load-more"),
        ),
        spacing="3",
        width="100%",
    )


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
                rx.link(
                    rx.button(rx.icon("download"), "Download", variant="soft"),
                    href=LibraryState.player.download_url,
                    id="player-download",
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


def sign_in_panel() -> rx.Component:
    """ClerkJS mounts its sign-in (and sign-up) form here."""
    return rx.center(
        rx.vstack(
            rx.heading("Sign in to OpenV", size="5"),
            rx.box(id="clerk-sign-in"),
            align="center",
        ),
        padding="3em",
        width="100%",
    )


def index() -> rx.Component:
    return rx.container(
        header(),
        rx.cond(
            SessionState.signed_in,
            rx.vstack(generate_form(), library(), spacing="5", width="100%"),
            sign_in_panel(),
        ),
        player(),
        confirm_delete(),
        # Clerk session tokens live about a minute: hand the server a fresh one every 30 s.
        rx.cond(
            SessionState.clerk_enabled,
            rx.moment(interval=30_000, on_change=SessionState.refresh_session, display="none"),
        ),
        size="4",
        padding_x="1em",
        padding_bottom="3em",
    )
