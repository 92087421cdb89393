"""Chromium for the browser tests, and pages that record the errors they meet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from openv_app.settings import PROJECT_ROOT
from tests.support.availability import require_file

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Screenshots of every page test, and any a test takes itself.
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Playwright's chromium on the system's chromium (skipped where there is none)."""
    require_file(CHROMIUM, "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def page_recording_errors(browser: Any, name: str) -> Iterator[Any]:
    """A page in a context of its own; `page.console_errors` collects console errors, uncaught
    exceptions and responses of 400 and above. A full-page screenshot `name`.png at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.on(
        "response",
        lambda response: response.status >= 400 and page.console_errors.append(f"{response.status} {response.url}"),
    )
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
