#!/usr/bin/env bash
# Runs the app in production mode: the frontend built once and served with the API and the
# websockets on one port, PostgreSQL, Redis, and several backend workers (gunicorn with
# uvicorn workers, openv_app/server.py: 2 x cores + 1, at most 8; BACKEND_WORKERS=N overrides).
# Needs DATABASE_URL (PostgreSQL) and WEBHOOK_SECRET; REDIS_URL defaults to the local Redis.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL URL (Supabase: the pooler URL)}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
PORT="${PORT:-8000}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://localhost:$PORT}"

# Prometheus' multiprocess mode (openv_app/metrics.py): every backend worker writes its metrics to
# files here and /metrics merges them. Emptied at each start: the last run's counters would
# otherwise be added to this one's and its processes' gauges reported as live.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$ROOT/.data/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete

echo "==> migrating the database"
alembic upgrade head

start_local_runpod_without_key

reflex run --env prod --single-port --frontend-port "$PORT" --backend-port "$PORT" "$@"
