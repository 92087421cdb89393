"""The home page: header now; the generator and library join it as they are built."""

import reflex as rx


def header() -> rx.Component:
    return rx.hstack(
        rx.heading("OpenV", size="7", id="app-title"),
        rx.text("AI video generation", color_scheme="gray"),
        rx.spacer(),
        rx.color_mode.button(),
        align="center",
        width="100%",
        padding="1em",
    )


def index() -> rx.Component:
    return rx.container(header(), size="4")
