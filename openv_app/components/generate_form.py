"""The generate form, short: the prompt, the model, aspect, resolution and duration up front;
negative prompt, steps, guidance and seed under "Advanced" (open or closed as the user left it);
the Generate button."""

from __future__ import annotations

import reflex as rx

from openv_app.components.callouts import error_callout
from openv_app.components.disclosure import disclosure
from openv_app.components.fields import labelled, range_input, select
from openv_app.components.start_image import start_image_field
from openv_app.states.account import AccountState
from openv_app.states.studio import ADVANCED_ID, GenerateState


def generate_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            *prompt_fields(),
            start_image_field(),
            model_select(),
            presets_grid(),
            disclosure(
                "Advanced: negative prompt, steps, guidance, seed",
                negative_prompt_field(),
                *sliders(),
                seed_row(),
                on_toggle=GenerateState.toggle_advanced,
                id=ADVANCED_ID,
            ),
            error_callout(GenerateState.form_error, "form-error"),
            submit_row(),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def prompt_fields() -> list[rx.Component]:
    return [
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
    ]


def negative_prompt_field() -> rx.Component:
    return labelled(
        "Negative prompt",
        rx.input(
            value=GenerateState.negative_prompt,
            on_change=GenerateState.set_negative_prompt,
            placeholder="blurry, low quality",
            width="100%",
            id="negative-prompt",
        ),
        "negative_prompt",
    )


def model_select() -> rx.Component:
    """The models this instance serves, by name; not shown when it serves one."""
    return rx.cond(
        GenerateState.shows_model,
        labelled(
            "Model",
            rx.vstack(
                select(
                    GenerateState.model_options,
                    GenerateState.model,
                    GenerateState.choose("model"),
                    "model",
                    "Model",
                    pairs=True,
                ),
                rx.text(GenerateState.model_description, size="1", color_scheme="gray", id="model-description"),
                spacing="1",
                width="100%",
            ),
            "model",
        ),
    )


PRESETS = {
    "aspect": ("Aspect ratio", ["16:9", "9:16", "1:1"]),
    "resolution": ("Resolution", GenerateState.resolution_options),
    "duration": ("Duration", GenerateState.duration_options),
}


def preset_select(field: str) -> rx.Component:
    """The select for one of the form's presets (offered as the model allows); its id is the field's name."""
    label, options = PRESETS[field]
    return labelled(label, select(options, getattr(GenerateState, field), GenerateState.choose(field), field, label))


def presets_grid() -> rx.Component:
    return rx.grid(
        *[preset_select(field) for field in PRESETS],
        columns=rx.breakpoints(initial="1", sm="3"),
        spacing="3",
        width="100%",
    )


def sliders() -> list[rx.Component]:
    """Steps and guidance within the model's bounds."""
    steps_low, steps_high = GenerateState.steps_bounds[0], GenerateState.steps_bounds[1]
    guidance_low, guidance_high = GenerateState.guidance_bounds[0], GenerateState.guidance_bounds[1]
    return [
        labelled(
            f"Steps: {GenerateState.steps}",
            range_input(GenerateState.steps, steps_low, steps_high, 1, GenerateState.set_steps, "steps", "Steps"),
            "steps",
        ),
        labelled(
            f"Guidance: {GenerateState.guidance_scale}",
            range_input(
                GenerateState.guidance_scale,
                guidance_low,
                guidance_high,
                0.5,
                GenerateState.set_guidance_scale,
                "guidance",
                "Guidance scale",
            ),
            "guidance_scale",
        ),
    ]


def seed_row() -> rx.Component:
    return labelled(
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
    )


def submit_row() -> rx.Component:
    return rx.hstack(
        rx.text(GenerateState.size_label, size="1", color_scheme="gray"),
        rx.spacer(),
        rx.button(
            rx.cond(GenerateState.submitting, rx.spinner(), rx.icon("sparkles")),
            "Generate",
            on_click=GenerateState.submit,
            disabled=~GenerateState.can_submit | ~AccountState.may_generate,
            size="3",
            id="generate",
        ),
        width="100%",
        align="center",
    )
