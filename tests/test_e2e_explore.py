"""Explore's first page of shared videos comes in the page's HTML (openv_app/api/explore_page.py):
a visitor sees the posters before, and without, the page's JavaScript, and when the page comes
alive its cards take the place of the served ones without anything moving. On the production
build, in Chromium."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from openv_app.db import make_sync_engine
from openv_app.models import utcnow
from tests.support.browser import LIVE
from tests.support.factories import insert_videos, video_row

HOSTILE = '<img src=x onerror="alert(1)"> a "quoted" fox & friends'
# Where each card, poster, line of text and button is, in which font, and where the next section
# starts. (Not colours: the page's inherited text colour is not the same with JavaScript off.)
BOXES_JS = """() => [...document.querySelectorAll(
    '.shared-card, .shared-card img, .shared-card p, .shared-card .use-prompt, #explore-more, #samples'
)].map(element => {
    const box = element.getBoundingClientRect();
    return [box.x, box.y, box.width, box.height, getComputedStyle(element).font];
})"""
LIVE_CARDS = f"{LIVE} .shared-videos:not(#explore-first-page)"


def share_videos(database_url: str, prompts: list[str]) -> None:
    """Completed shared videos, the first of `prompts` the newest."""
    now = utcnow()
    rows = [
        video_row(
            user_id="explore-maker",
            prompt=prompt,
            status="COMPLETED",
            runpod_status="COMPLETED",
            runpod_job_id=f"job-{uuid.uuid4()}",
            progress=100,
            share_slug=f"explore-{uuid.uuid4().hex}",
            created_at=now - timedelta(seconds=index),
        )
        for index, prompt in enumerate(prompts)
    ]
    engine = make_sync_engine(database_url)
    try:
        insert_videos(engine, rows)
    finally:
        engine.dispose()


def test_the_first_page_of_shared_videos_comes_in_the_html_and_stays_put_when_the_page_is_live(prod_app, browser):
    older = [f"an older shared clip {n} {uuid.uuid4().hex[:6]}" for n in range(12)]
    share_videos(prod_app.database_url, [HOSTILE, *older])  # 13: a second page follows

    answer = httpx.get(prod_app.url + "/explore/", headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
    assert answer.headers["cache-control"] == "no-cache"
    html = answer.text
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert html.count('class="rt-reset rt-BaseCard rt-Card rt-r-size-1 rt-variant-surface shared-card"') == 12
    assert 'id="explore-more"' in html and older[-1] not in html  # the 13th is on the next page
    head = httpx.head(prod_app.url + "/explore/")  # uptime checks
    assert head.status_code == 200 and head.content == b"" and head.headers["content-type"].startswith("text/html")

    for width in (412, 1280):  # a phone (one column) and a desktop (three)
        static = browser.new_context(java_script_enabled=False, viewport={"width": width, "height": 900})
        page = static.new_page()
        page.goto(prod_app.url + "/explore/")
        first = page.locator(".shared-card").first
        assert first.locator(".shared-prompt").inner_text() == HOSTILE
        served = page.evaluate(BOXES_JS)
        static.close()

        live = browser.new_context(viewport={"width": width, "height": 900})
        page = live.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(prod_app.url + "/explore/")
        page.wait_for_selector(LIVE_CARDS)
        assert page.locator("#explore-first-page").count() == 0
        assert page.evaluate(BOXES_JS) == served, width
        assert not errors, errors
        if width == 1280:
            page.click("#explore-more")  # the live page's button loads the next page
            page.locator(".shared-card", has_text=older[-1]).wait_for()
            assert page.locator(".shared-card").count() > 12  # other tests share videos too
        live.close()


def test_a_visit_from_inside_the_app_shows_placeholders_then_the_cards(prod_app, browser):
    """A navigation inside the app does not ask the server for the page: it starts from the
    placeholders the build holds, and the gallery loads over the websocket."""
    prompt = f"a clip shared just now {uuid.uuid4().hex[:6]}"
    share_videos(prod_app.database_url, [prompt])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(prod_app.url + "/")
    page.wait_for_selector(LIVE, state="attached")
    documents: list[str] = []
    page.on("request", lambda request: documents.append(request.url) if request.resource_type == "document" else None)
    page.click("#to-explore")
    page.locator(".shared-card", has_text=prompt).wait_for()
    assert documents == []  # no page was fetched: React Router rendered Explore
    context.close()
