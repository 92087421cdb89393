"""Share links: a completed video gets an unguessable public page and API, revocable at once,
gone with the video, revealing nothing else of its owner. Over HTTP, PostgreSQL and SQLite."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.support.clerk_tokens import TokenMaker
from tests.support.factories import insert_videos, video_row
from tests.support.handlers import quick_video_handler
from tests.support.servers import wait_until

REQUEST = {
    "prompt": 'a "quoted" <b>fox</b> & friends',
    "width": 256,
    "height": 144,
    "num_frames": 9,
    "fps": 8,
    "steps": 2,
}
MAKER = TokenMaker()


def as_user(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {MAKER.token(sub=user)}"}


@pytest.fixture
def app(app_factory, runpod_factory):
    return app_factory(runpod_factory(quick_video_handler), **MAKER.settings())


def completed_video(app, user: str = "owner") -> dict:
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST, headers=as_user(user)).json()
    return wait_until(
        lambda: (
            (v := httpx.get(f"{app.url}/api/videos/{video['id']}", headers=as_user(user)).json())["status"]
            == "COMPLETED"
            and v
        ),
        timeout=30,
    )


def meta(html: str, name: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', html)
    assert match, f"{name} missing"
    return match.group(1)


def test_a_shared_video_is_public_until_revoked_and_a_new_link_is_new(app):
    video = completed_video(app)
    shared = httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}, headers=as_user("owner")).json()
    slug = shared["share_url"].rsplit("/", 1)[-1]
    assert len(slug) >= 32  # 192 random bits, URL-safe

    public = httpx.get(f"{app.url}/api/public/{slug}")  # no token at all
    assert public.status_code == 200
    body = public.json()
    assert body["prompt"] == REQUEST["prompt"] and set(body).isdisjoint(
        {"id", "user_id", "runpod_job_id", "share_slug"}
    )
    assert video["id"] not in public.text and "owner" not in public.text
    media = httpx.get(body["video_url"])
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4" and media.content[4:8] == b"ftyp"
    assert httpx.get(body["poster_url"]).headers["content-type"] == "image/jpeg"
    assert httpx.get(body["video_url"], headers={"range": "bytes=0-9"}).status_code == 206  # seekable

    page = httpx.get(shared["share_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert meta(page.text, "og:title") == "a &quot;quoted&quot; &lt;b&gt;fox&lt;/b&gt; &amp; friends"
    assert meta(page.text, "og:video") == f"{app.url}/api/public/{slug}/video.mp4"
    assert meta(page.text, "og:image") == f"{app.url}/api/public/{slug}/poster.jpg"
    assert video["id"] not in page.text and "owner" not in page.text
    assert meta(page.text, "twitter:card") == "summary_large_image"
    assert "<b>fox</b>" not in page.text  # the prompt is text, never markup
    assert 'id="make-your-own" href="' in page.text and "prompt=a+%22quoted%22" in page.text

    again = httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}, headers=as_user("owner")).json()
    assert again["share_url"] == shared["share_url"]  # sharing twice keeps the link

    revoked = httpx.delete(f"{app.url}/api/videos/{video['id']}/share", headers=as_user("owner"))
    assert revoked.status_code == 200 and revoked.json()["share_url"] is None
    assert httpx.get(f"{app.url}/api/public/{slug}").status_code == 404
    assert httpx.get(shared["share_url"]).status_code == 404
    assert httpx.get(body["video_url"]).status_code == 404
    renewed = httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}, headers=as_user("owner")).json()
    assert renewed["share_url"] != shared["share_url"]


def test_only_the_owner_shares_only_completed_videos_and_deleting_revokes(app, engine):
    video = completed_video(app)
    assert (
        httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}, headers=as_user("someone")).status_code == 404
    )
    assert httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}).status_code == 401
    [queued] = insert_videos(engine, [video_row(user_id="owner", status="PENDING")])
    refused = httpx.post(f"{app.url}/api/videos/{queued.id}/share", json={}, headers=as_user("owner"))
    assert refused.status_code == 409 and "completed" in refused.json()["error"]

    shared = httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}, headers=as_user("owner")).json()
    slug = shared["share_url"].rsplit("/", 1)[-1]
    assert httpx.delete(f"{app.url}/api/videos/{video['id']}", headers=as_user("owner")).status_code == 204
    assert httpx.get(f"{app.url}/api/public/{slug}").status_code == 404
    assert httpx.get(f"{app.url}/api/public/{uuid.uuid4().hex}").status_code == 404


def test_explore_lists_shared_videos_only_newest_first_in_pages(app):
    first, second, private = (completed_video(app) for _ in range(3))
    for video in (first, second):
        httpx.post(f"{app.url}/api/videos/{video['id']}/share", json={}, headers=as_user("owner")).raise_for_status()
    page1 = httpx.get(f"{app.url}/api/public", params={"limit": 1}).json()
    page2 = httpx.get(f"{app.url}/api/public", params={"limit": 1, "before": page1["next_cursor"]}).json()
    listed = page1["videos"] + page2["videos"]
    assert [v["page_url"] for v in listed] == [
        httpx.get(f"{app.url}/api/videos/{v['id']}", headers=as_user("owner")).json()["share_url"]
        for v in (second, first)
    ]
    assert page2["next_cursor"] is None and private["id"] not in str(listed)
    assert all(set(v).isdisjoint({"id", "user_id"}) for v in listed)


def test_sample_prompts_fill_the_form_with_valid_presets():
    from urllib.parse import parse_qs, urlsplit

    from openv_app.states import presets
    from openv_app.states.explore import load_samples

    samples = load_samples()
    assert len(samples) >= 3
    for sample in samples:
        query = {name: values[0] for name, values in parse_qs(urlsplit(sample.studio_link).query).items()}
        assert query["prompt"] == sample.prompt and query["aspect"] in presets.SIZES
        assert query["resolution"] in presets.RESOLUTIONS and query["duration"] in presets.DURATIONS
