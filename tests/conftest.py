"""Shared fixtures: databases (PostgreSQL and SQLite), a local RunPod endpoint, the HTTP API
served on a real port, and a browser.

Where PostgreSQL or chromium is missing the tests that need them are skipped with a reason;
with CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Settings are read once per process: fix the test environment before the app is imported.
os.environ.update(
    WEBHOOK_SECRET="test-webhook-secret",
    REFLEX_TELEMETRY_ENABLED="false",
    REFLEX_CHECK_LATEST_VERSION="false",
)

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from alembic.config import Config

from alembic import command
from bench.processes import REFLEX_ENV, reflex_prod_command
from openv_app.db import Database, make_async_engine
from openv_app.services.jobs import JobService
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.storage import LocalStorage
from openv_app.settings import LOCAL_RUNPOD_API_KEY, PROJECT_ROOT, Settings

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def missing(what: str) -> None:
    """Skip locally; fail in CI, where everything must be present."""
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true")
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


# --- databases ---------------------------------------------------------------------------


def migrate(url: str, revision: str = "head") -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)


def downgrade(url: str, revision: str = "base") -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.downgrade(config, revision)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        missing(f"PostgreSQL at {POSTGRES_ADMIN_URL}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the parametrized kind, dropped afterwards."""
    kind = getattr(request, "param", "postgresql")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    admin_url = request.getfixturevalue("postgres_server")
    name = f"openv_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    migrate(empty_database_url)
    return empty_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A plain sync engine on the test database, for tests to seed and inspect rows."""
    from openv_app.db import make_sync_engine

    engine = make_sync_engine(database_url)
    yield engine
    engine.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every database test runs against PostgreSQL and SQLite."""
    if "empty_database_url" in metafunc.fixturenames:
        kinds = ["postgresql"] if metafunc.definition.get_closest_marker("postgres_only") else ["postgresql", "sqlite"]
        metafunc.parametrize("empty_database_url", kinds, indirect=True)


