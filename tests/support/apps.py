"""The HTTP API (the FastAPI app the Reflex app mounts) served on real ports, each wired to a
test database, local storage and a RunPod endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openv_app.db import Database, make_async_engine
from openv_app.services.endpoints import Endpoints
from openv_app.services.jobs import JobService
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.storage import LocalStorage
from openv_app.services.wiring import build_storage
from openv_app.settings import Settings
from tests.support.servers import LocalRunPod, ServerThread, free_port


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
            endpoints=Endpoints.serving(runpod.client()),
            storage=self.storage,
        )


def standin_job_service(database_url: str, runpod_base_url: str, **settings: Any) -> JobService:
    """The job service on this database, talking to a RunPod stand-in at `runpod_base_url`
    (…/v2), with the default settings (no `.env`) but these: the poller outside the app, as the
    poll-sweeper recipe and the poller benchmarks run it."""
    config = Settings(_env_file=None, **settings)
    return JobService(
        settings=config,
        db=Database(make_async_engine(database_url)),
        endpoints=Endpoints.serving(RunPodClient(runpod_base_url, "standin", "key")),
        storage=build_storage(config),
    )


@contextmanager
def serve_apps(default_database_url: str, storage_dir: Path) -> Iterator[Callable[..., AppUnderTest]]:
    """Yields `start(runpod=None, runpod_client=None, storage=None, database_url=..., endpoints=None,
    **settings)`, which serves the API on a free port, inside the security-headers middleware as
    the Reflex app mounts it; stops them all afterwards. One RunPod endpoint (`runpod`, or a
    client of one) serves every model; `endpoints` maps models to endpoints of their own."""
    from openv_app.api.main import api
    from openv_app.api.security_headers import SecurityHeaders
    from openv_app.services.wiring import get_job_service

    apps: list[AppUnderTest] = []

    def start(
        runpod: LocalRunPod | None = None,
        runpod_client: RunPodClient | None = None,
        storage: Any = None,
        database_url: str = default_database_url,
        endpoints: dict[str, LocalRunPod] | None = None,
        **settings: Any,
    ) -> AppUnderTest:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        settings = {"poll_interval_s": 0.2, **settings}
        config = Settings(public_base_url=base_url, webhook_secret="test-webhook-secret", **settings)
        storage = storage or LocalStorage(storage_dir, base_url, config.secret, ttl_s=600)
        if endpoints:
            routes = Endpoints({model: endpoint.client() for model, endpoint in endpoints.items()})
        else:
            client = runpod_client or (
                runpod.client() if runpod else RunPodClient("http://127.0.0.1:9/v2", "none", "key", max_attempts=1)
            )
            routes = Endpoints.serving(client)
        service = JobService(
            settings=config, db=Database(make_async_engine(database_url)), endpoints=routes, storage=storage
        )
        api.dependency_overrides[get_job_service] = lambda: service
        server = ServerThread(SecurityHeaders(api, config), port).__enter__()
        app = AppUnderTest(base_url, service, storage, server, database_url)
        apps.append(app)
        return app

    try:
        yield start
    finally:
        for app in apps:
            app.run(app.service.db.engine.dispose())
            app.server.__exit__()
        api.dependency_overrides.clear()
