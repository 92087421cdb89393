"""One status-poller sweep, run as its own process (an app worker) by tests/test_data_path.py.

python -m tests.poll_sweeper DATABASE_URL RUNPOD_BASE_URL CONCURRENCY  -> prints jobs polled

Storage is the app's, from the environment (STORAGE_BACKEND, LOCAL_STORAGE_DIR, ...), since a
sweep also removes the files of deleted videos.
"""

import asyncio
import sys

from openv_app.services.poller import poll_once
from tests.support.apps import standin_job_service


async def sweep(database_url: str, runpod_url: str, concurrency: int) -> int:
    service = standin_job_service(database_url, runpod_url, poll_concurrency=concurrency)
    try:
        return await poll_once(service)
    finally:
        await service.aclose()


if __name__ == "__main__":
    print(asyncio.run(sweep(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
