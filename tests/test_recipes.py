"""The commands docs/ARCHITECTURE.md gives for running each part alone, run as documented: the
doc's list and this module's must match, so a recipe cannot go stale unnoticed."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from openv_app.services.runpod_client import RunPodClient
from openv_app.settings import LOCAL_RUNPOD_API_KEY, PROJECT_ROOT
from tests.support.databases import migrate
from tests.support.loops import run_sync
from tests.support.processes import start, stop, wait_for
from tests.support.servers import free_port, wait_until

ARCHITECTURE = PROJECT_ROOT / "docs" / "ARCHITECTURE.md"
# Each documented command, and the test below that runs it.
TESTED = {
    "DATABASE_URL=... uvicorn openv_app.api.main:api --port 8000": "test_the_api_alone",
    "python -m worker.local_endpoint": "test_the_local_endpoint_alone",
    "python -u -m worker.handler --test_input '{\"input\": {...}}'": "test_the_worker_handler_alone",
    "python -m tests.poll_sweeper DATABASE_URL RUNPOD_BASE_URL 16": (
        "tests/test_data_path.py::test_poll_sweeper_recipe_removes_the_files_of_a_deleted_video"
    ),
}


def documented_commands() -> list[str]:
    section = ARCHITECTURE.read_text().split("## Running each part alone", 1)[1].split("\n## ", 1)[0]
    return [re.findall(r"`([^`]+)`", line)[-1] for line in section.splitlines() if line.startswith("- ")]


def test_every_documented_recipe_is_run_by_a_test() -> None:
    assert sorted(documented_commands()) == sorted(TESTED)


def test_the_api_alone(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate(database_url)
    port = free_port()
    args = shlex.split(next(c for c in TESTED if "uvicorn" in c).split("... ", 1)[1].replace("8000", str(port)))
    log = tmp_path / "api.log"
    process = start([sys.executable, "-m", *args], {"DATABASE_URL": database_url}, log)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/health", process, timeout=60, log=log)
        health = httpx.get(f"http://127.0.0.1:{port}/api/health").json()
        assert health["status"] == "ok" and health["database"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/api/videos").status_code == 200  # dev sign-in
    finally:
        stop(process)


def test_the_local_endpoint_alone(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "endpoint.log"
    process = start([sys.executable, "-m", "worker.local_endpoint"], {"LOCAL_RUNPOD_PORT": str(port)}, log)
    client = RunPodClient(f"http://127.0.0.1:{port}/v2", "local", LOCAL_RUNPOD_API_KEY, max_attempts=1)

    async def health() -> dict:
        try:
            return await client.health()
        finally:
            await client.aclose()

    try:
        wait_until(lambda: process.poll() is not None or _listening(port), timeout=60)
        assert process.poll() is None, log.read_text()
        assert "workers" in run_sync(health())  # the app's own client, with the app's default key
    finally:
        stop(process)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_worker_handler_alone(tiny_weights: Path) -> None:
    """What the image runs, with the RunPod SDK's own local test mode: one job, then exit."""
    job = {"input": {"prompt": "a fox in snow", "width": 128, "height": 128, "num_frames": 9, "fps": 8, "steps": 2}}
    done = subprocess.run(
        [sys.executable, "-u", "-m", "worker.handler", "--test_input", json.dumps(job)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "data:video/mp4;base64," in done.stdout + done.stderr
