"""Bad input of every kind gets a JSON 4xx naming the field, never a 5xx, and stores nothing;
a report with odd values still applies its status. Over HTTP, PostgreSQL and SQLite."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from openv_app.services.signing import webhook_token
from tests.support.handlers import quick_video_handler
from tests.support.loops import run_sync

REQUEST = {"prompt": "a careful outsider", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 2}


def post_json(app, path: str, text: str, **kwargs) -> httpx.Response:
    return httpx.post(
        f"{app.url}{path}",
        content=text.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json"},
        **kwargs,
    )


@pytest.mark.parametrize(
    "field,raw",
    [
        ("prompt", '"a fox\\u0000 in snow"'),
        ("prompt", '"a lone \\ud800 surrogate"'),
        ("negative_prompt", '"blurry\\u0000"'),
        ("negative_prompt", '"\\udfff"'),
        ("guidance_scale", "NaN"),
        ("guidance_scale", "Infinity"),
        ("seed", "1" * 400),
        # What the schema does not call a number or a model is refused, not converted.
        ("seed", "true"),
        ("steps", '"3"'),
        ("guidance_scale", "false"),
        ("model", '"wan9"'),
        ("num_frames", "160"),  # in range, but not 4k+1: the schema lists the counts
        ("prompt", '" \\u001c\\u3000 "'),  # only what str.strip() removes
    ],
)
def test_unstorable_or_absurd_values_are_400_naming_the_field(app_factory, field, raw):
    app = app_factory()
    body = json.dumps({**REQUEST, field: "__RAW__"}).replace('"__RAW__"', raw)
    response = post_json(app, "/api/runpod", body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert httpx.get(f"{app.url}/api/videos").json()["videos"] == []


def test_deep_nesting_oversize_bodies_and_wrong_content_types(app_factory):
    app = app_factory()
    deep = post_json(app, "/api/runpod", "[" * 50_000 + "]" * 50_000)
    assert deep.status_code == 400 and deep.json()["field"] == "body"
    huge = post_json(app, "/api/runpod", json.dumps({**REQUEST, "prompt": "x" * 300_000}))
    assert huge.status_code == 413 and huge.json()["field"] == "body"
    form = httpx.post(f"{app.url}/api/runpod", data={"prompt": "from another site"})
    assert form.status_code == 415 and form.json()["field"] == "content-type"
    assert httpx.get(f"{app.url}/api/videos").json()["videos"] == []


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "9" * 500}, "limit"),
        ({"limit": "٣"}, "limit"),  # an Arabic-Indic digit
        ({"before": "2026-01-01T00:00:00|00000000-0000-0000-0000-000000000000"}, "before"),  # no time zone
        (
            {"before": "0001-01-01T00:00:00+01:00|00000000-0000-0000-0000-000000000000"},
            "before",
        ),  # before year 1 in UTC
        ({"before": "x" * 10_000}, "before"),
    ],
)
def test_bad_query_parameters_are_400_in_the_error_shape(app_factory, params, field):
    response = httpx.get(f"{app_factory().url}/api/videos", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field and "error" in response.json()


def test_unknown_routes_and_methods_answer_in_the_error_shape(app_factory):
    app = app_factory()
    missing = httpx.get(f"{app.url}/api/nothing-here")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = httpx.put(f"{app.url}/api/videos", json={})
    assert wrong.status_code == 405 and "error" in wrong.json()
    # `Allow` names every method of the path, however many routes serve it (RFC 9110).
    assert wrong.headers["allow"] == "GET"
    assert httpx.put(f"{app.url}/api/runpod", json={}).headers["allow"] == "GET, POST"
    assert httpx.options(f"{app.url}/api/videos/x/share").headers["allow"] == "DELETE, POST"


def test_signed_urls_refuse_odd_expiries_and_cover_the_download_name(app_factory):
    app = app_factory()
    upload = run_sync(app.storage.create_upload_url("dev-user/v.mp4"))
    assert httpx.put(upload, content=b"data").status_code == 200
    download = run_sync(app.storage.create_download_url("dev-user/v.mp4", "clip.mp4"))
    assert httpx.get(download).headers["content-disposition"].startswith("attachment")
    url = httpx.URL(download)
    for changed in ({"download": "other.mp4"}, {"expires": "١٧٩٩٩٩٩٩٩٩"}, {"expires": "9" * 5000}, {"sig": "é" * 64}):
        tampered = httpx.get(url.copy_merge_params(changed))
        assert tampered.status_code == 403 and tampered.json()["field"] == "sig", changed
    without_name = httpx.get(url.copy_remove_param("download"))
    assert without_name.status_code == 403


def webhook(app, video: dict, report: dict | str) -> httpx.Response:
    params = {"video_id": video["id"], "token": webhook_token("test-webhook-secret", video["id"])}
    text = report if isinstance(report, str) else json.dumps(report)
    return post_json(app, "/api/runpod/webhook", text, params=params)


def test_odd_report_values_are_cleaned_and_the_status_still_applies(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0))
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    job = video["runpod_job_id"]
    progress = (
        '{"id": "%s", "status": "IN_PROGRESS", "output": {"stage": "%s\\u0000\\ud800", "step": 1e308, '
        '"total": 1e-308}}' % (job, "s" * 5000)
    )
    assert webhook(app, video, progress).status_code == 200
    running = httpx.get(f"{app.url}/api/runpod/{video['id']}").json()
    assert running["status"] == "PROCESSING" and running["progress"] == 99 and len(running["stage"]) == 50
    assert (
        webhook(app, video, {"id": job, "status": "IN_PROGRESS", "output": {"stage": 12, "step": "x"}}).status_code
        == 200
    )

    done = (
        '{"id": "%s", "status": "COMPLETED", "output": {"video": "v", "poster": "p", "duration_s": NaN, '
        '"timings": {"total_s": Infinity, "load_s": 1.5, "\\u0000": 2}}}' % job
    )
    assert webhook(app, video, done).json()["changed"] is True
    completed = httpx.get(f"{app.url}/api/runpod/{video['id']}").json()
    assert completed["status"] == "COMPLETED" and completed["duration_s"] is None


def test_a_failure_text_postgres_cannot_store_still_fails_the_video(app_factory, runpod_factory):
    # Not a worker refusal, so it would be retried: without retries it fails at once.
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), auto_retries=0)
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    report = '{"id": "%s", "status": "FAILED", "error": "CUDA\\u0000 out of \\udc00 memory %s"}' % (
        video["runpod_job_id"],
        "!" * 10_000,
    )
    assert webhook(app, video, report).json()["changed"] is True
    failed = httpx.get(f"{app.url}/api/runpod/{video['id']}").json()
    assert (
        failed["status"] == "FAILED"
        and failed["error"].startswith("CUDA out of ? memory")
        and len(failed["error"]) == 2000
    )


@pytest.mark.parametrize("job_id", ["job\\u0000", "j" * 300, "\\ud800"])
def test_report_job_ids_that_do_not_fit_are_422(app_factory, runpod_factory, job_id):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0))
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST).json()
    response = webhook(app, video, '{"id": "%s", "status": "COMPLETED"}' % job_id)
    assert response.status_code == 422 and response.json()["field"] == "id"
    assert httpx.get(f"{app.url}/api/runpod/{video['id']}").json()["status"] == "PENDING"


def test_a_report_for_another_videos_job_is_404_not_a_conflict(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0))
    first, second = (httpx.post(f"{app.url}/api/runpod", json=REQUEST).json() for _ in range(2))
    response = webhook(app, second, {"id": first["runpod_job_id"], "status": "COMPLETED", "output": {"video": "v"}})
    assert response.status_code == 404
    assert httpx.get(f"{app.url}/api/runpod/{uuid.UUID(second['id'])}").json()["status"] == "PENDING"
