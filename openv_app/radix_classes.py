"""Radix Themes 3's class names and attributes, spelled as its components render them.

Some parts of the app draw Radix Themes' look with plain elements instead of its React
components: the server writes Explore's first page into the HTML without React
(api/explore_page.py), and the studio's cards render again on every live update, where each Radix
component is three to five React components deep (components/themed.py). One spelling of the
classes for both, so a Radix Themes upgrade that renames them is one change here.
"""

from __future__ import annotations

# Radix Themes sets `data-accent-color` on every coloured component: the colour's name, or empty
# for the theme's accent. Its CSS reads the colour's variables from the nearest such attribute.
ACCENT_COLOR = "data-accent-color"

CARD = "rt-reset rt-BaseCard rt-Card rt-r-size-1 rt-variant-surface"
LINK = "rt-Text rt-reset rt-Link rt-underline-auto"
BADGE = "rt-reset rt-Badge rt-r-size-1 rt-variant-soft"


def button_classes(size: str = "2", variant: str = "solid") -> str:
    return f"rt-reset rt-BaseButton rt-r-size-{size} rt-variant-{variant} rt-Button"


def text_classes(size: str = "") -> str:
    return f"rt-Text rt-r-size-{size}" if size else "rt-Text"


SMALL_BUTTON = button_classes("1", "soft")
BUTTON = button_classes()
