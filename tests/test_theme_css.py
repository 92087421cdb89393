"""The slim Radix stylesheet (openv_app/theme_css.py) carries every colour the components name."""

from __future__ import annotations

import re
from pathlib import Path

from openv_app.theme_css import COLORS, root_style

COMPONENTS = Path(__file__).resolve().parent.parent / "openv_app"
NAMED = re.compile(r'(?:color_scheme=|accent_color=|rx\.color\()"([a-z]+)"|"[A-Z]+": "([a-z]+)"')


def test_every_named_colour_is_in_the_stylesheet():
    named = set()
    for module in COMPONENTS.rglob("*.py"):
        for match in NAMED.finditer(module.read_text()):
            named.add(match.group(1) or match.group(2))
    named |= {"violet"}  # the accent, set in rxconfig.py
    assert named and named <= set(COLORS), named - set(COLORS)


def test_the_root_stylesheet_imports_each_colour_once():
    _, content = root_style()
    for color in COLORS:
        assert content.count(f"tokens/colors/{color}.css") == 1
    assert "@radix-ui/themes/styles.css" not in content
