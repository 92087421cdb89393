#!/usr/bin/env bash
# Runs the app on its embedded defaults: SQLite, local storage, the local RunPod-compatible
# endpoint (tiny engine unless OPENV_WEIGHTS_DIR is set) and the dev sign-in.
# Frontend on http://localhost:3000, backend and API on http://localhost:8000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

echo "==> migrating the database"
alembic upgrade head

if [ -z "${RUNPOD_API_KEY:-}" ] && ! grep -qs '^RUNPOD_API_KEY=.' .env; then
  echo "==> no RUNPOD_API_KEY: starting the local RunPod-compatible endpoint on 127.0.0.1:8765"
  python -m worker.local_endpoint &
  endpoint_pid=$!
  trap 'kill $endpoint_pid 2>/dev/null || true' EXIT
fi

exec_args=(reflex run "$@")
"${exec_args[@]}"