# --- servers on real ports -----------------------------------------------------------------


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _serve(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve()

        asyncio.run(serve())

    def run(self, coroutine: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the server's event loop (where its database pool lives)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class LocalRunPod:
    endpoint: Any
    base_url: str
    api_key: str = "test-runpod-key"
    endpoint_id: str = "local"

    def client(self, **kwargs: Any) -> RunPodClient:
        return RunPodClient(self.base_url, self.endpoint_id, self.api_key, **kwargs)


def start_local_runpod(
    handler: Callable, api_key: str = "test-runpod-key", **kwargs: Any
) -> tuple[ServerThread, LocalRunPod]:
    from worker.local_endpoint import LocalEndpoint

    endpoint = LocalEndpoint(handler, api_key=api_key, **kwargs)
    server = ServerThread(endpoint.app).__enter__()
    return server, LocalRunPod(endpoint, f"{server.url}/v2", api_key)


@pytest.fixture
def runpod_factory() -> Iterator[Callable[..., LocalRunPod]]:
    """Starts local RunPod endpoints running a given handler; stops them afterwards."""
    servers: list[ServerThread] = []

    def start(handler: Callable, **kwargs: Any) -> LocalRunPod:
        kwargs.setdefault("webhook_retry_delay_s", 0.2)
        server, runpod = start_local_runpod(handler, **kwargs)
        servers.append(server)
        return runpod

    yield start
    for server in servers:
        server.__exit__()


@dataclass
class AppUnderTest:
    url: str
    service: JobService
    storage: LocalStorage
    server: ServerThread
    database_url: str

    def run(self, coroutine: Any) -> Any:
        """Await a service call on the app's own event loop."""
        return self.server.run(coroutine)

    def service_like_another_process(self, runpod: LocalRunPod) -> JobService:
        """A second JobService with a pool of its own, as another app process would have."""
        return JobService(
            settings=self.service.settings,
            db=Database(make_async_engine(self.database_url)),
            runpod=runpod.client(),
            storage=self.storage,
        )


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path) -> Iterator[Callable[..., AppUnderTest]]:
    """The HTTP API (the FastAPI app the Reflex app mounts) on a real port, wired to a test
    database, local storage in tmp_path and the given RunPod endpoint."""
    from openv_app.api.routes import api
    from openv_app.services.wiring import get_job_service

    apps: list[AppUnderTest] = []

    def start(
        runpod: LocalRunPod | None = None,
        runpod_client: RunPodClient | None = None,
        storage: Any = None,
        database_url: str = database_url,
        **settings: Any,
    ) -> AppUnderTest:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        config = Settings(
            public_base_url=base_url, webhook_secret="test-webhook-secret", poll_interval_s=0.2, **settings
        )
        storage = storage or LocalStorage(tmp_path / "storage", base_url, config.secret, ttl_s=600)
        client = runpod_client or (
            runpod.client() if runpod else RunPodClient("http://127.0.0.1:9/v2", "none", "key", max_attempts=1)
        )
        service = JobService(
            settings=config, db=Database(make_async_engine(database_url)), runpod=client, storage=storage
        )
        api.dependency_overrides[get_job_service] = lambda: service
        app = AppUnderTest(base_url, service, storage, ServerThread(api, port).__enter__(), database_url)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.run(app.service.db.engine.dispose())
        app.server.__exit__()
    api.dependency_overrides.clear()


# --- handlers for the local endpoint -------------------------------------------------------


def tiny_handler_input(**overrides: Any) -> dict[str, Any]:
    return {
        "prompt": "a red fox running through snow",
        "width": 128,
        "height": 128,
        "num_frames": 9,
        "fps": 8,
        "steps": 3,
        "seed": 7,
        **overrides,
    }


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Wan pipeline, built once per test run, used by the real handler."""
    from worker.engines import build_tiny_wan

    folder = tmp_path_factory.mktemp("tiny-wan")
    build_tiny_wan(folder)
    os.environ["OPENV_TINY_DIR"] = str(folder)
    os.environ["OPENV_ENGINE"] = "tiny"
    return folder


# --- browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing(f"chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


# --- the whole app in production mode ------------------------------------------------------


@dataclass
class RunningApp:
    url: str
    runpod: object
    storage_dir: Path
    database_url: str
    redis_url: str


REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PROD_WORKERS = 2


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database of its own for the test run, emptied first."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.flushdb()
    except redis.RedisError:
        missing(f"Redis at {REDIS_TEST_URL}")
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def prod_database_url(postgres_server: str) -> Iterator[str]:
    name = f"openv_e2e_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def prod_app(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path, prod_database_url: str, redis_url: str
) -> Iterator[RunningApp]:
    """The app as `make prod` runs it: production build on one port, PostgreSQL, Redis and
    PROD_WORKERS backend workers."""
    from tests.handlers import scripted_handler

    folder = tmp_path_factory.mktemp("prod-app")
    database_url = prod_database_url
    # The app's default local-endpoint key: the app runs as `make run` would, in local mode.
    runpod_server, runpod = start_local_runpod(
        scripted_handler, api_key=LOCAL_RUNPOD_API_KEY, webhook_retry_delay_s=0.5
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": url,
        "WEBHOOK_SECRET": "e2e-secret",
        "ALLOW_DEV_AUTH_IN_PROD": "true",
        "RUNPOD_API_KEY": "",
        "RUNPOD_BASE_URL": runpod.base_url,
        "LOCAL_STORAGE_DIR": str(folder / "storage"),
        # Progress shows through the poller; a finished job reaches the page by webhook or poll.
        "POLL_INTERVAL_S": "1",
        "MAX_CONCURRENT_JOBS": "2",
        # High enough never to be hit by chance; the quota test makes the dev user reach it.
        "DAILY_GPU_SECONDS": "100000",
        "REDIS_URL": redis_url,
        "GRANIAN_WORKERS": str(PROD_WORKERS),
        **REFLEX_ENV,
    }
    log = (folder / "reflex.log").open("w")
    process = subprocess.Popen(
        reflex_prod_command(port),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"reflex exited: {(folder / 'reflex.log').read_text()[-3000:]}")
        try:
            return (
                httpx.get(f"{url}/api/health", timeout=2).status_code == 200
                and httpx.get(url, timeout=5).status_code == 200
            )
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=400, interval=1)
        yield RunningApp(url, runpod, folder / "storage", database_url, redis_url)
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
    page.on(
        "response",
        lambda response: response.status >= 400 and page.console_errors.append(f"{response.status} {response.url}"),
    )
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def in_own_loop(test: Callable[..., Any]) -> Callable[..., Any]:
    """An async test run with `run_sync` (pytest-asyncio cannot start a loop once Playwright's
    sync API holds one in the main thread, i.e. after any browser test)."""
    import functools

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return run_sync(test(*args, **kwargs))

    return run


def run_sync(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running
    in the main thread once a browser test has run."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
