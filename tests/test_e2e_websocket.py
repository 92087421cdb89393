"""What a browser's tab agrees with the production server for its websocket (openv_app/server.py,
TAB_DEFLATE): compressed messages, and no zlib state kept for the tab between them."""

from __future__ import annotations

from typing import Any

from tests.support.browser import goto_live


def extension_parameters(response: dict[str, Any]) -> set[str]:
    headers = {name.lower(): value for name, value in response["headers"].items()}
    return {part.strip() for part in headers.get("sec-websocket-extensions", "").split(";")} - {""}


def test_a_browser_tab_gets_compression_that_keeps_nothing_between_messages(prod_app, browser):
    page = browser.new_context().new_page()
    devtools = page.context.new_cdp_session(page)
    devtools.send("Network.enable")
    agreed: list[set[str]] = []
    devtools.on(
        "Network.webSocketHandshakeResponseReceived",
        lambda event: agreed.append(extension_parameters(event["response"])),
    )
    card_lists: list[str] = []
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framereceived", lambda frame: card_lists.append(frame) if '"videos_rx_state_"' in frame else None
        ),
    )

    goto_live(page, prod_app.url + "/")
    for _ in range(100):  # Playwright hands us the frames while it waits
        if card_lists:
            break
        page.wait_for_timeout(100)
    page.context.close()

    assert len(agreed) == 1, agreed
    assert {"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"} <= agreed[0], agreed
    assert card_lists, "the library's state never reached the tab"  # Chromium read the compressed messages
