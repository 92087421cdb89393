"""What the first paint needs, on the production build over HTTP: every page says what it is
(`<meta name="description">`) and colours the browser's bar (`theme-color`), and the studio's
prerendered HTML is the studio, with its library's place reserved. The speed itself is measured
by `python -m bench.page` (Lighthouse), not timed here."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from openv_app.db import make_sync_engine
from openv_app.models import Video
from openv_app.services.auth import DEV_USER_ID
from openv_app.services.statuses import IN_FLIGHT_STATUSES
from tests.support.browser import goto_live
from tests.support.factories import insert_videos, video_row


def meta(html: str, name: str) -> list[str]:
    """The content of every <meta name=...> of the page (attributes in either order)."""
    tags = re.findall(r"<meta\b[^>]*>", html)
    named = [tag for tag in tags if re.search(rf'\bname="{re.escape(name)}"', tag)]
    return [match.group(1) for tag in named if (match := re.search(r'\bcontent="([^"]*)"', tag))]


def shared_video_slug(database_url: str) -> str:
    slug = "page-speed-" + uuid.uuid4().hex
    engine = make_sync_engine(database_url)
    try:
        insert_videos(
            engine,
            [
                video_row(
                    user_id="page-speed-user",
                    prompt="a lighthouse on a cliff at dusk",
                    status="COMPLETED",
                    runpod_status="COMPLETED",
                    runpod_job_id=f"job-{uuid.uuid4()}",
                    progress=100,
                    share_slug=slug,
                )
            ],
        )
    finally:
        engine.dispose()
    return slug


def test_pages_carry_a_description_and_a_theme_colour(prod_app):
    slug = shared_video_slug(prod_app.database_url)
    for path in ("/", "/explore/", f"/v/{slug}"):
        page = httpx.get(prod_app.url + path)
        assert page.status_code == 200, path
        descriptions = meta(page.text, "description")
        assert len(descriptions) == 1 and len(descriptions[0]) > 40, (path, descriptions)
        colours = meta(page.text, "theme-color")
        assert colours and all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in colours), (path, colours)


def test_the_studio_is_prerendered_with_its_library_place_reserved(prod_app):
    html = httpx.get(prod_app.url + "/").text
    assert 'id="prompt"' in html  # the form, not the sign-in panel, is painted first
    assert html.count("placeholder-card") == 3  # one row, shown per breakpoint
    assert "Sign in to OpenV" not in html


PAINT_AND_SCRIPTS_JS = """() => ({
    paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    scripts: performance.getEntriesByType('resource')
        .filter(entry => new URL(entry.name).pathname.startsWith('/assets/') && entry.name.endsWith('.js'))
        .map(entry => entry.startTime),
})"""


def test_pages_paint_before_their_scripts_download_then_come_alive(prod_app, browser):
    """openv_app/first_paint.py: no module is requested before the first contentful paint, and
    the page still hydrates and runs its load events, without a hydration error."""
    for path in ("/", "/explore/"):
        page = browser.new_context().new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        goto_live(page, prod_app.url + path)
        timing = page.evaluate(PAINT_AND_SCRIPTS_JS)
        page.context.close()
        assert timing["paint"] is not None and len(timing["scripts"]) >= 10, (path, timing)
        assert min(timing["scripts"]) >= timing["paint"], (path, timing)
        assert not [error for error in errors if "hydrat" in error.lower() or "react.dev/errors" in error], errors
    assert 'rel="modulepreload"' not in httpx.get(prod_app.url + "/").text


def test_scripts_come_compressed_with_brotli_where_the_browser_takes_it(prod_app):
    """Built once with the frontend (rxconfig `frontend_compression_formats`): brotli for
    browsers that accept it (they do over HTTPS), gzip for the rest, the same script either way."""
    html = httpx.get(prod_app.url + "/").text
    script = re.findall(r'"(/assets/entry\.client-[\w-]+\.js)"', html)[0]
    bodies = {}
    for encoding in ("br", "gzip", "identity"):
        answer = httpx.get(prod_app.url + script, headers={"accept-encoding": encoding})
        assert answer.status_code == 200
        assert answer.headers.get("content-encoding", "identity") == encoding, encoding
        bodies[encoding] = answer
    assert bodies["br"].content == bodies["gzip"].content == bodies["identity"].content  # httpx decodes both
    sizes = {encoding: int(answer.headers["content-length"]) for encoding, answer in bodies.items()}
    assert sizes["br"] < sizes["gzip"] < sizes["identity"], sizes


def wait_until_no_job_is_in_flight(database_url: str, user_id: str, timeout: float = 120) -> None:
    """Until none of the user's jobs queued by earlier tests on this app is in flight: each of
    their updates is pushed to the user's open tabs as a new card list."""
    videos = Video.__table__
    in_flight = sa.select(sa.func.count()).where(
        videos.c.user_id == user_id, videos.c.status.in_(IN_FLIGHT_STATUSES), videos.c.deleted_at.is_(None)
    )
    engine = make_sync_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as connection:
                count = connection.execute(in_flight).scalar_one()
            if count == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert count == 0, f"{count} jobs of {user_id} still in flight after {timeout} s"


def test_a_first_visit_to_the_studio_loads_the_library_once(prod_app, browser):
    """The page's on_load loads the library and the signed-in view's mount does not load it again:
    every load sends the whole card list and re-renders every card (a long task on a phone)."""
    wait_until_no_job_is_in_flight(prod_app.database_url, DEV_USER_ID)
    page = browser.new_context().new_page()
    card_lists: list[str] = []

    def watch(socket: Any) -> None:
        socket.on("framereceived", lambda frame: card_lists.append(frame) if '"videos_rx_state_"' in frame else None)

    page.on("websocket", watch)
    goto_live(page, prod_app.url + "/")
    page.wait_for_selector("#library, #empty-library", state="attached")
    page.wait_for_timeout(1000)  # a second load would come right after the first
    page.context.close()
    assert len(card_lists) == 1, [frame[:300] for frame in card_lists]
