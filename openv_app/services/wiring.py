"""Builds the app's services from settings, once per process."""

from __future__ import annotations

from functools import lru_cache

from openv_app.db import Database, get_engine
from openv_app.services.endpoints import Endpoints
from openv_app.services.jobs import JobService
from openv_app.services.storage import LocalStorage, Storage
from openv_app.settings import Settings, get_settings


def build_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "supabase":
        from openv_app.services.supabase_storage import SupabaseStorage

        return SupabaseStorage.from_settings(settings)
    return LocalStorage(
        root=settings.local_storage_dir,
        base_url=settings.public_base_url,
        secret=settings.secret,
        ttl_s=settings.signed_url_ttl_s,
    )


def build_endpoints(settings: Settings) -> Endpoints:
    """One RunPod client per endpoint, each serving its models (RUNPOD_ENDPOINTS)."""
    return Endpoints.from_settings(settings)


@lru_cache
def get_job_service() -> JobService:
    settings = get_settings()
    return JobService(
        settings=settings,
        db=Database(get_engine()),
        endpoints=build_endpoints(settings),
        storage=build_storage(settings),
    )
