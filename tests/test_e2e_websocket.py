"""What a browser's tab agrees with the production server for its websocket (openv_app/server.py,
TAB_DEFLATE): compressed messages, and no zlib state kept for the tab between them."""

from __future__ import annotations

from tests.support.browser import goto_live, record_websockets


def test_a_browser_tab_gets_compression_that_keeps_nothing_between_messages(prod_app, browser):
    page = browser.new_context().new_page()
    recording = record_websockets(page)

    goto_live(page, prod_app.url + "/")
    card_lists: list[str] = []
    for _ in range(100):  # Playwright hands us the frames while it waits
        card_lists = [frame for frame in recording.received if '"videos_rx_state_"' in frame]
        if card_lists:
            break
        page.wait_for_timeout(100)
    page.context.close()

    assert len(recording.agreed) == 1, recording.agreed
    agreed = {part.strip() for part in recording.agreed[0].split(";")}
    assert {"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"} <= agreed, agreed
    assert card_lists, "the library's state never reached the tab"  # Chromium read the compressed messages
