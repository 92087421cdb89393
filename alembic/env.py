"""Alembic environment: the database URL comes from the app's settings unless one is passed in."""

from sqlmodel import SQLModel

from alembic import context
from openv_app import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from openv_app.db import make_sync_engine
from openv_app.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    url = config.attributes.get("database_url") or get_settings().database_url
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
