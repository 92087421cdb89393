"""Chromium for the browser tests, and pages that record the errors they meet."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from openv_app.settings import PROJECT_ROOT
from tests.support.availability import require_file
from tests.support.processes import PROD_WORKERS, RunningApp
from tests.support.servers import wait_until

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


# A Reflex page once it has hydrated and run its load events (openv_app/components/live_marker.py).
LIVE = "[data-live='true']"
SOCKET_RECORD = "token_manager_socket_record_{}"
CARD_STATUS_JS = """([prompt, status]) => [...document.querySelectorAll('.video-card')]
    .some(card => card.textContent.includes(prompt) && card.dataset.status === status)"""


@dataclass
class WebsocketRecording:
    """What a page's websockets sent and received (text frames as str), and the
    Sec-WebSocket-Extensions each handshake offered and got agreed."""

    sent: list[Any] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)
    agreed: list[str] = field(default_factory=list)


def record_websockets(page: Any) -> WebsocketRecording:
    """Records from now on; Playwright hands the frames over while the caller waits on the page."""
    recording = WebsocketRecording()

    def watch(socket: Any) -> None:  # Playwright takes Python functions only, not list.append
        socket.on("framesent", lambda payload: recording.sent.append(payload))
        socket.on("framereceived", lambda payload: recording.received.append(payload))

    page.on("websocket", watch)
    devtools = page.context.new_cdp_session(page)  # Playwright does not show handshake headers
    devtools.send("Network.enable")
    devtools.on(
        "Network.webSocketWillSendHandshakeRequest",
        lambda event: recording.offered.append(extensions_header(event["request"])),
    )
    devtools.on(
        "Network.webSocketHandshakeResponseReceived",
        lambda event: recording.agreed.append(extensions_header(event["response"])),
    )
    return recording


def extensions_header(message: dict[str, Any]) -> str:
    headers = {name.lower(): value for name, value in message["headers"].items()}
    return headers.get("sec-websocket-extensions", "")


def goto_live(page: Any, url: str) -> Any:
    """Opens a page of the app and waits until it is live: its prerendered HTML paints first, and
    what is typed into it before then does not reach the state."""
    response = page.goto(url)
    page.wait_for_selector(LIVE, state="attached")
    return response


def reload_live(page: Any) -> None:
    page.reload()
    page.wait_for_selector(LIVE, state="attached")


def socket_owner(client: redis.Redis, token: str) -> str | None:
    """The worker (Reflex instance id) holding the tab's websocket, from Reflex's own record."""
    raw = client.get(SOCKET_RECORD.format(token))
    return pickle.loads(raw).instance_id if raw else None


def open_tab(browser: Any, app: RunningApp) -> tuple[Any, str]:
    """A studio tab whose library has loaded, and its Reflex token; `page.websockets` lists
    the websockets it opened (one, unless it reconnected)."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.websockets = []
    page.on("websocket", lambda websocket: page.websockets.append(websocket))
    goto_live(page, app.url)
    token = page.wait_for_function("() => window.sessionStorage.getItem('token')").json_value()
    page.wait_for_selector("#prompt")
    return page, token


def tabs_on_two_workers(browser: Any, app: RunningApp) -> tuple[list[Any], list[Any]]:
    """One tab served by each of two workers, and every tab opened to find them (the OS hands
    connections to workers: tabs are opened until two differ)."""
    client = redis.Redis.from_url(app.redis_url)
    tabs_by_worker: dict[str, Any] = {}
    opened = []
    for _ in range(12):
        page, token = open_tab(browser, app)
        opened.append(page)
        owner = wait_until(lambda: socket_owner(client, token), timeout=15)
        wait_until(lambda: client.exists(f"openv:tab:{token}"), timeout=15)  # the library loaded
        tabs_by_worker.setdefault(owner, page)
        if len(tabs_by_worker) == 2:
            break
    client.close()
    assert len(tabs_by_worker) == 2, f"all tabs landed on one of {PROD_WORKERS} workers"
    return list(tabs_by_worker.values()), opened


# Every violation of the page's policy, as the browser reports it to the page.
RECORD_VIOLATIONS = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    event => window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));"""


def assert_security_headers(response: Any) -> None:
    """An httpx or Playwright response."""
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]  # hashes, not any inline script
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
