"""Child processes the tests and benchmarks start, and the app in production mode as `make prod`
runs it (production build, one port)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from openv_app.settings import LOCAL_RUNPOD_API_KEY, PROJECT_ROOT
from tests.support.servers import LocalRunPod, answers, free_port, start_local_runpod

# bun and node from the npm registry (scripts/setup.sh), never a download by Reflex.
REFLEX_ENV = {
    "REFLEX_USE_SYSTEM_BUN": "1",
    "REFLEX_TELEMETRY_ENABLED": "false",
    "REFLEX_CHECK_LATEST_VERSION": "false",
    "PATH": f"{PROJECT_ROOT / '.tools/node_modules/.bin'}:{os.environ['PATH']}",
}
PROD_WORKERS = 2
# What the operator's Prometheus would send (METRICS_TOKEN) to the production app under test.
PROD_METRICS_TOKEN = "e2e-metrics-token-0123456789"
# The production app under test has terms of use, which the dev user accepted before it started
# (the terms test withdraws the acceptance to see the studio ask for it).
PROD_TERMS_VERSION = "e2e-1"
PROD_TERMS_TEXT = "Be kind to each other.\nNo videos of real people without their consent."


def accept_prod_terms(database_url: str) -> None:
    import sqlalchemy as sa

    from openv_app.db import make_sync_engine
    from openv_app.models import terms_acceptances, utcnow
    from openv_app.services.auth import DEV_USER_ID

    engine = make_sync_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.delete(terms_acceptances).where(terms_acceptances.c.user_id == DEV_USER_ID))
        connection.execute(
            sa.insert(terms_acceptances).values(user_id=DEV_USER_ID, version=PROD_TERMS_VERSION, accepted_at=utcnow())
        )
    engine.dispose()


def reflex_prod_command(port: int, backend_only: bool = False) -> list[str]:
    """`reflex run --env prod` on one port (or only its backend)."""
    ports = (
        ["--backend-only", "--backend-port", str(port)]
        if backend_only
        else ["--single-port", "--frontend-port", str(port), "--backend-port", str(port)]
    )
    return [sys.executable, "-m", "reflex", "run", "--env", "prod", *ports]


def start(args: list[str], env: dict[str, str], log: Path, cwd: Path = PROJECT_ROOT) -> subprocess.Popen:
    """A child process in the project root (or `cwd`), in a session of its own, output to `log`."""
    with log.open("w") as output:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's whole group; SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wait_for(
    url: str, process: subprocess.Popen, timeout: float = 180, log: Path | None = None, interval: float = 0.5
) -> None:
    """Until the URL answers 200; an error (with the log's tail) if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = f": {log.read_text()[-3000:]}" if log else ""
            raise RuntimeError(f"{process.args} exited with {process.returncode}{tail}")
        if answers(url):
            return
        time.sleep(interval)
    raise TimeoutError(url)


def project_copy(folder: Path) -> Path:
    """The project's tracked files and its frontend folder (with its installed packages) copied
    to `folder`: an app built there (its pages differ with Clerk configured) leaves the build the
    other tests serve alone."""
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (PROJECT_ROOT / name).is_file():
            shutil.copy2(PROJECT_ROOT / name, target)
    if (PROJECT_ROOT / ".web").is_dir():
        web = PROJECT_ROOT / ".web"

        def earlier_build(directory: str, names: list[str]) -> list[str]:
            return ["build"] if Path(directory) == web else []

        shutil.copytree(web, folder / ".web", symlinks=True, ignore=earlier_build)
    return folder


@contextmanager
def production_app(
    database_url: str,
    secret: str,
    log: Path,
    backend_only: bool = False,
    timeout: float = 600,
    port: int | None = None,
    project_dir: Path = PROJECT_ROOT,
    **env: str,
) -> Iterator[str]:
    """The app as `make prod` runs it, signed in as the dev user, with these environment
    settings on top; yields its URL once it answers, stops it afterwards."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": url,
        "WEBHOOK_SECRET": secret,
        "ALLOW_DEV_AUTH_IN_PROD": "true",
        **env,
        **REFLEX_ENV,
    }
    process = start(reflex_prod_command(port, backend_only), settings, log, cwd=project_dir)
    try:
        wait_for(f"{url}/api/health", process, timeout, log, interval=1)
        if not backend_only:
            wait_for(url, process, timeout, log, interval=1)  # the frontend too
        yield url
    finally:
        stop(process)


@dataclass
class RunningApp:
    url: str
    runpod: LocalRunPod
    storage_dir: Path
    database_url: str
    redis_url: str
    # Prometheus' multiprocess files of the app's workers; the app's output (JSON log lines).
    metrics_dir: Path
    log: Path


@contextmanager
def prod_app_with_local_runpod(folder: Path, database_url: str, redis_url: str) -> Iterator[RunningApp]:
    """The whole app in production mode for browser tests: PostgreSQL, Redis, PROD_WORKERS
    backend workers, and a local RunPod endpoint running the real worker (scripted_handler)."""
    from tests.support.handlers import scripted_handler

    # The app's default local-endpoint key: the app runs as `make run` would, in local mode.
    runpod_server, runpod = start_local_runpod(
        scripted_handler, api_key=LOCAL_RUNPOD_API_KEY, webhook_retry_delay_s=0.5
    )
    metrics_dir, log = folder / "prometheus", folder / "reflex.log"
    terms = folder / "terms.md"
    terms.write_text(PROD_TERMS_TEXT)
    accept_prod_terms(database_url)
    app = production_app(
        database_url,
        "e2e-secret",
        log,
        timeout=400,
        RUNPOD_API_KEY="",
        RUNPOD_BASE_URL=runpod.base_url,
        LOCAL_STORAGE_DIR=str(folder / "storage"),
        # Progress shows through the poller; a finished job reaches the page by webhook or poll.
        POLL_INTERVAL_S="1",
        MAX_CONCURRENT_JOBS="2",
        # High enough never to be hit by chance; the quota test makes the dev user reach it.
        DAILY_GPU_SECONDS="100000",
        REDIS_URL=redis_url,
        BACKEND_WORKERS=str(PROD_WORKERS),
        # As scripts/prod.sh sets them up: an empty folder for the workers' metrics.
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        METRICS_TOKEN=PROD_METRICS_TOKEN,
        LOG_FORMAT="json",
        TERMS_FILE=str(terms),
        TERMS_VERSION=PROD_TERMS_VERSION,
    )
    try:
        with app as url:
            yield RunningApp(url, runpod, folder / "storage", database_url, redis_url, metrics_dir, log)
    finally:
        runpod_server.__exit__()


def backend_workers(port: int) -> list[psutil.Process]:
    """The backend worker processes serving this port: the listeners among the children of
    gunicorn's arbiter (which keeps no listener of its own here). The system-wide list names one
    holder of a socket shared by several processes, so each child is asked itself."""

    def listeners(processes: list[psutil.Process]) -> list[psutil.Process]:
        found = []
        for process in processes:
            try:
                if any(is_listener(connection, port) for connection in process.net_connections("tcp")):
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):  # a worker that died just now
                continue
        return found

    for holder in (c.pid for c in psutil.net_connections("tcp") if c.pid and is_listener(c, port)):
        try:
            process = psutil.Process(holder)
            if workers := listeners(process.children()):  # the holder is the arbiter
                return workers
            parent = process.parent()
            return (listeners(parent.children()) if parent else []) or [process]
        except psutil.NoSuchProcess:
            continue
    return []


def is_listener(connection: Any, port: int) -> bool:
    return bool(connection.laddr) and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN
