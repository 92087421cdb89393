"""One status-poller sweep, run as its own process (an app worker) by tests/test_data_path.py.

python -m tests.poll_sweeper DATABASE_URL RUNPOD_BASE_URL CONCURRENCY  -> prints jobs polled

Storage is the app's, from the environment (STORAGE_BACKEND, LOCAL_STORAGE_DIR, ...), since a
sweep also removes the files of deleted videos.
"""

import asyncio
import sys

from openv_app.db import Database, make_async_engine
from openv_app.services.jobs import JobService
from openv_app.services.poller import poll_once
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.wiring import build_storage
from openv_app.settings import Settings


async def sweep(database_url: str, runpod_url: str, concurrency: int) -> int:
    settings = Settings(_env_file=None, poll_concurrency=concurrency)
    service = JobService(
        settings=settings,
        db=Database(make_async_engine(database_url)),
        runpod=RunPodClient(runpod_url, "standin", "key"),
        storage=build_storage(settings),
    )
    try:
        return await poll_once(service)
    finally:
        await service.aclose()


if __name__ == "__main__":
    print(asyncio.run(sweep(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
