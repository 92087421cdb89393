#!/usr/bin/env bash
# Runs the lint/format/type gates and the whole test suite. Installs the test dependencies and
# Debian's chromium if missing.
# Extra arguments go to pytest (e.g. scripts/test.sh -k api).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "!! chromium is missing and cannot be installed here: browser tests will be skipped (fail with CI=true)"
  fi
fi

# The backend's processes run on jemalloc where the system has it (openv_app/memory.py); the
# tests check that they do.
if ! ldconfig -p | grep -q libjemalloc.so && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing Debian's libjemalloc2 for the backend's processes"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjemalloc2 >/dev/null
fi

# Gates first (pyproject.toml explains the rule set): lint, formatting, types.
echo "==> ruff check, ruff format --check, mypy"
ruff check .
ruff format --check .
mypy

python -m pytest "$@"
