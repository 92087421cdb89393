"""The app's configuration: read once from the environment (and `.env`) into one object.

A missing or malformed value fails at start-up with pydantic's message, which names the
environment variable. Nothing here is sent to the browser.
"""

from __future__ import annotations

import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openv_app.endpoint_config import ENDPOINT_ID, parse_model_endpoints
from worker.contract import DEFAULT_MODEL, MAX_PROMPT_LENGTH, MODELS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / ".data"

# The local RunPod-compatible endpoint (worker/local_endpoint.py) listens here by default.
LOCAL_RUNPOD_BASE_URL = "http://127.0.0.1:8765/v2"
LOCAL_RUNPOD_ENDPOINT_ID = "local"
LOCAL_RUNPOD_API_KEY = "local-dev-key"

# An origin a page may be framed by: scheme, host (or *.domain) and an optional port.
FRAME_ANCESTOR = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")

# A bearer token shorter than this could be guessed.
MIN_TOKEN_LENGTH = 16


def _dev_secret() -> str:
    """A random secret kept in the project's data folder, so dev webhooks survive restarts."""
    path = DATA_DIR / "dev_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore", case_sensitive=False)

    # Set by `reflex run --env prod`; dev sign-in is refused in prod unless explicitly allowed.
    reflex_env_mode: Literal["dev", "prod"] = "dev"
    app_version: str = "0.1.0"

    database_url: str = f"sqlite:///{DATA_DIR / 'openv.db'}"
    # Connections per app process (PostgreSQL). Supabase's session pooler allows a fixed number
    # of clients per project: keep processes × (pool size + overflow) under it.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=5, ge=0)
    # Connections are replaced after this long instead of being pinged before each use.
    database_pool_recycle_s: int = Field(default=300, ge=10)
    # Where RunPod (or the local endpoint) reaches this app: webhooks and signed storage URLs.
    public_base_url: str = "http://localhost:8000"
    # Where people open the studio (the "Make your own" link of a shared video). Default: the
    # public base URL, as in production; `make run` sets the dev frontend.
    app_url: str | None = None
    webhook_secret: SecretStr | None = None
    # Origins whose pages may call the API and open websockets (CORS), comma-separated.
    # Default: PUBLIC_BASE_URL and the dev frontend.
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # With Redis, Reflex keeps every tab's state there and runs several backend workers.
    redis_url: str | None = None
    # Redis connections each backend worker keeps at most, per client (Reflex's state client and
    # the tab registry); an operation waits for a free one. Uncapped, a burst of tabs opened one
    # per concurrent operation and kept them all (openv_app/memory.py).
    redis_max_connections: int = Field(default=32, ge=3)
    # A tab's state (in Redis, or in the one process without it) is dropped after this long
    # without an event. An open studio tab sends one at least every third of it (pages/index.py),
    # so only closed tabs reach it; Reflex's default is an hour.
    tab_state_ttl_s: int = Field(default=900, ge=120)
    # Origins (comma-separated) whose pages may show the app in a frame (CSP frame-ancestors).
    # Default: none, so no other site can frame the studio and trick a click on Generate or Delete.
    frame_ancestors: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # `/metrics` (Prometheus) answers only `Authorization: Bearer <this>`; unset, it answers 404.
    metrics_token: SecretStr | None = None
    # The app's log lines: plain text, or one JSON object per line (time, level, logger, message,
    # and the video_id and runpod_job_id of a line about a job).
    log_format: Literal["text", "json"] = "text"

    runpod_api_key: SecretStr | None = None
    # Unset RUNPOD_ENDPOINTS: this endpoint serves the default model only (every model with the
    # local endpoint, which runs them all).
    runpod_endpoint_id: str = LOCAL_RUNPOD_ENDPOINT_ID
    # One RunPod endpoint per model (a worker serves one model, OPENV_MODEL): JSON
    # `{"wan2.1-t2v-1.3b": "abc123", ...}` or `wan2.1-t2v-1.3b=abc123,ltx-video-distilled=def456`.
    # Only the models named here are offered. Set, it takes the place of RUNPOD_ENDPOINT_ID.
    runpod_endpoints: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    runpod_base_url: str = LOCAL_RUNPOD_BASE_URL
    runpod_execution_timeout_s: int = Field(default=600, gt=0)
    # A job's whole life on RunPod (queue + run). Unset: as long as its upload URLs last (two
    # hours with Supabase), minus a minute; longer is refused (the job would run on the GPU and
    # then fail to upload).
    runpod_job_ttl_s: int | None = Field(default=None, gt=0)
    # Each job in flight is asked about (`/status`) this often while nothing else tells the app
    # about it, and every poll_interval_with_reports_s while its worker reports progress itself.
    poll_interval_s: float = Field(default=5.0, gt=0)
    poll_interval_with_reports_s: float = Field(default=30.0, gt=0)
    # /status calls per second for the whole app, all processes together (RunPod allows 2,000 per
    # 10 s per endpoint): with more jobs in flight than this × the interval, each is polled less often.
    runpod_status_rate_per_s: float = Field(default=150.0, gt=0)
    # Backend worker processes on this host (openv_app/server.py): each process's poller takes an
    # equal share of the /status rate. Unset: see `worker_count`.
    backend_workers: int | None = Field(default=None, ge=1)
    # The poller asks RunPod about this many jobs at once per process, each within poll_call_timeout_s.
    poll_concurrency: int = Field(default=16, ge=1)
    poll_call_timeout_s: float = Field(default=10.0, gt=0)
    # A job that times out on RunPod or whose worker dies is queued again this many times.
    auto_retries: int = Field(default=2, ge=0, le=5)
    # How often stored files that belong to no live video are looked for and removed; with
    # the dry run on, they are only counted in the log.
    orphan_sweep_interval_s: float = Field(default=3600.0, gt=0)
    orphan_sweep_dry_run: bool = False

    storage_backend: Literal["local", "supabase"] = "local"
    local_storage_dir: Path = DATA_DIR / "storage"
    signed_url_ttl_s: int = Field(default=3600, gt=0)
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    supabase_bucket: str = "videos"

    clerk_secret_key: SecretStr | None = None
    clerk_publishable_key: str | None = None
    clerk_jwt_key: str | None = None
    # The Frontend API URL, the tokens' `iss` (e.g. https://clerk.example.com).
    clerk_issuer: str | None = None
    clerk_authorized_parties: list[str] = Field(default_factory=list)
    allow_dev_auth_in_prod: bool = False

    max_concurrent_jobs: int = Field(default=3, ge=1)
    daily_quota: int = Field(default=50, ge=1)
    # GPU seconds (RunPod's executionTime) a user may use in 24 hours; unset: no such limit.
    daily_gpu_seconds: int | None = Field(default=None, ge=1)
    max_prompt_length: int = Field(default=1000, ge=1, le=MAX_PROMPT_LENGTH)
    # GPU seconds a user may use in a calendar month (UTC); unset: no such limit. An admin can
    # override this and the three limits above per user.
    monthly_gpu_seconds: int | None = Field(default=None, ge=1)

    # Who may generate (with Clerk; the dev sign-in's one user is an admin). open: every
    # signed-in user; invite-only: new users are restricted until they redeem a voucher;
    # allowlist: new users whose verified e-mail is in ACCESS_ALLOWLIST, others restricted.
    access_policy: Literal["open", "invite-only", "allowlist"] = "open"
    # Comma-separated addresses (ann@example.com) and domains (example.com).
    access_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Clerk's Backend API, asked for a new user's verified e-mail. Unset: the SDK's default.
    clerk_api_url: str | None = None
    # The operator's terms (a plain-text or Markdown file) and their version: users accept the
    # current version before their first video, and again whenever the version changes.
    terms_file: Path | None = None
    terms_version: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("public_base_url", "runpod_base_url", "app_url", "clerk_api_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("runpod_endpoint_id")
    @classmethod
    def _endpoint_id(cls, value: str) -> str:
        if not ENDPOINT_ID.fullmatch(value):
            raise ValueError(
                f"RUNPOD_ENDPOINT_ID {value[:80]!r} is not a RunPod endpoint id (letters, digits, - and _)"
            )
        return value

    @field_validator("runpod_endpoints", mode="before")
    @classmethod
    def _model_endpoints(cls, value: str | dict[str, str]) -> dict[str, str]:
        return parse_model_endpoints(value)

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: str | list[str]) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        return [item.strip().rstrip("/") for item in items if item.strip()]

    @field_validator("access_allowlist", mode="before")
    @classmethod
    def _addresses_and_domains(cls, value: str | list[str]) -> list[str]:
        return [entry.lower().removeprefix("@") for entry in cls._comma_separated(value)]

    @field_validator("frame_ancestors", mode="before")
    @classmethod
    def _frame_ancestor_origins(cls, value: str | list[str]) -> list[str]:
        # Each one lands in a header: only an origin (a `*.` subdomain wildcard allowed) or
        # 'self', never text that could end the directive or add another.
        origins = cls._comma_separated(value)
        for origin in origins:
            if not (origin == "'self'" or FRAME_ANCESTOR.fullmatch(origin)):
                raise ValueError(f"{origin!r} is not an http(s) origin such as https://example.com")
        return origins

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters (a long random string)")
        return value

    @field_validator("clerk_jwt_key")
    @classmethod
    def _real_newlines(cls, value: str | None) -> str | None:
        # A PEM key pasted into .env usually carries literal "\n" sequences.
        return value.replace("\\n", "\n") if value else value

    @model_validator(mode="after")
    def _check_production_requirements(self) -> Settings:
        if self.reflex_env_mode == "prod" and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required when the app runs in production mode")
        if self.reflex_env_mode == "prod" and self.dev_auth and not self.allow_dev_auth_in_prod:
            raise ValueError(
                "CLERK_SECRET_KEY (or CLERK_JWT_KEY) is required in production mode; "
                "set ALLOW_DEV_AUTH_IN_PROD=true to run the single-user dev sign-in anyway"
            )
        if not self.dev_auth and not (self.clerk_issuer and self.clerk_authorized_parties):
            raise ValueError("CLERK_ISSUER and CLERK_AUTHORIZED_PARTIES are required when Clerk is configured")
        if self.access_policy == "allowlist" and not self.access_allowlist:
            raise ValueError("ACCESS_ALLOWLIST (addresses or domains) is required for ACCESS_POLICY=allowlist")
        if self.access_policy == "allowlist" and not self.dev_auth and self.clerk_secret_key is None:
            raise ValueError("CLERK_SECRET_KEY is required for ACCESS_POLICY=allowlist (to read verified e-mails)")
        if (self.terms_file is None) != (self.terms_version is None):
            raise ValueError("TERMS_FILE and TERMS_VERSION go together: set both or neither")
        if self.terms_file is not None and not self.terms_file.is_file():
            raise ValueError(f"TERMS_FILE {self.terms_file} is not a readable file")
        if (self.backend_workers or 1) > 1 and self.redis_url is None:
            raise ValueError("BACKEND_WORKERS above 1 needs REDIS_URL: without Redis a tab's state is in one process")
        if self.storage_backend == "supabase" and not (self.supabase_url and self.supabase_service_role_key):
            raise ValueError("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are required for STORAGE_BACKEND=supabase")
        return self

    @property
    def dev_auth(self) -> bool:
        """Single-user dev sign-in: only when no Clerk keys are configured."""
        return self.clerk_secret_key is None and self.clerk_jwt_key is None

    @property
    def worker_count(self) -> int:
        """BACKEND_WORKERS, else Reflex's rule: 2 x cores + 1 (at most 8) with Redis, one without."""
        if self.backend_workers:
            return self.backend_workers
        return min(2 * (os.cpu_count() or 1) + 1, 8) if self.redis_url else 1

    @property
    def allowed_origins(self) -> list[str]:
        """Another site cannot make a visitor's browser submit jobs: only these origins may."""
        return self.cors_allowed_origins or [self.public_base_url, "http://localhost:3000", "http://127.0.0.1:3000"]

    @property
    def studio_url(self) -> str:
        return self.app_url or self.public_base_url

    @property
    def model_endpoints(self) -> dict[str, str]:
        """Model id -> the RunPod endpoint id serving it, for the models this instance offers
        (in the registry's order, so the first is the form's default)."""
        if self.runpod_endpoints:
            return {model: self.runpod_endpoints[model] for model in MODELS if model in self.runpod_endpoints}
        if self.uses_local_runpod:  # the local endpoint runs every model
            return dict.fromkeys(MODELS, self.runpod_endpoint_id)
        return {DEFAULT_MODEL: self.runpod_endpoint_id}

    @property
    def uses_local_runpod(self) -> bool:
        return self.runpod_api_key is None

    @property
    def runpod_key(self) -> str:
        if self.runpod_api_key is None:
            return LOCAL_RUNPOD_API_KEY
        return self.runpod_api_key.get_secret_value()

    @property
    def secret(self) -> str:
        """Server secret for webhook tokens and local signed URLs."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        return _dev_secret()


@lru_cache
def get_settings() -> Settings:
    return Settings()
