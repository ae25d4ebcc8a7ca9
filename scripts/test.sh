#!/usr/bin/env bash
# Install everything the tests need into .venv and run them (lint first, then pytest).
# Usage: scripts/test.sh [pytest arguments], e.g. scripts/test.sh -m "not browser" -x
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
quiet_pip() {  # pip, without this machine's notes about absent local package mirrors
    .venv/bin/python -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
}
quiet_pip install --quiet --upgrade pip
echo "Installing coding-pipeline with the local Label Studio server, Dask and test tools..."
quiet_pip install --quiet -e ".[server,test,cluster]"

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "Installing Debian's chromium for the browser tests..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
            >/dev/null) || echo "warning: chromium could not be installed; browser tests will skip"
    else
        echo "note: install Debian's chromium (apt-get install chromium) to run the browser tests"
    fi
fi

# The lab-server tests run a real PostgreSQL (Debian's binaries, started in a temporary folder).
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "Installing Debian's postgresql for the lab-server tests..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends postgresql >/dev/null) \
            || echo "warning: postgresql could not be installed; PostgreSQL tests will skip"
    else
        echo "note: install Debian's postgresql (apt-get install postgresql) to run its tests"
    fi
fi

echo "Lint: ruff, and the import layers (pyproject.toml [tool.importlinter])"
.venv/bin/ruff check coding_pipeline tests scripts
.venv/bin/lint-imports
echo "Tests: pytest"
exec .venv/bin/python -m pytest "$@"
