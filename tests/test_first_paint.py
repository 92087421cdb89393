"""The build's rewrite of each page's scripts (openv_app/first_paint.py): the page paints before
its modules download, and they are still all fetched, imported in their order, and started."""

from __future__ import annotations

import re

import pytest

from openv_app.first_paint import AFTER_FIRST_PAINT, ScriptsNotFound, defer_scripts

# The shape React Router 7's <Scripts/> gives a prerendered page (trimmed).
PAGE = """<!DOCTYPE html><html><head><link rel="stylesheet" href="/assets/app.css"/>\
<link rel="modulepreload" href="/assets/manifest-1.js"/><link rel="modulepreload" href="/assets/entry.client-2.js"/>\
<link rel="modulepreload" href="/assets/react-dom-3.js"/><link rel="modulepreload" href="/assets/root-4.js"/>\
<link rel="modulepreload" href="/assets/_index-5.js"/><script>window.__reactRouterContext = {};</script></head>\
<body><main id="page">Studio</main><script type="module" async="">import "/assets/manifest-1.js";
import * as route0 from "/assets/root-4.js";
import * as route1 from "/assets/_index-5.js";
  window.__reactRouterRouteModules = {"root":route0,"routes/_index":route1};

import("/assets/entry.client-2.js");</script></body></html>"""


def module_script(html: str) -> str:
    scripts = re.findall(r'<script type="module" async="">(.*?)</script>', html, re.S)
    assert len(scripts) == 1
    return scripts[0]


def test_preloads_leave_the_head_and_start_after_the_first_paint():
    html = defer_scripts(PAGE)
    assert "modulepreload" not in html.split("<body>")[0]
    script = module_script(html)
    assert script.startswith(AFTER_FIRST_PAINT)
    for href in ("manifest-1", "entry.client-2", "react-dom-3", "root-4", "_index-5"):
        assert script.index(f"/assets/{href}.js") > script.index(AFTER_FIRST_PAINT)
    assert '<main id="page">Studio</main>' in html  # what paints first is untouched


def test_imports_keep_their_order_and_names_before_the_entry_starts():
    script = module_script(defer_scripts(PAGE))
    assert not re.search(r"^import ", script, re.M)  # a static import would be fetched before the paint
    order = [
        'await import("/assets/manifest-1.js");',
        'const route0 = await import("/assets/root-4.js");',
        'const route1 = await import("/assets/_index-5.js");',
        'window.__reactRouterRouteModules = {"root":route0,"routes/_index":route1};',
        'import("/assets/entry.client-2.js");',
    ]
    positions = [script.index(line) for line in order]
    assert positions == sorted(positions)


NO_STATIC_IMPORTS = re.sub(r'import (\* as \w+ from )?"[^"]+";\n', "", PAGE)


@pytest.mark.parametrize(
    "html",
    [
        PAGE.replace('rel="modulepreload"', 'rel="preload"'),  # no module preloads
        PAGE.replace('<script type="module" async="">', "<script>"),  # no module script
        NO_STATIC_IMPORTS,  # a module script of another shape
    ],
)
def test_a_page_of_another_shape_fails_the_build(html):
    with pytest.raises(ScriptsNotFound):
        defer_scripts(html)
