"""The first page of Explore's gallery as the server writes it into the built page
(openv_app/api/explore_page.py): escaped, in place of the placeholders and nowhere else."""

from __future__ import annotations

import gzip
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from openv_app.api.explore_page import (
    FIRST_PAGE_ID,
    PLACEHOLDERS,
    first_page_html,
    shared_card_html,
    with_first_page,
)
from openv_app.api.routes import public
from openv_app.api.routes.public import html_response
from openv_app.services.gallery import SharedCard, studio_link
from openv_app.services.wiring import get_job_service

HOSTILE = '<img src=x onerror="alert(1)"> a "quoted" fox & friends'
BUILT = (
    '<html><body><div class="rx-Html shared-videos" id="explore-first-page">'
    + PLACEHOLDERS
    + '</div><h2>Sample prompts</h2><div class="explore-grid">'
    + PLACEHOLDERS  # the same markup elsewhere stays
    + "</div></body></html>"
)


def card(prompt: str = "a fox in the snow") -> SharedCard:
    return SharedCard(
        prompt=prompt,
        details="832×480 · 81 frames",
        studio_link=studio_link(prompt),
        poster_url="https://app.example/api/public/abc/poster.jpg",
        page_url="https://app.example/v/abc",
    )


def test_a_card_escapes_the_prompt_everywhere_it_appears():
    html = shared_card_html(card(HOSTILE))
    assert "<img src=x" not in html and 'onerror="alert' not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; a &quot;quoted&quot; fox &amp; friends") == 3
    assert 'href="/?prompt=%3Cimg+src%3Dx' in html  # the studio link is URL-encoded, then escaped
    assert '<img src="https://app.example/api/public/abc/poster.jpg"' in html
    assert 'href="https://app.example/v/abc"' in html


def test_the_first_page_replaces_the_placeholders_only():
    content = first_page_html([card(), card("rain on a street")], has_more=True)
    page = with_first_page(BUILT, content)
    assert page is not None
    assert page.count('class="rt-reset rt-BaseCard rt-Card rt-r-size-1 rt-variant-surface shared-card"') == 2
    assert page.count('id="explore-more"') == 1
    assert page.count(PLACEHOLDERS) == 1 and page.index(PLACEHOLDERS) > page.index("Sample prompts")
    assert page.startswith(f'<html><body><div class="rx-Html shared-videos" id="{FIRST_PAGE_ID}"><div class=')


def test_no_more_button_on_the_last_page_and_a_message_when_nothing_is_shared():
    assert 'id="explore-more"' not in first_page_html([card()], has_more=False)
    nothing = first_page_html([], has_more=False)
    assert 'id="nothing-shared"' in nothing and "shared-card" not in nothing


def test_a_page_of_another_shape_is_left_alone():
    assert with_first_page("<html><body><p>no gallery</p></body></html>", "cards") is None
    emptied = BUILT.replace(PLACEHOLDERS, "", 1)
    assert with_first_page(emptied, "cards") is None


def test_the_page_is_gzipped_only_for_a_browser_that_takes_it():
    page = with_first_page(BUILT, first_page_html([card()] * 12, has_more=True)) or ""
    zipped = html_response(page, "gzip, deflate, br")
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body).decode() == page and len(zipped.body) < len(page) / 4
    plain = html_response(page, "identity")
    assert "content-encoding" not in plain.headers and plain.body.decode() == page


class FailingQueries:
    async def shared_videos(self, limit: int, before: str | None) -> None:
        raise OSError("connection refused")  # what a database that cannot be reached gives


def test_the_page_is_served_with_its_placeholders_when_the_first_page_cannot_be_loaded(monkeypatch):
    app = FastAPI()
    app.include_router(public.router)
    app.dependency_overrides[get_job_service] = lambda: SimpleNamespace(queries=FailingQueries())
    monkeypatch.setattr(public, "built_explore_page", lambda: BUILT)
    answer = TestClient(app).get("/explore/")
    assert answer.status_code == 200 and answer.text == BUILT
