"""Start images over HTTP, against PostgreSQL and SQLite: uploads (what is stored, what is
refused and then stores nothing), submitting with an image (the worker gets the app's own signed
URL and can fetch it), continuing a clip from its last frame, and when an image goes."""

from __future__ import annotations

import io
import struct
import time
import uuid
import zlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import httpx
import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from openv_app.models import utcnow
from openv_app.services.image_files import MAX_STORED_PIXELS, MAX_UPLOAD_BYTES, made_at, new_image_id
from openv_app.services.storage import image_id_of, image_path
from tests.support.accounts import MAKER, as_user
from tests.support.factories import insert_videos, video_row
from tests.support.handlers import StartImageHandler, quick_video_handler
from tests.support.servers import wait_until
from worker import handler as worker_handler
from worker.start_image import decode_image, fit_image

REQUEST = {
    "prompt": "the lighthouse, then the sea",
    "model": "ltx-video-distilled",
    "width": 160,
    "height": 128,
    "num_frames": 9,
    "fps": 8,
    "steps": 2,
}


def encoded(image: Image.Image, format: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue()


def gradient(width: int = 320, height: int = 256) -> Image.Image:
    ramp = np.linspace(0, 255, width)[None, :, None] * np.array([1.0, 0.5, 0.0])[None, None, :]
    return Image.fromarray(np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8))


def declared_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose data is a few bytes: a bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def upload(app, body, content_type: str | None, user: str | None = None) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return httpx.post(f"{app.url}/api/images", content=body, headers={**headers, **auth(user)}, timeout=30)


def auth(user: str | None) -> dict[str, str]:
    return as_user(user) if user else {}


def submit(app, user: str | None = None, **fields) -> httpx.Response:
    return httpx.post(f"{app.url}/api/runpod", json={**REQUEST, **fields}, headers=auth(user), timeout=30)


def finished(app, video_id: str, user: str | None = None, timeout: float = 30) -> dict:
    def ended() -> dict | None:
        body = httpx.get(f"{app.url}/api/videos/{video_id}", headers=auth(user)).json()
        return body if body["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

    return wait_until(ended, timeout=timeout)


def stored_files(app) -> set[str]:
    root: Path = app.storage.root
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=int)


# --- uploading ------------------------------------------------------------------------------------


