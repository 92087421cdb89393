#!/usr/bin/env bash
# Runs the app on its embedded defaults: SQLite, local storage, the local RunPod-compatible
# endpoint (tiny engine unless OPENV_WEIGHTS_DIR is set) and the dev sign-in.
# Frontend on http://localhost:3000, backend and API on http://localhost:8000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

echo "==> migrating the database"
alembic upgrade head

start_local_runpod_without_key

# The dev frontend is where "Make your own" on a shared video's page leads.
export APP_URL="${APP_URL:-http://localhost:3000}"

exec_args=(reflex run "$@")
"${exec_args[@]}"
