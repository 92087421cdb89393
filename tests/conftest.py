"""Shared fixtures: databases (PostgreSQL and SQLite), a local RunPod endpoint, the HTTP API
served on a real port, the whole app in production mode, and a browser. They only declare: the
machinery is in tests/support. Where PostgreSQL, Redis or chromium is missing the tests that
need them are skipped with a reason; with CI=true they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Settings are read once per process: fix the test environment before the app is imported.
os.environ.update(
    WEBHOOK_SECRET="test-webhook-secret",
    REFLEX_TELEMETRY_ENABLED="false",
    REFLEX_CHECK_LATEST_VERSION="false",
)

import pytest
import sqlalchemy as sa

from openv_app.db import make_sync_engine
from tests.support.accounts import MAKER
from tests.support.apps import AppUnderTest, serve_apps
from tests.support.availability import require_empty_redis, require_postgres
from tests.support.browser import launch_chromium, page_recording_errors
from tests.support.clerk_backend import ClerkBackend
from tests.support.databases import ADMIN_URL, migrate, scratch_database
from tests.support.handlers import quick_video_handler
from tests.support.processes import RunningApp, prod_app_with_local_runpod
from tests.support.redis_server import RedisServer, redis_server
from tests.support.servers import LocalRunPod, ServerThread, start_local_runpod

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


# --- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> str:
    return require_postgres(ADMIN_URL)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the parametrized kind, dropped afterwards."""
    if getattr(request, "param", "postgresql") == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with scratch_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    migrate(empty_database_url)
    return empty_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A plain sync engine on the test database, for tests to seed and inspect rows."""
    engine = make_sync_engine(database_url)
    yield engine
    engine.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every database test runs against PostgreSQL and SQLite."""
    if "empty_database_url" in metafunc.fixturenames:
        kinds = ["postgresql"] if metafunc.definition.get_closest_marker("postgres_only") else ["postgresql", "sqlite"]
        metafunc.parametrize("empty_database_url", kinds, indirect=True)


# --- servers on real ports -----------------------------------------------------------------


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


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path) -> Iterator[Callable[..., AppUnderTest]]:
    """The HTTP API (the FastAPI app the Reflex app mounts) on a real port, wired to a test
    database, local storage in tmp_path and the given RunPod endpoint."""
    with serve_apps(database_url, tmp_path / "storage") as start:
        yield start


@pytest.fixture
def clerk_backend() -> Iterator[ClerkBackend]:
    """Clerk's Backend API stand-in (users and their e-mail addresses) on a real port."""
    backend = ClerkBackend()
    with ServerThread(backend.app()) as server:
        backend.url = f"{server.url}/v1"
        yield backend


@pytest.fixture
def clerk_app(app_factory, runpod_factory, clerk_backend) -> Callable[..., AppUnderTest]:
    """`start(**settings)`: the API in Clerk mode (tokens from `tests.support.accounts.MAKER`),
    reading users from the Clerk stand-in; its jobs stay queued."""
    runpod = runpod_factory(quick_video_handler, concurrency=0)

    def start(**settings: Any) -> AppUnderTest:
        return app_factory(runpod, **MAKER.settings(), **clerk_backend.settings(), **settings)

    return start


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model's tiny pipeline, built once per test run, used by the real handler;
    the other models' tiny pipelines are built beside it when a test first asks for them."""
    from worker.contract import DEFAULT_MODEL
    from worker.engines import tiny_weights_dir

    os.environ["OPENV_TINY_DIR"] = str(tmp_path_factory.mktemp("tiny"))
    os.environ["OPENV_ENGINE"] = "tiny"
    return tiny_weights_dir(DEFAULT_MODEL)


# --- the whole app in production mode, and a browser ---------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database of its own for the test run, emptied first."""
    return require_empty_redis(REDIS_TEST_URL)


@pytest.fixture(scope="session")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The production app's Redis, which the fault tests stop and start again empty."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def prod_database_url(postgres_server: str) -> Iterator[str]:
    with scratch_database(postgres_server, prefix="openv_e2e") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def prod_app(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path, prod_database_url: str, own_redis: RedisServer
) -> Iterator[RunningApp]:
    """The app as `make prod` runs it: production build on one port, PostgreSQL, Redis and
    PROD_WORKERS backend workers."""
    folder = tmp_path_factory.mktemp("prod-app")
    with prod_app_with_local_runpod(folder, prod_database_url, own_redis.url) as app:
        yield app


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, request):
    with page_recording_errors(browser, request.node.name) as page:
        yield page
