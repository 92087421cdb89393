"""Security headers on the production build (`reflex run --env prod`, one port): every kind of
response carries them, hashed assets are cached for good, redirects stay on PUBLIC_BASE_URL, the
studio works under the Content-Security-Policy in a real browser, and another site cannot frame it."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.support.browser import CARD_STATUS_JS, RECORD_VIOLATIONS, assert_security_headers, goto_live
from tests.support.servers import ServerThread

HASHED_SCRIPT = re.compile(r'/assets/[^"/]+-[A-Za-z0-9_-]{8}\.js')


def csp_errors(page) -> list[str]:
    return [error for error in page.console_errors if "Content Security Policy" in error]


def test_pages_assets_api_errors_and_redirects_carry_the_headers(prod_app):
    home = httpx.get(prod_app.url)
    explore = httpx.get(f"{prod_app.url}/explore/")
    for page in (home, explore):
        assert page.status_code == 200
        assert_security_headers(page)
        assert page.headers["cache-control"] == "no-cache"

    asset = httpx.get(prod_app.url + HASHED_SCRIPT.findall(home.text)[0])
    assert asset.status_code == 200
    assert_security_headers(asset)
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"

    health = httpx.get(f"{prod_app.url}/api/health")
    assert health.status_code == 200
    assert_security_headers(health)
    assert health.headers["cache-control"] == "no-store"

    missing = httpx.get(f"{prod_app.url}/no-such-page")
    assert missing.status_code == 404
    assert_security_headers(missing)

    # Behind a proxy the request names an internal host; the redirect names the public one.
    redirect = httpx.get(f"{prod_app.url}/explore", headers={"Host": "internal.lan:8000"})
    assert redirect.status_code == 307
    assert redirect.headers["location"] == f"{prod_app.url}/explore/"
    assert_security_headers(redirect)


def test_studio_works_under_the_policy(prod_app, page):
    page.add_init_script(RECORD_VIOLATIONS)
    goto_live(page, prod_app.url)  # the frontend ran and its websocket is up
    prompt = f"a lantern under a strict policy {uuid.uuid4().hex[:8]}"
    page.fill("#prompt", prompt)
    page.click("#generate")
    card = page.locator(".video-card", has_text=prompt)
    expect(card).to_be_visible()
    page.wait_for_function(CARD_STATUS_JS, arg=[prompt, "COMPLETED"], polling="raf", timeout=60000)
    # The poster and the video come from the storage origin the policy names.
    poster = card.locator(".poster img")
    expect(poster).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=poster.element_handle())
    card.locator(".poster").click()
    expect(page.locator("#player-video")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#player-video').readyState >= 2", timeout=15000)
    page.keyboard.press("Escape")  # focus goes back (Reflex's call_script, which runs eval)
    expect(page.locator(f"#play-{card.get_attribute('data-id')}")).to_be_focused()
    assert page.evaluate("() => window.cspViolations") == []

    goto_live(page, f"{prod_app.url}/explore")
    expect(page.locator(".sample-card").first).to_be_visible()
    assert page.evaluate("() => window.cspViolations") == []
    assert csp_errors(page) == []


def test_another_site_cannot_frame_the_studio(prod_app, page):
    async def framing_page(request):
        # The same page frames the studio and, as a control, a page of its own origin.
        return HTMLResponse(
            f'<iframe id="studio" src="{prod_app.url}/"></iframe><iframe id="own" src="/inner"></iframe>'
        )

    async def inner(request):
        return HTMLResponse("<p id='inner'>framed</p>")

    other_site = ServerThread(Starlette(routes=[Route("/", framing_page), Route("/inner", inner)])).__enter__()
    try:
        page.goto(other_site.url)  # waits for both frames to load
        expect(page.frame_locator("#own").locator("#inner")).to_have_text("framed")
        studio = page.locator("#studio").element_handle().content_frame()
        assert not studio.url.startswith(prod_app.url)  # the browser's error page instead
        assert studio.locator("#prompt").count() == 0
        assert any("frame-ancestors 'none'" in error for error in csp_errors(page))
    finally:
        other_site.__exit__()
