"""Tailwind with a slimmer Radix Themes stylesheet: the tokens of the colours the app uses, not
all 31. Radix's `styles.css` is the page's one render-blocking file (~690 KB, 83 KiB gzipped,
of which the colour tokens are 35 KiB); the base tokens plus these colours are ~15 KiB.

A `color_scheme` or `rx.color` of a colour not listed here would render without its colours:
add it to COLORS."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from reflex.plugins import RadixThemesPlugin, TailwindV4Plugin
from reflex_base.constants.base import Dirs

# The accent (violet), its grey (mauve), and every color_scheme in openv_app/components/.
COLORS = ("violet", "mauve", "gray", "red", "green", "orange", "amber")
RADIX = "@radix-ui/themes"


def root_style() -> tuple[str, str]:
    """Tailwind's root stylesheet, as the plugin writes it, with Radix in parts."""
    parts = ["tokens/base.css", *(f"tokens/colors/{color}.css" for color in COLORS), "components.css", "utilities.css"]
    radix = "".join(f'@import "{RADIX}/{part}" layer(components);\n' for part in parts)
    content = (
        "@layer theme, base, components, utilities;\n"
        '@import "tailwindcss/theme.css" layer(theme);\n'
        '@import "tailwindcss/preflight.css" layer(base);\n'
        f'{radix}@import "tailwindcss/utilities.css" layer(utilities);\n'
        '@config "../tailwind.config.js";\n'
    )
    return str(Path(Dirs.STYLES) / "tailwind.css"), content


@dataclasses.dataclass
class SlimRadixTailwindPlugin(TailwindV4Plugin):
    def pre_compile(self, **context: Any) -> None:
        super().pre_compile(**context)
        # Saved after the plugin's own root stylesheet, so this one is what the build reads.
        context["add_save_task"](root_style)


@dataclasses.dataclass
class TreeShakenRadixThemesPlugin(RadixThemesPlugin):
    """Radix Themes with only the components the pages use in the JavaScript.

    Reflex puts every plugin's package in `window.__reflex`, for components evaluated from
    strings at run time (`rx.dynamic`), which this app does not have: `import * as` of Radix
    Themes kept all of it (~470 KB) in the bundle every page loads. The package still installs:
    each Radix component names it as its library."""

    def get_frontend_dependencies(self, **context: Any) -> tuple[str, ...]:
        return ()
