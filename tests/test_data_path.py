"""The data path in production conditions: several app processes on one database, a remote
database, hundreds of jobs in flight. Over real HTTP, against PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from openv_app.models import Video
from openv_app.services.signing import webhook_token
from openv_app.services.storage import video_paths
from tests.support.factories import insert_in_flight_videos, insert_videos, video_row
from tests.support.handlers import quick_video_handler
from tests.support.loops import run_sync
from tests.support.processes import start as start_process
from tests.support.processes import stop
from tests.support.runpod_standin import SlowStatusEndpoint
from tests.support.servers import ServerThread, free_port, wait_until

REQUEST = {"prompt": "a race between submits", "width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 2}


@pytest.fixture
def api_processes(database_url: str, runpod_factory, tmp_path: Path) -> Iterator[Callable[..., list[str]]]:
    """Starts app processes (the API the Reflex app mounts, under uvicorn) on one database."""
    processes: list[subprocess.Popen] = []
    runpod = runpod_factory(quick_video_handler, concurrency=0)  # jobs stay queued

    def start(count: int, **settings: str) -> list[str]:
        urls = []
        for index in range(count):
            port = free_port()
            env = {
                "DATABASE_URL": database_url,
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "RUNPOD_API_KEY": runpod.api_key,
                "RUNPOD_BASE_URL": runpod.base_url,
                "LOCAL_STORAGE_DIR": str(tmp_path / "storage"),
                **settings,
            }
            processes.append(
                start_process(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "openv_app.api.main:api",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    env,
                    tmp_path / f"app-{index}.log",
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes[-count:], strict=True):
            wait_until(lambda: process.poll() is None and _answers(f"{url}/api/health"), timeout=60, interval=0.2)
        return urls

    yield start
    for process in processes:
        stop(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def submit_all_at_once(urls: list[str], count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(f"{urls[i % len(urls)]}/api/runpod", json=REQUEST) for i in range(count))
        )
    return [response.status_code for response in responses]


@pytest.mark.parametrize(
    "limits,refused",
    [
        ({"MAX_CONCURRENT_JOBS": "5", "DAILY_QUOTA": "1000"}, 409),
        ({"MAX_CONCURRENT_JOBS": "1000", "DAILY_QUOTA": "5"}, 429),
    ],
    ids=["unfinished-jobs", "daily-quota"],
)
def test_limits_hold_for_concurrent_submits_across_two_processes(api_processes, engine, limits, refused):
    urls = api_processes(2, **limits)
    for attempt in range(10):
        codes = run_sync(submit_all_at_once(urls, 30))
        assert sorted(codes) == [201] * 5 + [refused] * 25, f"attempt {attempt}: {codes}"
        with engine.begin() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(Video)).scalar_one() == 5
            connection.execute(sa.delete(Video))


# --- a remote database must not stop the event loop ------------------------------------------


@pytest.fixture
def slow_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The test database behind a proxy that adds 150 ms each way (PostgreSQL only)."""
    url = sa.make_url(database_url)
    port = free_port()
    proxy = start_process(
        [
            sys.executable,
            "-m",
            "tests.support.delay_proxy",
            "--port",
            str(port),
            "--target",
            f"{url.host}:{url.port or 5432}",
            "--delay-ms",
            "150",
        ],
        {},
        tmp_path / "proxy.log",
    )
    try:
        wait_until(lambda: _port_open(port), timeout=20, interval=0.1)
        yield url.set(port=port).render_as_string(hide_password=False)
    finally:
        stop(proxy)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.postgres_only
