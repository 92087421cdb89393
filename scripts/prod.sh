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

if [ -z "${RUNPOD_API_KEY:-}" ] && ! grep -qs '^RUNPOD_API_KEY=.' .env; then
  echo "==> no RUNPOD_API_KEY: starting the local RunPod-compatible endpoint on 127.0.0.1:8765"
  python -m worker.local_endpoint &
  endpoint_pid=$!
  trap 'kill $endpoint_pid 2>/dev/null || true' EXIT
fi

reflex run --env prod --single-port --frontend-port "$PORT" --backend-port "$PORT" "$@"
