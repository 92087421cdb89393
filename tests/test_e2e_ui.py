"""What a person does in the studio, in a real browser against the app in production mode."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, goto_live, reload_live
from tests.support.servers import wait_until

COMPLETED_JS = """([prompt, status]) => [...document.querySelectorAll('.video-card')]
    .some(card => card.textContent.includes(prompt) && card.dataset.status === status)"""


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def open_studio(page, app) -> None:
    goto_live(page, app.url)
    expect(page.locator("#generate")).to_be_disabled()  # empty prompt


def generate(page, prompt: str) -> None:
    page.fill("#prompt", prompt)
    expect(page.locator("#generate")).to_be_enabled()
    page.click("#generate")


def card_of(page, prompt: str):
    return page.locator(".video-card", has_text=prompt)


def wait_for_status(page, prompt: str, status: str, timeout_s: float = 60) -> None:
    page.wait_for_function(COMPLETED_JS, arg=[prompt, status], polling="raf", timeout=timeout_s * 1000)


def assert_downloads_the_mp4(page, button) -> None:
    """The file itself is saved, and the studio stays open (a router link once showed the 404 page)."""
    studio = page.url
    with page.expect_download() as download:
        button.click()
    saved = download.value
    assert saved.suggested_filename.endswith(".mp4"), saved.suggested_filename
    assert Path(saved.path()).read_bytes()[4:8] == b"ftyp"  # an MP4's first box
    assert page.url == studio


def test_generate_watch_progress_play_and_delete(prod_app, page):
    open_studio(page, prod_app)
    prompt = unique("a paper boat drifting, take your time")
    generate(page, prompt)
    card = card_of(page, prompt)
    expect(card).to_be_visible()
    # While running the card says so in words and shows a progress bar.
    expect(card.locator(".status-text")).to_contain_text("Generating", timeout=15000)
    expect(card.locator(".progress")).to_be_visible()
    expect(card.locator(".cancel")).to_be_visible()

    wait_for_status(page, prompt, "COMPLETED")
    seen = time.monotonic()
    expect(card.locator(".timing")).to_contain_text("generated in")  # RunPod's GPU time
    expect(page.locator("#usage")).to_contain_text("Today:")
    # Plain elements drawn by Radix Themes' stylesheet from class names alone (components/themed.py):
    # a size-1 button is 24 px high, and each action has its own colour.
    expect(card.locator(".download")).to_have_css("height", "24px")
    colours = [
        card.locator(f".{action}").evaluate("e => getComputedStyle(e).color") for action in ("delete", "reuse", "share")
    ]
    assert len(set(colours)) == 3, colours
    job = next(j for j in prod_app.runpod.endpoint.jobs.values() if j.input.get("prompt") == prompt)
    latency = seen - job.finished
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "webhook_to_page_seconds.txt").write_text(f"{latency:.3f}\n")
    print(f"job finished -> video visible in the page: {latency:.3f} s")

    card.locator(".poster").click()
    video = page.locator("#player-video")
    expect(video).to_be_visible()
    page.wait_for_function("() => document.querySelector('#player-video').readyState >= 2", timeout=15000)
    duration = page.evaluate("() => document.querySelector('#player-video').duration")
    assert abs(duration - 17 / 16) < 0.1  # 1 s preset: 17 frames at 16 fps
    assert page.locator("#player-download").get_attribute("href").startswith(prod_app.url)
    expect(page.locator("#player-download")).to_have_css("height", "32px")  # size 2
    page.screenshot(path=str(ARTIFACTS / "player_open.png"))
    assert_downloads_the_mp4(page, page.locator("#player-download"))
    page.keyboard.press("Escape")
    assert_downloads_the_mp4(page, card.locator(".download"))

    video_id = card.get_attribute("data-id")
    files = list((prod_app.storage_dir / "dev-user").glob(f"{video_id}.*"))
    assert sorted(f.suffix for f in files) == [".jpg", ".mp4"]
    card.locator(".delete").click()
    page.click("#confirm-delete")
    expect(card).to_have_count(0)
    wait_until(lambda: not any(f.exists() for f in files), timeout=10)
    reload_live(page)
    expect(card_of(page, prompt)).to_have_count(0)


def test_failing_job_shows_its_error_and_can_be_retried(prod_app, page):
    open_studio(page, prod_app)
    prompt = unique("please fail")
    generate(page, prompt)
    wait_for_status(page, prompt, "FAILED")
    card = card_of(page, prompt)
    expect(card.locator(".status-text")).to_have_text("Failed")
    expect(card.locator(".error")).to_contain_text("GPU caught fire")
    card.locator(".retry").click()
    expect(card_of(page, prompt)).to_have_count(2)  # the retry is a new video with the same settings


def test_second_tab_sees_updates_and_reload_keeps_everything(prod_app, browser, page):
    open_studio(page, prod_app)
    other = page.context.new_page()
    open_studio(other, prod_app)
    prompt = unique("two tabs, one lighthouse")
    generate(page, prompt)
    expect(card_of(other, prompt)).to_be_visible(timeout=10000)  # pushed, no reload
    wait_for_status(other, prompt, "COMPLETED")
    other.screenshot(path=str(ARTIFACTS / "second_tab.png"))
    reload_live(other)
    wait_for_status(other, prompt, "COMPLETED", timeout_s=10)
    other.close()


def wait_for_advanced_saved(page, state: str) -> None:
    """The toggle reached the server, which saves it in the browser (a reload sooner loses it)."""
    page.wait_for_function("(state) => window.localStorage.getItem('openv_advanced') === state", arg=state)


def open_advanced(page) -> None:
    """Negative prompt, steps, guidance and seed are under the Advanced disclosure."""
    if not page.locator("#seed").is_visible():
        page.click("#advanced-summary")
    expect(page.locator("#seed")).to_be_visible()


def test_form_rules_keyboard_submit_and_limit_message(prod_app, page):
    open_studio(page, prod_app)
    open_advanced(page)
    wait_until(
        lambda: page.locator(".video-card[data-status='PENDING'], .video-card[data-status='PROCESSING']").count() == 0,
        timeout=60,
    )
    page.fill("#prompt", "x" * 1001)
    expect(page.locator("#prompt-counter")).to_have_text("1001 / 1000")
    expect(page.locator("#generate")).to_be_disabled()
    page.fill("#seed", "not a number")
    expect(page.locator("#error-seed")).to_be_visible()
    page.fill("#seed", "1234")
    expect(page.locator("#error-seed")).to_have_count(0)

    first, second, third = (unique(f"take your time {n}") for n in ("one", "two", "three"))
    page.fill("#prompt", first)
    page.press("#prompt", "Control+Enter")
    expect(card_of(page, first)).to_be_visible()
    generate(page, second)
    expect(card_of(page, second)).to_be_visible()
    generate(page, third)
    expect(page.locator("#form-error")).to_contain_text("in progress")
    expect(card_of(page, third)).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "limit_reached.png"))
    wait_for_status(page, first, "COMPLETED")
    wait_for_status(page, second, "COMPLETED")


def test_choose_another_model_generate_reuse_and_advanced_is_remembered(prod_app, page):
    from axe_playwright_python.sync_playwright import Axe

    open_studio(page, prod_app)  # the local endpoint serves every model
    advanced = page.locator("#advanced")
    expect(advanced).not_to_have_attribute("open", "")  # a first visit: folded
    expect(page.locator("#seed")).to_be_hidden()
    page.focus("#advanced-summary")
    page.keyboard.press("Enter")  # a native disclosure: the keyboard opens it
    expect(page.locator("#seed")).to_be_visible()

    expect(page.locator("#model option")).to_have_text(["Wan2.1 T2V 1.3B", "Wan2.2 TI2V 5B", "LTX-Video distilled"])
    page.select_option("#model", label="LTX-Video distilled")
    expect(page.locator("#model")).to_have_value("ltx-video-distilled")
    expect(page.locator("#model-description")).to_contain_text("8 steps")
    # Its defaults (8 steps, guidance 1, 24 fps) and its sizes (multiples of 32) and frames (8k+1).
    expect(page.locator("#steps")).to_have_value("8")
    expect(page.locator("#guidance")).to_have_attribute("max", "5")
    expect(page.get_by_text("416×224, 25 frames at 24 fps")).to_be_visible()
    violations = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert violations == []

    wait_for_advanced_saved(page, "open")
    reload_live(page)  # the disclosure stays open
    expect(page.locator("#seed")).to_be_visible()
    if page.locator("#model").input_value() != "ltx-video-distilled":
        page.select_option("#model", label="LTX-Video distilled")
    prompt = unique("a lantern drifting upward")
    generate(page, prompt)
    wait_for_status(page, prompt, "COMPLETED", timeout_s=180)
    job = next(j for j in prod_app.runpod.endpoint.jobs.values() if j.input.get("prompt") == prompt)
    assert (job.input["model"], job.input["width"], job.input["num_frames"], job.input["fps"]) == (
        "ltx-video-distilled",
        416,
        25,
        24,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "model_ltx_completed.png"), full_page=True)

    # Reuse brings the video's model back with its settings.
    page.select_option("#model", label="Wan2.1 T2V 1.3B")
    expect(page.locator("#steps")).to_have_value("12")  # Wan's 30, capped for the local CPU engine
    card_of(page, prompt).locator(".reuse").click()
    expect(page.locator("#model")).to_have_value("ltx-video-distilled")
    expect(page.locator("#prompt")).to_have_value(prompt)
    expect(page.locator("#steps")).to_have_value("8")

    page.click("#advanced-summary")  # folded again, and so after a reload
    expect(page.locator("#seed")).to_be_hidden()
    wait_for_advanced_saved(page, "closed")
    reload_live(page)
    expect(card_of(page, prompt)).to_be_visible()  # the library has loaded
    expect(page.locator("#seed")).to_be_hidden()


def test_phone_width_has_no_horizontal_scroll(prod_app, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    # A card of its own to lay out, whatever ran before.
    httpx.post(
        f"{prod_app.url}/api/runpod",
        json={
            "prompt": unique("a phone-sized card"),
            "width": 128,
            "height": 128,
            "num_frames": 9,
            "fps": 8,
            "steps": 2,
        },
    ).raise_for_status()
    open_studio(phone, prod_app)
    phone.wait_for_selector(".video-card")
    overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    phone.screenshot(path=str(ARTIFACTS / "phone_width.png"), full_page=True)
    context.close()
    assert overflow <= 0


def test_dark_mode_toggle(prod_app, page):
    open_studio(page, prod_app)
    before = page.evaluate("() => document.documentElement.className")
    page.click("#color-mode")
    page.wait_for_function("before => document.documentElement.className !== before", arg=before)
    after = page.evaluate("() => document.documentElement.className")
    assert ("dark" in after) != ("dark" in before)  # light became dark or dark became light
    page.screenshot(path=str(ARTIFACTS / "dark_mode.png"))


def test_an_open_studio_refreshes_its_session_on_a_timer(prod_app, page):
    """The tab's timer (a third of the tab-state TTL, 15 min by default) sends the session refresh
    that keeps its state from expiring, and with Clerk hands the server a fresh token."""
    sent: list[str] = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(str(payload))))

    def refreshes_sent() -> list[str]:
        page.wait_for_timeout(100)  # the sync API hands over the frames seen only while it waits
        return [frame for frame in sent if "refresh_session" in frame]

    page.clock.install()
    open_studio(page, prod_app)
    assert not refreshes_sent()
    page.clock.fast_forward("15:00")  # fires each due timer once
    wait_until(refreshes_sent, timeout=15)


def test_share_open_signed_out_make_your_own_then_revoke(prod_app, browser, page):
    open_studio(page, prod_app)
    prompt = unique("a shared paper lantern")
    generate(page, prompt)
    wait_for_status(page, prompt, "COMPLETED")
    card = card_of(page, prompt)
    card.locator(".share").click()
    link = card.locator(".share-link")
    expect(link).to_be_visible()
    url = link.get_attribute("href")

    visitor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()  # no session at all
    assert visitor.goto(url).status == 200
    visitor.wait_for_function("() => document.querySelector('#shared-video').readyState >= 2", timeout=15000)
    assert visitor.inner_text("#shared-prompt") == prompt
    visitor.screenshot(path=str(ARTIFACTS / "shared_page.png"))
    visitor.click("#make-your-own")
    visitor.wait_for_selector("#prompt")
    expect(visitor.locator("#prompt")).to_have_value(prompt)

    visitor.goto(f"{prod_app.url}/explore")  # the gallery shows it while it is shared
    expect(visitor.locator(".shared-card", has_text=prompt)).to_be_visible()

    card.locator(".unshare").click()
    expect(card.locator(".share")).to_be_visible()
    assert visitor.goto(url).status == 404
    visitor.context.close()


def test_explore_use_a_sample_prompt_and_generate(prod_app, page):
    goto_live(page, f"{prod_app.url}/explore")
    sample = page.locator(".sample-card").first
    expect(sample).to_be_visible()
    prompt = sample.locator("p").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "explore.png"), full_page=True)
    sample.locator(".use-prompt").click()
    page.wait_for_selector("#prompt")
    expect(page.locator("#prompt")).to_have_value(prompt)
    page.click("#generate")
    card = card_of(page, prompt).first
    expect(card).to_be_visible()
    card.locator(".cancel").click()  # a 480p clip on the CPU engine: not worth the wait
    expect(card.locator(".status-text")).to_have_text("Cancelled")


def test_gpu_quota_refusal_is_shown_in_the_form(prod_app, page):
    import sqlalchemy as sa

    from openv_app.db import make_sync_engine
    from openv_app.models import Video
    from tests.support.factories import insert_videos, video_row

    engine = make_sync_engine(prod_app.database_url)
    [heavy] = insert_videos(engine, [video_row(user_id="dev-user", status="FAILED", execution_ms=100_000_000)])
    try:
        open_studio(page, prod_app)
        expect(page.locator("#usage")).to_contain_text("of 100000 GPU seconds")
        generate(page, unique("one more, please"))
        expect(page.locator("#form-error")).to_contain_text("frees up at")
        page.screenshot(path=str(ARTIFACTS / "gpu_quota.png"))
    finally:
        with engine.begin() as connection:
            connection.execute(sa.delete(Video).where(Video.id == heavy.id))
        engine.dispose()
