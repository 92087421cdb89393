"""Database engines built from settings: SQLite by default, PostgreSQL (Supabase) when set.

At run time the app uses one asyncio engine per process (psycopg 3 for PostgreSQL, aiosqlite
for SQLite), so a database round trip never stops the event loop. Alembic uses a plain sync
engine on the same URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from openv_app.settings import get_settings


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way (postgres:// or postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _async_url(url: str) -> str:
    url = normalize_database_url(url)
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _make_sqlite_folder(url: str) -> None:
    database = sa.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_sync_engine(url: str) -> sa.Engine:
    """For migrations and tooling only; the app itself uses `make_async_engine`."""
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        _make_sqlite_folder(url)
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, connect_args={"prepare_threshold": None})


def make_async_engine(url: str, pool_size: int = 10, max_overflow: int = 5, pool_recycle_s: int = 300) -> AsyncEngine:
    url = _async_url(url)
    if url.startswith("sqlite"):
        _make_sqlite_folder(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _begin_sqlite_transactions_ourselves(engine)
        return engine
    # prepare_threshold=None: Supabase's transaction pooler (port 6543) has no prepared
    # statements. No pool_pre_ping (a round trip per checkout): connections are recycled
    # instead, before a pooler's idle timeout can close them under us. AUTOCOMMIT: a lone
    # statement costs one round trip, with no BEGIN and COMMIT around it; `Database.transaction`
    # opens real transactions itself.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=pool_recycle_s,
        isolation_level="AUTOCOMMIT",
        connect_args={"prepare_threshold": None},
    )


# Execution option for a SQLite transaction that takes the write lock at BEGIN, so that a
# read-then-insert (the per-user limits) cannot interleave with another writer.
SQLITE_IMMEDIATE = "openv_sqlite_immediate"


def _begin_sqlite_transactions_ourselves(engine: AsyncEngine) -> None:
    """sqlite3 would start transactions lazily and never as IMMEDIATE; SQLAlchemy's documented
    recipe turns that off and emits BEGIN itself."""

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _no_driver_transactions(dbapi_connection, connection_record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Runs statements on an async engine with as few round trips as the work allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    async def rows(self, statement: sa.Executable, parameters: dict[str, Any] | None = None) -> list[sa.RowMapping]:
        """Run one statement, committed at once, and return its rows."""
        async with self.engine.connect() as connection:
            result = await connection.execute(statement, parameters)
            rows = list(result.mappings()) if result.returns_rows else []
            await connection.commit()  # SQLite; nothing to send under PostgreSQL's autocommit
        return rows

    @asynccontextmanager
    async def transaction(self, lock_key: str | None = None) -> AsyncIterator[AsyncConnection]:
        """A transaction; with `lock_key`, serialized with every other one holding that key.

        PostgreSQL: a transaction-scoped advisory lock, which Supabase's transaction pooler
        supports (session locks and SET would not survive it). SQLite: BEGIN IMMEDIATE, which
        serializes all writers of the file.
        """
        if not self.is_postgres:
            engine = self.engine.execution_options(**{SQLITE_IMMEDIATE: True}) if lock_key else self.engine
            async with engine.begin() as connection:
                yield connection
            return
        async with self.engine.connect() as connection:
            # The pool's connections are in autocommit mode: the transaction is spelled out.
            await connection.exec_driver_sql("BEGIN")
            try:
                if lock_key is not None:
                    lock = sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(lock_key, 0))
                    await connection.execute(sa.select(lock))
                yield connection
            except BaseException:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    await connection.exec_driver_sql("ROLLBACK")
                raise
            await connection.exec_driver_sql("COMMIT")

    async def is_reachable(self) -> bool:
        try:
            await self.rows(sa.text("SELECT 1"))
            return True
        except (sa.exc.SQLAlchemyError, OSError):
            return False


@lru_cache
def get_engine() -> AsyncEngine:
    settings = get_settings()
    return make_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_recycle_s=settings.database_pool_recycle_s,
    )
