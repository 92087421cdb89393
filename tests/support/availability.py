"""Outside services a test needs: present, or the test is skipped with a reason (with CI=true
it fails instead, where everything must be present)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """Skip locally; fail in CI, where everything must be present."""
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true")
    pytest.skip(f"{what} is not available")


def require_postgres(admin_url: str) -> str:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        missing(f"PostgreSQL at {admin_url}")
    finally:
        engine.dispose()
    return admin_url


def require_empty_redis(url: str) -> str:
    """A Redis database of its own for the test run, emptied first."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.RedisError:
        missing(f"Redis at {url}")
    finally:
        client.close()
    return url


def require_file(path: str, what: str) -> str:
    if not Path(path).exists():
        missing(f"{what} at {path}")
    return path
