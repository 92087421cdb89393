#!/usr/bin/env bash
# Runs the app in production mode: the frontend built once and served with the API and the
# websockets on one port, PostgreSQL, Redis, and several backend workers (Reflex starts
# 2 x cores + 1 when Redis answers; GRANIAN_WORKERS=N overrides).
# Needs DATABASE_URL (PostgreSQL) and WEBHOOK_SECRET; REDIS_URL defaults to the local Redis.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL URL (Supabase: the pooler URL)}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
PORT="${PORT:-8000}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://localhost:$PORT}"

echo "==> migrating the database"
alembic upgrade head

start_local_runpod_without_key

reflex run --env prod --single-port --frontend-port "$PORT" --backend-port "$PORT" "$@"
