"""Image-to-video in a real browser, on the production app with the real worker (tiny engine):
pick a start image, see it framed, generate; continue a finished clip from its last frame;
remix a video with its start image."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, CARD_STATUS_JS, goto_live


def gradient_png(folder: Path) -> Path:
    image = Image.new("RGB", (320, 240))
    image.putdata([(x % 256, y % 256, 128) for y in range(240) for x in range(320)])
    path = folder / "start.png"
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def wait_completed(page, prompt: str) -> None:
    page.wait_for_function(CARD_STATUS_JS, arg=[prompt, "COMPLETED"], polling="raf", timeout=90000)


def test_generate_from_an_image_continue_the_clip_and_remix(prod_app, page, tmp_path):
    goto_live(page, prod_app.url)

    page.set_input_files("#start-image input[type=file]", str(gradient_png(tmp_path)))
    preview = page.locator("#start-image-preview img")
    expect(preview).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    # A text-only model was chosen: the form moved to one that takes a start image.
    expect(page.locator("#model")).not_to_have_value("wan2.1-t2v-1.3b")
    page.get_by_role("radio", name="Pad to fit").click()
    expect(preview).to_have_css("object-fit", "contain")

    prompt = f"the gradient comes alive {uuid.uuid4().hex[:8]}"
    page.fill("#prompt", prompt)
    page.screenshot(path=str(ARTIFACTS / "start_image_form.png"))
    page.click("#generate")
    wait_completed(page, prompt)
    card_id = page.locator(".video-card", has_text=prompt).get_attribute("data-id")
    first = page.locator(f".video-card[data-id='{card_id}']")
    expect(first.locator(".start-image-thumb")).to_be_visible()

    # Continue: the last frame becomes the start image, the prompt comes along.
    first.locator(".continue").click()
    expect(page.locator("#prompt")).to_have_value(prompt)
    expect(page.locator("#start-image-preview img")).to_be_visible()
    follow_up = f"{prompt}, and then it rains"
    page.fill("#prompt", follow_up)
    page.click("#generate")
    wait_completed(page, follow_up)
    expect(page.locator(".video-card", has_text=follow_up).locator(".start-image-thumb")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "continue_clip.png"))

    # Remix: the first video's prompt, settings and its start image back in the form.
    page.click("#remove-start-image")
    expect(page.locator("#start-image-preview")).to_have_count(0)
    first.locator(".reuse").click()
    expect(page.locator("#prompt")).to_have_value(prompt)
    expect(page.locator("#start-image-preview img")).to_be_visible()
