#!/usr/bin/env bash
# Sets up everything the app needs on a fresh machine; sourced by run.sh and test.sh.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false REFLEX_USE_SYSTEM_BUN=1
export PATH="$ROOT/.tools/node_modules/.bin:$ROOT/.venv/bin:$PATH"
# Python's objects in glibc's heap, not in pymalloc's arenas, so the memory of closed tabs can go
# back to the system (openv_app/memory.py).
export PYTHONMALLOC="${PYTHONMALLOC:-malloc}"

# Python virtualenv with the pinned dependencies (re-installed when requirements.txt changes).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.requirements.sha256"
if ! sha256sum -c --status "$stamp" 2>/dev/null; then
  echo "==> installing Python dependencies"
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  sha256sum requirements.txt > "$stamp"
fi

# Reflex would download bun from the internet: take it (and node 22) from the npm registry.
if [ ! -x .tools/node_modules/.bin/bun ] || [ ! -x .tools/node_modules/.bin/node ]; then
  echo "==> installing bun 1.4.4 and node 22 into .tools/"
  mkdir -p .tools
  (cd .tools && npm install --silent --no-audit --no-fund --no-save bun@1.4.4 node@22 >/dev/null)
fi

# Without a RunPod key the app talks to the local RunPod-compatible endpoint: start it (and
# stop it when the calling script exits).
start_local_runpod_without_key() {
  if [ -z "${RUNPOD_API_KEY:-}" ] && ! grep -qs '^RUNPOD_API_KEY=.' .env; then
    echo "==> no RUNPOD_API_KEY: starting the local RunPod-compatible endpoint on 127.0.0.1:8765"
    python -m worker.local_endpoint &
    endpoint_pid=$!
    trap 'kill $endpoint_pid 2>/dev/null || true' EXIT
  fi
}
