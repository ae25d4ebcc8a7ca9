#!/usr/bin/env bash
# The whole pipeline end to end on generated sample sessions, with a private local Label Studio.
# Usage: scripts/demo.sh [STUDY_FOLDER]        (default: ./demo-study)
# Stop the server afterwards with: .venv/bin/coding-pipeline server stop demo-study
set -euo pipefail
STUDY="$(realpath -m "${1:-demo-study}")"
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
echo "Installing coding-pipeline with the local Label Studio server (a minute the first time)..."
quiet_pip() {  # pip, without this machine's notes about absent local package mirrors
    .venv/bin/python -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
}
quiet_pip install --quiet --upgrade pip
quiet_pip install --quiet -e ".[server]"
exec .venv/bin/coding-pipeline demo "$STUDY"
