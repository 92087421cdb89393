"""One status-poller sweep, run as its own process (an app worker) by tests/test_data_path.py.

python -m tests.poll_sweeper DATABASE_URL RUNPOD_BASE_URL CONCURRENCY  -> prints jobs polled
"""

import asyncio
import sys

from openv_app.db import Database, make_async_engine
from openv_app.services.jobs import JobService
from openv_app.services.poller import PollerConfig, poll_once
from openv_app.services.runpod_client import RunPodClient
from openv_app.settings import Settings


async def sweep(database_url: str, runpod_url: str, concurrency: int) -> int:
    service = JobService(
        settings=Settings(_env_file=None),
        db=Database(make_async_engine(database_url)),
        runpod=RunPodClient(runpod_url, "standin", "key"),
        storage=None,
    )  # type: ignore[arg-type]
    try:
        return await poll_once(service, PollerConfig(interval_s=1, concurrency=concurrency, sweep_deadline_s=60))
    finally:
        await service.db.engine.dispose()
        await service.runpod.aclose()


if __name__ == "__main__":
    print(asyncio.run(sweep(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
