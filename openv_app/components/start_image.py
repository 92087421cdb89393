"""The form's start image: a drop zone (click to pick, drop, or paste anywhere on the page),
then a preview framed at the chosen size, cropped or padded as the model will get it."""

from __future__ import annotations

import reflex as rx

from openv_app.states.start_image import UPLOAD_ID, StartImageState

ACCEPT = {"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]}
MAX_BYTES = 10 * 1024 * 1024


def drop_zone() -> rx.Component:
    # Inside a <label>, whose text names the drop zone's file input (Reflex renders that input
    # without props of ours); clicking opens the picker through the label, so the zone's own
    # click handler is off (it would open a second one).
    return rx.el.label(
        rx.upload(
            rx.hstack(
                rx.cond(StartImageState.uploading, rx.spinner(), rx.icon("image_plus", size=18)),
                rx.text("Add a start image: drop, paste or click to pick (JPEG, PNG, WebP)", size="2"),
                align="center",
                spacing="2",
            ),
            id=UPLOAD_ID,
            accept=ACCEPT,
            max_files=1,
            max_size=MAX_BYTES,
            multiple=False,
            no_click=True,
            on_drop=StartImageState.upload_image(rx.upload_files(upload_id=UPLOAD_ID)),
            border="1px dashed var(--gray-a8)",
            border_radius="var(--radius-3)",
            padding="0.75em",
            width="100%",
            cursor="pointer",
        ),
        style={"display": "block", "width": "100%"},
    )


def framed_preview() -> rx.Component:
    return rx.hstack(
        rx.box(
            rx.image(
                src=StartImageState.start_image_url,
                alt="The start image, framed as the video will begin",
                width="100%",
                height="100%",
                object_fit=rx.cond(StartImageState.image_fit == "pad", "contain", "cover"),
            ),
            aspect_ratio=StartImageState.frame_aspect,
            width="10em",
            background="black",
            border_radius="var(--radius-2)",
            overflow="hidden",
            id="start-image-preview",
        ),
        rx.vstack(
            rx.segmented_control.root(
                rx.segmented_control.item("Crop to fill", value="crop"),
                rx.segmented_control.item("Pad to fit", value="pad"),
                value=StartImageState.image_fit,
                on_change=StartImageState.choose_fit,
                size="1",
                aria_label="How the image fits the video's frame",
                id="image-fit",
            ),
            rx.button(
                rx.icon("x", size=14),
                "Remove image",
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=StartImageState.remove_image,
                id="remove-start-image",
            ),
            spacing="2",
        ),
        align="center",
        spacing="3",
    )


def start_image_field() -> rx.Component:
    return rx.cond(
        StartImageState.images_offered,
        rx.vstack(
            rx.cond(StartImageState.start_image_id != "", framed_preview(), drop_zone()),
            rx.cond(
                StartImageState.image_error != "",
                rx.text(StartImageState.image_error, color_scheme="red", size="1", id="error-start-image"),
            ),
            spacing="1",
            width="100%",
        ),
    )
