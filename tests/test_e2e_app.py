"""The whole app in production mode (`reflex run --env prod`, one port) in a real browser."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTIFACTS, PROJECT_ROOT, free_port, migrate, start_local_runpod, wait_until


@dataclass
class RunningApp:
    url: str
    runpod: object
    storage_dir: Path


@pytest.fixture(scope="session")
def prod_app(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[RunningApp]:
    from worker.handler import handler

    folder = tmp_path_factory.mktemp("prod-app")
    database_url = f"sqlite:///{folder / 'openv.db'}"
    migrate(database_url)
    runpod_server, runpod = start_local_runpod(handler, webhook_retry_delay_s=0.5)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": url,
        "WEBHOOK_SECRET": "e2e-secret",
        "ALLOW_DEV_AUTH_IN_PROD": "true",
        "RUNPOD_API_KEY": runpod.api_key,
        "RUNPOD_BASE_URL": runpod.base_url,
        "LOCAL_STORAGE_DIR": str(folder / "storage"),
        "POLL_INTERVAL_S": "1",
        # bun and node from the npm registry (scripts/setup.sh), never a download by Reflex.
        "PATH": f"{PROJECT_ROOT / '.tools/node_modules/.bin'}:{os.environ['PATH']}",
        "REFLEX_USE_SYSTEM_BUN": "1",
    }
    log = (folder / "reflex.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port",
         "--frontend-port", str(port), "--backend-port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"reflex exited: {(folder / 'reflex.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/api/health", timeout=2).status_code == 200 and httpx.get(url, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=400, interval=1)
        yield RunningApp(url, runpod, folder / "storage")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        runpod_server.__exit__()
        log.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.on("response", lambda response: response.status >= 400 and page.console_errors.append(f"{response.status} {response.url}"))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_home_page_renders_without_console_errors(prod_app, page):
    page.goto(prod_app.url)
    page.wait_for_selector("#app-title")
    assert page.title().startswith("OpenV")
    assert page.inner_text("#app-title") == "OpenV"
    page.wait_for_load_state("networkidle")
    assert page.console_errors == []


def test_health_reports_database_and_version(prod_app):
    body = httpx.get(f"{prod_app.url}/api/health").json()
    assert body == {"status": "ok", "database": True, "version": "0.1.0"}