def test_event_loop_answers_while_database_round_trips_are_slow(app_factory, runpod_factory, slow_database_url):
    app = app_factory(runpod_factory(quick_video_handler, concurrency=0), database_url=slow_database_url)
    video = httpx.post(f"{app.url}/api/runpod", json=REQUEST, timeout=30).json()
    progress = {"id": video["runpod_job_id"], "status": "IN_PROGRESS", "output": {"step": 1, "total": 4}}
    token = webhook_token("test-webhook-secret", video["id"])
    httpx.get(f"{app.url}/api/openapi.json")  # built once, then served from memory: a trivial route

    async def storm_and_probe() -> tuple[list[float], list[int]]:
        async with httpx.AsyncClient(timeout=30) as client:
            storm = [
                asyncio.create_task(
                    client.post(
                        f"{app.url}/api/runpod/webhook", params={"video_id": video["id"], "token": token}, json=progress
                    )
                )
                for _ in range(20)
            ]
            await asyncio.sleep(0.2)  # the deliveries are now waiting on the database
            probes = []
            for _ in range(5):
                started = time.perf_counter()
                assert (await client.get(f"{app.url}/api/openapi.json")).status_code == 200
                probes.append(time.perf_counter() - started)
            in_flight_during_probes = sum(not task.done() for task in storm)
            codes = [response.status_code for response in await asyncio.gather(*storm)]
            assert in_flight_during_probes > 0
            return probes, codes

    probes, codes = run_sync(storm_and_probe())
    assert codes == [200] * 20
    # A loop that waited on the database would answer after at least one round trip (0.3 s); the
    # test's client shares the server's process, so a probe can take a scheduling slice longer.
    assert max(probes) < 0.25, probes


# --- the poller at scale ---------------------------------------------------------------------


def test_three_processes_sweep_concurrently_and_never_poll_the_same_job(database_url, engine, tmp_path):
    videos = insert_in_flight_videos(engine, 300)
    standin = SlowStatusEndpoint(delay_s=0.05)
    # A polled job is due again one interval later, and then another process may rightly poll it:
    # on a slow host, three processes contending for SQLite's one writer took longer than the
    # default 5 s to sweep 300 jobs (CI: 315 polls). An interval beyond the test isolates the rule.
    longer_than_the_test = {"POLL_INTERVAL_S": "600"}
    with ServerThread(standin.app) as server:
        workers = [
            start_process(
                [sys.executable, "-m", "tests.poll_sweeper", database_url, f"{server.url}/v2", "4"],
                longer_than_the_test,
                tmp_path / f"sweeper-{index}.log",
            )
            for index in range(3)
        ]
        for worker in workers:
            assert worker.wait(timeout=120) == 0, (tmp_path / "sweeper-0.log").read_text()
    polled = [int((tmp_path / f"sweeper-{index}.log").read_text().split()[-1]) for index in range(3)]
    assert sum(polled) == 300 and all(polled), polled  # all three took part
    assert set(standin.asked) == {video.runpod_job_id for video in videos}
    assert max(standin.asked.values()) == 1  # each job was leased to exactly one process
    assert 4 < standin.peak_in_flight <= 12  # concurrent within a process, at most 4 each
    with engine.connect() as connection:
        progress = connection.execute(sa.select(Video.status, Video.progress).distinct()).all()
    assert progress == [("PROCESSING", 25)]


def test_poll_sweeper_recipe_removes_the_files_of_a_deleted_video(database_url, engine, tmp_path):
    """The documented recipe, `python -m tests.poll_sweeper DATABASE_URL RUNPOD_BASE_URL 16`, on a
    database where a deleted video waits for its files: the sweep polls the jobs in flight and
    removes the files with the app's storage."""
    in_flight = insert_in_flight_videos(engine, 3)
    [deleted] = insert_videos(engine, [video_row(status="COMPLETED", deleted_at=datetime.now(UTC))])
    storage = tmp_path / "storage"
    files = [storage / path for path in video_paths(deleted.user_id, str(deleted.id))]
    for file in files:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(b"stored")
    standin = SlowStatusEndpoint(delay_s=0.01)
    with ServerThread(standin.app) as server:
        sweeper = start_process(
            [sys.executable, "-m", "tests.poll_sweeper", database_url, f"{server.url}/v2", "16"],
            {"STORAGE_BACKEND": "local", "LOCAL_STORAGE_DIR": str(storage)},
            tmp_path / "sweeper.log",
        )
        assert sweeper.wait(timeout=120) == 0, (tmp_path / "sweeper.log").read_text()
    assert int((tmp_path / "sweeper.log").read_text().split()[-1]) == len(in_flight)
    assert not any(file.exists() for file in files)
    with engine.connect() as connection:
        removed_at = connection.execute(sa.select(Video.files_removed_at).where(Video.id == deleted.id)).scalar_one()
    assert removed_at is not None
