"""Accessibility: axe-core (axe-playwright-python, bundled, nothing downloaded) on the studio,
the player, a shared video's page and Explore, in light and dark mode: no serious or critical
violations. And a keyboard-only walk from the prompt to a playing video."""

from __future__ import annotations

import uuid

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, goto_live
from tests.support.servers import wait_until

SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def completed_video(app) -> dict:
    prompt = f"an accessible sunrise {uuid.uuid4().hex[:6]}"
    video = httpx.post(
        f"{app.url}/api/runpod",
        json={"prompt": prompt, "width": 128, "height": 128, "num_frames": 9, "fps": 8, "steps": 2},
    ).json()
    return wait_until(
        lambda: (v := httpx.get(f"{app.url}/api/videos/{video['id']}").json())["status"] == "COMPLETED" and v,
        timeout=60,
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(prod_app, browser, scheme):
    video = completed_video(prod_app)
    shared = httpx.post(f"{prod_app.url}/api/videos/{video['id']}/share", json={}).json()
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = {}
    goto_live(page, prod_app.url)
    page.wait_for_selector(".video-card")
    found["studio"] = serious_violations(page)
    page.locator(f".video-card[data-id='{video['id']}'] .poster").click()
    page.wait_for_selector("#player-video")
    found["player"] = serious_violations(page)
    page.keyboard.press("Escape")
    page.goto(shared["share_url"])
    found["shared page"] = serious_violations(page)
    goto_live(page, f"{prod_app.url}/explore")
    found["explore"] = serious_violations(page)
    page.screenshot(path=str(ARTIFACTS / f"explore_{scheme}.png"), full_page=True)
    httpx.post(f"{prod_app.url}/api/admin/vouchers", json={"note": "a11y"})  # a row in each table
    goto_live(page, f"{prod_app.url}/admin")
    page.wait_for_selector("#users-table")
    found["admin"] = serious_violations(page)
    context.close()
    assert found == {name: [] for name in found}


def test_keyboard_only_from_prompt_to_playing_video(prod_app, page):
    goto_live(page, prod_app.url)
    prompt = f"keyboard only {uuid.uuid4().hex[:6]}"
    for _ in range(30):  # Tab from the top of the page to the prompt
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "prompt":
            break
    else:
        pytest.fail("the prompt is not reachable with Tab")
    page.keyboard.type(prompt)
    page.keyboard.press("Control+Enter")
    card = page.locator(".video-card", has_text=prompt)
    expect(card).to_have_attribute("data-status", "COMPLETED", timeout=60000)
    play = f"Play {prompt}"
    for _ in range(120):  # on through the form and the library to this video's poster
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('aria-label')") == play:
            break
    else:
        pytest.fail("the poster is not reachable with Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus ring
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#player-video')?.readyState >= 2", timeout=15000)
    page.keyboard.press("Escape")
    expect(page.locator("#player-video")).to_have_count(0)
    # The dialog gives focus back to the button that opened it.
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == play
