"""The prerendered page paints before its JavaScript starts to download.

React Router puts a `<link rel="modulepreload">` for every module of the page in the head and
imports them from an inline module script, so on a slow line ~300 KiB of JavaScript shares the
bandwidth with the one stylesheet the first paint waits for. Reflex 0.10 has no setting for the
document's scripts (its `<Scripts/>` takes no options), so this build plugin rewrites the built
HTML: the preloads are dropped from the head and issued by the module script once the browser
has painted the page, and its static imports become imports that run in the same order after
them. Hydration is unchanged, only later by about the time the stylesheet took alone.

If a React Router upgrade changes the shape of these tags the build fails here rather than
shipping pages that load their scripts twice or not at all.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from reflex.plugins import Plugin

PRELOAD = re.compile(r'<link rel="modulepreload" href="(?P<href>[^"]+)"/>')
MODULE_SCRIPT = re.compile(r'<script type="module" async="">(?P<body>.*?)</script>', re.S)
STATIC_IMPORT = re.compile(r'^import (?:\* as (?P<name>\w+) from )?"(?P<href>[^"]+)";\n', re.M)

# Resolves once the browser reports the first contentful paint (a frame's presentation can come
# well after the requestAnimationFrame that drew it). A hidden tab paints nothing until it is
# shown, so it starts at once; a browser without paint timing waits one frame; none waits > 3 s.
AFTER_FIRST_PAINT = """await new Promise((painted) => {
  setTimeout(painted, 3000);
  if (document.visibilityState === "hidden") return painted();
  if (!PerformanceObserver.supportedEntryTypes?.includes("paint")) return requestAnimationFrame(() => setTimeout(painted));
  new PerformanceObserver((entries) => entries.getEntriesByName("first-contentful-paint").length && painted())
    .observe({ type: "paint", buffered: true });
});"""


class ScriptsNotFound(RuntimeError):
    """The built page does not have the script tags this plugin knows how to defer."""


def defer_scripts(html: str) -> str:
    """The page with its module preloads and imports started after the first paint."""
    hrefs = PRELOAD.findall(html)
    scripts = MODULE_SCRIPT.findall(html)
    if not hrefs or len(scripts) != 1 or not STATIC_IMPORT.search(scripts[0]):
        raise ScriptsNotFound(f"{len(hrefs)} module preloads and {len(scripts)} module scripts")
    body = scripts[0]
    imports = "".join(
        f"const {match['name']} = await import({json.dumps(match['href'])});\n"
        if match["name"]
        else f"await import({json.dumps(match['href'])});\n"
        for match in STATIC_IMPORT.finditer(body)
    )
    preload = (
        f"for (const href of {json.dumps(hrefs)}) {{"
        ' const link = document.createElement("link"); link.rel = "modulepreload"; link.href = href;'
        " document.head.append(link); }\n"
    )
    script = AFTER_FIRST_PAINT + "\n" + preload + imports + STATIC_IMPORT.sub("", body)
    html = PRELOAD.sub("", html)
    return MODULE_SCRIPT.sub(lambda _: f'<script type="module" async="">{script}</script>', html, count=1)


@dataclasses.dataclass
class ScriptsAfterFirstPaintPlugin(Plugin):
    def post_build(self, **context: Any) -> None:
        static_dir: Path = context["static_dir"]
        for page in static_dir.rglob("*.html"):
            html = page.read_text(encoding="utf-8")
            if "window.__reactRouterContext" in html:  # not a file of assets/
                page.write_text(defer_scripts(html), encoding="utf-8")
