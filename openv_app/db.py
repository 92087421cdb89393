"""Database engine and sessions, built from settings (SQLite by default, PostgreSQL when set)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import create_engine

from openv_app.settings import get_settings


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way (postgres:// or postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> sa.Engine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        database = sa.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    # prepare_threshold=None: Supabase's transaction pooler (port 6543) has no prepared
    # statements; turning them off costs little on a direct connection.
    return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})


@lru_cache
def get_engine() -> sa.Engine:
    return make_engine(get_settings().database_url)


def database_is_reachable(engine: sa.Engine | None = None) -> bool:
    try:
        with (engine or get_engine()).connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
