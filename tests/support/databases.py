"""Scratch PostgreSQL databases and migrations, for the database fixtures and the benchmarks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from openv_app.settings import PROJECT_ROOT

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin(admin_url: str, statement: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        admin.dispose()


def create_database(admin_url: str, name: str) -> str:
    """A new empty database on the admin URL's server; returns its URL."""
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    """Drops the database, connections and all; nothing happens where there is none."""
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(admin_url: str, prefix: str = "openv_test") -> Iterator[str]:
    """A fresh, empty database with a unique name, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = create_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


def _alembic(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(_alembic(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(_alembic(url), revision)


# The benchmarks' database: a fixed name, made afresh by each run and left for inspection.
BENCH_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", ADMIN_URL)
BENCH_DATABASE = "openv_bench"


def bench_database() -> str:
    """`openv_bench`, dropped if there, created and migrated; returns its URL."""
    drop_database(BENCH_ADMIN_URL, BENCH_DATABASE)
    url = create_database(BENCH_ADMIN_URL, BENCH_DATABASE)
    migrate(url)
    return url
