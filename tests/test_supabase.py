"""Supabase Storage through the real storage3 client against a local Storage REST server,
and PostgreSQL settings as Supabase's poolers need them."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from openv_app.db import make_sync_engine
from openv_app.services.storage import StorageError
from openv_app.services.supabase_storage import SupabaseStorage
from tests.support.databases import migrate
from tests.support.fake_supabase_storage import FakeSupabaseStorage
from tests.support.handlers import StartImageHandler, quick_video_handler
from tests.support.loops import run_sync
from tests.support.servers import ServerThread, wait_until
from worker.upload import put_file


@pytest.fixture
def supabase():
    fake = FakeSupabaseStorage()
    with ServerThread(fake.app) as server:
        fake.url = server.url
        yield fake


def storage_for(fake: FakeSupabaseStorage, key: str | None = None) -> SupabaseStorage:
    return SupabaseStorage(fake.url, key or fake.service_key, "videos", ttl_s=600)


def test_bucket_is_created_private_when_missing(supabase):
    run_sync(storage_for(supabase).ensure_bucket())
    assert supabase.buckets["videos"]["public"] is False
    run_sync(storage_for(supabase).ensure_bucket())  # exists now: left as it is
    assert len(supabase.buckets) == 1


def test_concurrent_first_submits_all_find_the_bucket_ready(supabase):
    supabase.bucket_check_delay_s = 0.3  # every process checks before any creates

    async def five_processes_at_once():
        await asyncio.gather(*(storage_for(supabase).ensure_bucket() for _ in range(5)))

    run_sync(five_processes_at_once())
    assert list(supabase.buckets) == ["videos"]


def test_listing_finds_every_stored_file(supabase):
    storage = storage_for(supabase)

    async def upload_and_list():
        for path in ("user_a/1.mp4", "user_a/1.jpg", "user_b/2.mp4"):
            put_file(await storage.create_upload_url(path), b"x", "video/mp4")
        return await storage.list_files()

    assert sorted(run_sync(upload_and_list())) == ["user_a/1.jpg", "user_a/1.mp4", "user_b/2.mp4"]


def test_a_shared_file_is_streamed_through_the_app(supabase):
    storage = storage_for(supabase)

    async def upload_and_stream():
        put_file(await storage.create_upload_url("user/v.mp4"), b"mp4-bytes", "video/mp4")
        status, headers, chunks = await storage.stream("user/v.mp4", None)
        return status, headers, b"".join([chunk async for chunk in chunks])

    status, headers, data = run_sync(upload_and_stream())
    assert (status, data, headers["content-length"]) == (200, b"mp4-bytes", "9")


def test_worker_uploads_to_signed_url_and_browser_downloads(supabase):
    storage = storage_for(supabase)

    async def sign_upload_and_download():
        upload = await storage.create_upload_url("user/v.mp4")
        put_file(upload, b"mp4-bytes", "video/mp4")
        return await storage.create_download_url("user/v.mp4"), await storage.create_download_url(
            "user/v.mp4", "clip.mp4"
        )

    url, download_url = run_sync(sign_upload_and_download())
    assert supabase.objects[("videos", "user/v.mp4")] == (b"mp4-bytes", "video/mp4")
    response = httpx.get(url)
    assert response.content == b"mp4-bytes" and response.headers["content-type"] == "video/mp4"
    assert "clip.mp4" in httpx.get(download_url).headers["content-disposition"]


def test_delete_removes_files_and_missing_files_are_fine(supabase):
    storage = storage_for(supabase)

    async def upload_then_delete():
        put_file(await storage.create_upload_url("user/v.mp4"), b"x", "video/mp4")
        await storage.delete(["user/v.mp4", "user/v.jpg"])
        await storage.delete(["user/v.mp4"])

    run_sync(upload_then_delete())
    assert supabase.objects == {}


def test_storage_errors_become_the_apps_own(supabase):
    with pytest.raises(StorageError, match="bucket"):
        run_sync(storage_for(supabase, key="wrong-key").ensure_bucket())

    async def failures():
        storage = storage_for(supabase)
        await storage.ensure_bucket()
        with pytest.raises(StorageError, match="download URL"):
            await storage.create_download_url("user/missing.mp4")
        supabase.fail_next = 1
        with pytest.raises(StorageError, match="delete"):
            await storage.delete(["user/v.mp4"])

    run_sync(failures())


def test_end_to_end_with_supabase_storage(app_factory, runpod_factory, supabase):
    app = app_factory(runpod_factory(quick_video_handler), storage=storage_for(supabase))
    request = {"prompt": "a kite over dunes", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 2}
    video = httpx.post(f"{app.url}/api/runpod", json=request).json()
    done = wait_until(
        lambda: (b := httpx.get(f"{app.url}/api/runpod/{video['id']}").json())["status"] == "COMPLETED" and b
    )
    assert httpx.get(done["video_url"]).headers["content-type"] == "video/mp4"
    assert ("videos", f"dev-user/{video['id']}.jpg") in supabase.objects
    assert httpx.delete(f"{app.url}/api/videos/{video['id']}").status_code == 204
    assert supabase.objects == {}


def test_start_images_through_supabase_storage(app_factory, runpod_factory, supabase):
    """Uploads and last frames are stored with the real client, the worker fetches the image
    through a signed URL that outlives its job, and the image goes with its last video."""
    handler = StartImageHandler()
    storage = storage_for(supabase)
    app = app_factory(runpod_factory(handler), storage=storage)
    photo = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 30, 30)).save(photo, format="PNG")
    answer = httpx.post(f"{app.url}/api/images", content=photo.getvalue(), headers={"content-type": "image/png"})
    assert answer.status_code == 201, answer.text
    image = answer.json()
    path = f"dev-user/images/{image['image_id']}.jpg"
    assert supabase.objects[("videos", path)][1] == "image/jpeg"
    assert httpx.get(image["url"]).content == supabase.objects[("videos", path)][0]
    assert app.run(storage.exists(path)) and not app.run(storage.exists("dev-user/images/missing.jpg"))

    request = {"prompt": "from this", "model": "ltx-video-distilled", "width": 160, "height": 128, "num_frames": 9}
    video = httpx.post(f"{app.url}/api/runpod", json={**request, "start_image_id": image["image_id"]}).json()
    done = wait_until(
        lambda: (b := httpx.get(f"{app.url}/api/runpod/{video['id']}").json())["status"] == "COMPLETED" and b
    )
    assert handler.images[0].size == (160, 128) and handler.images[0].getpixel((80, 64))[0] > 180
    assert max(supabase.download_lifetimes[path]) >= app.service.job_ttl_s  # the worker's URL
    frame = httpx.post(f"{app.url}/api/videos/{video['id']}/last-frame", json={})
    assert frame.status_code == 201, frame.text
    frame_path = f"dev-user/images/{frame.json()['image_id']}.jpg"
    assert {path, frame_path} <= set(app.run(storage.list_files()))

    assert httpx.delete(f"{app.url}/api/videos/{done['id']}").status_code == 204
    assert set(supabase.objects) == {("videos", frame_path)}  # the fresh frame waits for its video
    assert app.run(app.service.files.sweep_orphan_files()) == 0


@pytest.mark.postgres_only
def test_postgres_through_a_transaction_pooler_setting(empty_database_url):
    """Prepared statements off (as Supabase's port-6543 pooler needs) and the migrations unchanged."""
    url = (
        empty_database_url.replace("postgresql+psycopg://", "postgresql://") + "?sslmode=disable&application_name=openv"
    )
    migrate(url)
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        for _ in range(8):  # past psycopg's default prepare threshold of 5
            connection.execute(sa.text("SELECT count(*) FROM videos WHERE user_id = :u"), {"u": "x"})
        prepared = connection.execute(sa.text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        rls = connection.execute(sa.text("SELECT relrowsecurity FROM pg_class WHERE relname = 'videos'")).scalar_one()
    engine.dispose()
    assert prepared == 0
    assert rls is True
