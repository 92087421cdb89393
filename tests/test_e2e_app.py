"""The whole app in production mode (`reflex run --env prod`, one port) in a real browser."""

from __future__ import annotations

import httpx

from tests.support.browser import goto_live


def test_home_page_renders_without_console_errors(prod_app, page):
    goto_live(page, prod_app.url)
    page.wait_for_selector("#app-title")
    assert page.title().startswith("OpenV")
    assert page.inner_text("#app-title") == "OpenV"
    page.wait_for_load_state("networkidle")
    assert page.console_errors == []


def test_health_reports_database_redis_and_version(prod_app):
    body = httpx.get(f"{prod_app.url}/api/health").json()
    assert body == {"status": "ok", "database": True, "redis": True, "version": "0.1.0"}


def test_only_the_apps_own_origin_may_call_the_api(prod_app):
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{prod_app.url}/api/runpod",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

    assert "access-control-allow-origin" not in preflight("https://evil.test").headers
    assert preflight(prod_app.url).headers["access-control-allow-origin"] == prod_app.url
    # A "simple" cross-site POST (a form) is refused before it does anything.
    form = httpx.post(f"{prod_app.url}/api/runpod", data={"prompt": "x"}, headers={"Origin": "https://evil.test"})
    assert form.status_code == 415
