"""The app's job service for benchmarks that run the poller outside the app."""

from __future__ import annotations

from typing import Any

from openv_app.db import Database, make_async_engine
from openv_app.services.jobs import JobService
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.wiring import build_storage
from openv_app.settings import Settings


def standin_job_service(database_url: str, runpod_base_url: str, **settings: Any) -> JobService:
    """The job service on this database, talking to a RunPod stand-in at `runpod_base_url`
    (…/v2), with the default settings (no `.env`) but these."""
    config = Settings(_env_file=None, **settings)
    return JobService(
        settings=config,
        db=Database(make_async_engine(database_url)),
        runpod=RunPodClient(runpod_base_url, "bench", "key"),
        storage=build_storage(config),
    )
