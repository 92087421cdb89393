"""Migrations on both databases, settings errors, health."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from openv_app.db import make_sync_engine, normalize_database_url
from openv_app.settings import Settings
from tests.support.databases import downgrade, migrate


def table_names(url: str) -> set[str]:
    engine = make_sync_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_upgrade_downgrade_and_upgrade_again(empty_database_url):
    migrate(empty_database_url)
    assert "videos" in table_names(empty_database_url)
    engine = make_sync_engine(empty_database_url)
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("videos")}
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("videos")}
    engine.dispose()
    assert {"runpod_job_id", "progress", "deleted_at", "next_poll_at", "attempts", "files_removed_at"} <= set(columns)
    assert {"ix_videos_user_created", "ix_videos_status"} <= indexes
    downgrade(empty_database_url)
    assert "videos" not in table_names(empty_database_url)
    migrate(empty_database_url)
    assert "videos" in table_names(empty_database_url)


def test_timestamps_come_back_timezone_aware(engine):
    from sqlmodel import Session, select

    from openv_app.models import Video

    with Session(engine) as session:
        session.add(
            Video(
                user_id="u",
                prompt="p",
                model="m",
                width=1,
                height=1,
                num_frames=1,
                fps=1,
                steps=1,
                guidance_scale=1,
                seed=2**32 - 1,
            )
        )
        session.commit()
    with Session(engine) as session:
        video = session.exec(select(Video)).one()
    assert video.created_at.tzinfo is not None and video.created_at.utcoffset().total_seconds() == 0
    assert video.seed == 2**32 - 1


def test_postgres_urls_use_psycopg3():
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"MAX_CONCURRENT_JOBS": "zero"}, "max_concurrent_jobs"),
        ({"PUBLIC_BASE_URL": "localhost:8000"}, "public_base_url"),
        ({"STORAGE_BACKEND": "s3"}, "storage_backend"),
        ({"REFLEX_ENV_MODE": "prod"}, "WEBHOOK_SECRET"),
        ({"REFLEX_ENV_MODE": "prod", "WEBHOOK_SECRET": "s"}, "CLERK_SECRET_KEY"),
        ({"STORAGE_BACKEND": "supabase"}, "SUPABASE_URL"),
    ],
)
def test_bad_settings_fail_naming_the_variable(monkeypatch, env, variable):
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=variable):
        Settings(_env_file=None)


def test_dev_defaults_and_pem_newlines(monkeypatch):
    monkeypatch.setenv("CLERK_JWT_KEY", "-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----")
    with pytest.raises(ValidationError, match="CLERK_ISSUER"):
        Settings(_env_file=None)
    monkeypatch.setenv("CLERK_ISSUER", "https://clerk.example.com")
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", '["https://openv.example.com"]')
    settings = Settings(_env_file=None)
    assert settings.clerk_jwt_key.count("\n") == 2
    assert not settings.dev_auth
    monkeypatch.delenv("CLERK_JWT_KEY")
    monkeypatch.delenv("CLERK_ISSUER")
    defaults = Settings(_env_file=None)
    assert defaults.dev_auth and defaults.uses_local_runpod and defaults.database_url.startswith("sqlite")