def test_jpeg_png_and_webp_are_stored_upright_and_without_metadata(app_factory):
    app = app_factory()
    # A landscape photo whose EXIF says "rotate 90° clockwise to view": red left, blue right.
    photo = Image.new("RGB", (200, 100), (0, 0, 255))
    photo.paste((255, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "SecretCam"  # orientation, camera make
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = encoded(photo, "JPEG", quality=95, exif=exif, icc_profile=srgb, comment=b"secret comment")
    answer = upload(app, jpeg, "image/jpeg")
    assert answer.status_code == 201, answer.text
    image = answer.json()
    assert set(image) == {"image_id", "width", "height", "url"} and (image["width"], image["height"]) == (100, 200)
    assert stored_files(app) == {f"dev-user/images/{image['image_id']}.jpg"}
    data = (app.storage.root / image_path("dev-user", image["image_id"])).read_bytes()
    assert b"SecretCam" not in data and b"secret comment" not in data
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG" and not {"exif", "icc_profile", "comment"} & set(stored.info)
    top, bottom = pixels(data)[50, 50], pixels(data)[150, 50]  # upright: the left half is on top
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60
    preview = httpx.get(image["url"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg" and preview.content == data

    # A PNG with transparency and a text chunk: flattened onto black, the text gone.
    logo = Image.new("RGBA", (120, 80), (0, 255, 0, 255))
    logo.paste((255, 255, 255, 0), (0, 0, 60, 80))
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "secret author")
    image = upload(app, encoded(logo, "PNG", pnginfo=text), "image/png").json()
    data = httpx.get(image["url"]).content
    assert (image["width"], image["height"]) == (120, 80) and b"secret author" not in data
    assert pixels(data)[40, 20].max() < 10 and pixels(data)[40, 100][1] > 240

    webp = upload(app, encoded(Image.new("RGB", (96, 64), (10, 200, 30)), "WEBP", quality=95), "image/webp")
    assert webp.status_code == 201 and (webp.json()["width"], webp.json()["height"]) == (96, 64)
    assert np.abs(pixels(httpx.get(webp.json()["url"]).content)[32, 48] - [10, 200, 30]).max() < 8

    # A large photo is stored at most MAX_STORED_PIXELS, its aspect ratio kept.
    big = upload(app, encoded(gradient(3000, 2000), "JPEG", quality=90), "image/jpeg").json()
    assert big["width"] * big["height"] <= MAX_STORED_PIXELS and abs(big["width"] / big["height"] - 1.5) < 0.01
    assert len(stored_files(app)) == 4


NOT_AN_IMAGE = b"this is not an image at all"


@pytest.mark.parametrize(
    "body,content_type,status,field,message",
    [
        (NOT_AN_IMAGE, "image/png", 400, "body", "not a JPEG, PNG or WebP image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/webp", 400, "body", "not a JPEG, PNG or WebP"),
        (encoded(Image.new("RGB", (80, 80)), "GIF"), "image/png", 400, "body", "not a JPEG, PNG or WebP"),
        (encoded(gradient(), "PNG"), "image/jpeg", 400, "content-type", "is a PNG image (image/png), not image/jpeg"),
        (encoded(gradient(), "JPEG"), "image/webp", 400, "content-type", "not image/webp"),
        (declared_png(60_000, 60_000), "image/png", 400, "body", "too large to decode"),
        (declared_png(8000, 6000), "image/png", 400, "body", "8000x6000 pixels, over the limit of 40000000"),
        (encoded(gradient(32, 200), "PNG"), "image/png", 400, "body", "each side must be at least 64"),
        (encoded(gradient(), "JPEG")[:2000], "image/jpeg", 400, "body", "not a readable image"),
        (b"", "image/png", 400, "body", "empty"),
        (encoded(gradient(), "PNG"), "text/plain", 415, "content-type", "must be one of image/jpeg"),
        (encoded(gradient(), "PNG"), "application/json", 415, "content-type", "image/png"),
        (encoded(gradient(), "PNG"), None, 415, "content-type", "image/webp"),
        (b"\xff" * (MAX_UPLOAD_BYTES + 1), "image/jpeg", 413, "body", f"larger than {MAX_UPLOAD_BYTES} bytes"),
    ],
    ids=[
        "text",
        "svg",
        "gif",
        "png-said-jpeg",
        "jpeg-said-webp",
        "bomb",
        "over-40-mpixel",
        "too-small",
        "truncated",
        "empty",
        "text-plain",
        "json",
        "no-type",
        "too-large",
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(app_factory, body, content_type, status, field, message):
    app = app_factory()
    answer = upload(app, body, content_type)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field and message in answer.json()["error"]
    assert stored_files(app) == set()


def test_uploads_need_a_session_and_a_body_sent_in_chunks_is_capped_too(app_factory):
    app = app_factory(**MAKER.settings())
    png = encoded(gradient(), "PNG")
    assert upload(app, png, "image/png").status_code == 401
    a_form = httpx.post(f"{app.url}/api/images", files={"file": ("a.png", png, "image/png")}, headers=as_user("ann"))
    assert a_form.status_code == 415 and a_form.json()["field"] == "content-type"

    def chunks():  # no content-length: the cap holds while reading
        for _ in range(MAX_UPLOAD_BYTES // 65536 + 2):
            yield b"\0" * 65536

    chunked = upload(app, chunks(), "image/png", user="ann")
    assert chunked.status_code == 413 and chunked.json()["field"] == "body"
    assert stored_files(app) == set()
    assert upload(app, png, "image/png", user="ann").status_code == 201


# --- submitting with an image ----------------------------------------------------------------------


def test_the_worker_gets_a_signed_url_of_the_image_that_outlives_the_job(app_factory, runpod_factory):
    handler = StartImageHandler()
    app = app_factory(runpod_factory(handler))
    image = upload(app, encoded(gradient(), "PNG"), "image/png").json()
    created = submit(app, start_image_id=image["image_id"], image_fit="pad")
    assert created.status_code == 201, created.text
    assert (created.json()["start_image_id"], created.json()["image_fit"]) == (image["image_id"], "pad")
    done = finished(app, created.json()["id"])
    assert done["status"] == "COMPLETED", done["error"]

    (job_input,) = handler.inputs
    url = job_input["start_image_url"]
    assert url.startswith(f"{app.url}/api/storage/dev-user/images/{image['image_id']}.jpg?")
    assert "start_image_id" not in job_input and job_input["image_fit"] == "pad"
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert expires - time.time() >= app.service.job_ttl_s  # a job that waited its whole ttl still fetches it
    # What the worker fetched is the stored image, fitted as asked.
    stored = (app.storage.root / image_path("dev-user", image["image_id"])).read_bytes()
    expected = np.asarray(fit_image(decode_image(stored), 160, 128, "pad"), dtype=int)
    assert np.abs(np.asarray(handler.images[0], dtype=int) - expected).mean() < 1
    # The card shows it.
    assert done["start_image_id"] == image["image_id"]
    assert httpx.get(done["start_image_url"]).content == stored


def test_retry_keeps_the_start_image(app_factory, runpod_factory):
    handler = StartImageHandler(refuse_first=1)
    app = app_factory(runpod_factory(handler))
    image = upload(app, encoded(gradient(), "JPEG"), "image/jpeg").json()
    failed = finished(app, submit(app, start_image_id=image["image_id"], image_fit="pad").json()["id"])
    assert failed["status"] == "FAILED"
    again = httpx.post(f"{app.url}/api/runpod/{failed['id']}/retry", json={})
    assert again.status_code == 201, again.text
    assert (again.json()["start_image_id"], again.json()["image_fit"]) == (image["image_id"], "pad")
    assert finished(app, again.json()["id"])["status"] == "COMPLETED"
    assert handler.inputs[1]["start_image_url"].split("?")[0] == handler.inputs[0]["start_image_url"].split("?")[0]
    assert handler.images[0].size == (160, 128)


def test_requests_name_only_the_callers_own_images_and_never_a_url(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), **MAKER.settings())
    mine = upload(app, encoded(gradient(), "PNG"), "image/png", user="ann").json()["image_id"]
    refusals = [  # another user's image is told as one that does not exist (404), as their videos are
        ("bob", {"start_image_id": mine}, 404, "start_image_id", "no such image"),
        ("ann", {"start_image_id": str(new_image_id())}, 404, "start_image_id", "no such image"),
        ("ann", {"start_image_id": "../../etc/passwd"}, 400, "start_image_id", "valid UUID"),
        ("ann", {"start_image_url": f"{app.url}/api/storage/ann/images/{mine}.jpg"}, 400, "start_image_url", "send"),
        ("ann", {"start_image_url": "http://169.254.169.254/latest/"}, 400, "start_image_url", "start_image_id"),
        ("ann", {"model": "wan2.1-t2v-1.3b", "start_image_id": mine}, 400, "start_image_id", "takes no start image"),
        ("ann", {"image_fit": "stretch"}, 400, "image_fit", "'crop' or 'pad'"),
    ]
    for user, fields, status, field, message in refusals:
        answer = submit(app, user, **fields)
        assert answer.status_code == status, (fields, answer.text)
        assert answer.json()["field"] == field and message in answer.json()["error"], answer.json()
    for user in ("ann", "bob"):
        assert httpx.get(f"{app.url}/api/videos", headers=as_user(user)).json()["videos"] == []
    assert stored_files(app) == {f"ann/images/{mine}.jpg"}
    assert submit(app, "ann", start_image_id=mine).status_code == 201


# --- continuing a clip -----------------------------------------------------------------------------


def test_the_last_frame_of_a_completed_clip_starts_the_next(app_factory, runpod_factory, engine):
    app = app_factory(runpod_factory(quick_video_handler), **MAKER.settings())
    clip = finished(app, submit(app, "ann").json()["id"], "ann")
    assert clip["status"] == "COMPLETED"
    last_frame = f"{app.url}/api/videos/{clip['id']}/last-frame"
    answer = httpx.post(last_frame, json={}, headers=as_user("ann"))
    assert answer.status_code == 201, answer.text
    frame = answer.json()
    assert (frame["width"], frame["height"]) == (64, 64)

    with av.open(str(app.storage.root / "ann" / f"{clip['id']}.mp4")) as container:
        decoded = [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]
    served = pixels(httpx.get(frame["url"]).content)
    assert np.abs(served - decoded[-1]).mean() < 4  # the last frame (JPEG-close)
    assert np.abs(served - decoded[0])[..., 0].mean() > 200  # not the first: the clip's red ramps up

    assert httpx.post(last_frame, json={}, headers=as_user("bob")).status_code == 404
    assert (
        httpx.post(f"{app.url}/api/videos/{uuid.uuid4()}/last-frame", json={}, headers=as_user("ann")).status_code
        == 404
    )
    as_text = httpx.post(last_frame, content=b"{}", headers={**as_user("ann"), "content-type": "text/plain"})
    assert as_text.status_code == 415
    (queued,) = insert_videos(engine, [video_row(user_id="ann", status="PROCESSING")])
    busy = httpx.post(f"{app.url}/api/videos/{queued.id}/last-frame", json={}, headers=as_user("ann"))
    assert busy.status_code == 409 and busy.json()["field"] == "video_id"

    following = submit(app, "ann", start_image_id=frame["image_id"], prompt="and then the storm")
    assert following.status_code == 201 and following.json()["start_image_id"] == frame["image_id"]
    assert finished(app, following.json()["id"], "ann")["status"] == "COMPLETED"


def test_the_real_worker_makes_a_clip_from_an_uploaded_image(tiny_weights, app_factory, runpod_factory):
    app = app_factory(runpod_factory(worker_handler.handler))
    image = upload(app, encoded(gradient(), "WEBP"), "image/webp").json()
    done = finished(app, submit(app, start_image_id=image["image_id"]).json()["id"], timeout=180)
    assert done["status"] == "COMPLETED", done["error"]
    assert httpx.get(done["video_url"]).headers["content-type"] == "video/mp4"


# --- when an image goes ----------------------------------------------------------------------------


def test_a_shared_start_image_goes_with_the_last_video_using_it(app_factory, runpod_factory):
    app = app_factory(runpod_factory(quick_video_handler))
    image = upload(app, encoded(gradient(), "PNG"), "image/png").json()
    path = image_path("dev-user", image["image_id"])
    first, second = (finished(app, submit(app, start_image_id=image["image_id"]).json()["id"]) for _ in range(2))
    other = finished(app, submit(app).json()["id"])
    assert httpx.delete(f"{app.url}/api/videos/{first['id']}").status_code == 204
    assert path in stored_files(app) and f"dev-user/{first['id']}.mp4" not in stored_files(app)
    assert httpx.delete(f"{app.url}/api/videos/{second['id']}").status_code == 204
    assert stored_files(app) == {f"dev-user/{other['id']}.mp4", f"dev-user/{other['id']}.jpg"}


def test_the_orphan_sweep_spares_fresh_uploads_and_images_videos_hold(app_factory, engine):
    app = app_factory()
    now = utcnow()

    def image_file(made_ago: timedelta) -> str:
        path = image_path("dev-user", new_image_id(now - made_ago))
        (app.storage.root / path).parent.mkdir(parents=True, exist_ok=True)
        (app.storage.root / path).write_bytes(b"jpeg")
        return path

    fresh = image_file(timedelta(hours=23))
    old_unused, old_used, old_of_deleted, old_of_deleting = (image_file(timedelta(hours=25)) for _ in range(4))
    for row in (  # one at a time: the rows' columns differ
        video_row(user_id="dev-user", status="FAILED", start_image_path=old_used),
        video_row(user_id="dev-user", start_image_path=old_of_deleted, deleted_at=now, files_removed_at=now),
        # Deleted while its job ran: its clean-up removes the image once the job has ended.
        video_row(user_id="dev-user", status="PROCESSING", start_image_path=old_of_deleting, deleted_at=now),
    ):
        insert_videos(engine, [row])
    not_timed = f"dev-user/images/{uuid.uuid4()}.jpg"
    for path in (not_timed, "dev-user/images/notes.txt"):
        (app.storage.root / path).write_bytes(b"x")

    found = app.run(app.service.files.sweep_orphan_files())
    assert stored_files(app) == {fresh, old_used, old_of_deleting}
    assert found == 4


def test_image_ids_tell_when_they_were_made_and_paths_are_strict():
    made = utcnow() - timedelta(days=3)
    image_id = new_image_id(made)
    assert image_id.version == 7 and abs((made_at(image_id) - made).total_seconds()) < 0.002
    assert made_at(uuid.uuid4()) is None and new_image_id() != new_image_id()
    assert image_id_of(image_path("user_1", image_id)) == image_id
    for path in (
        f"user_1/images/{image_id}.png",
        f"user_1/other/{image_id}.jpg",
        f"a/user_1/images/{image_id}.jpg",
        f"user_1/images/{str(image_id).upper()}.jpg",
        f"user_1/{image_id}.jpg",
    ):
        assert image_id_of(path) is None, path
