#!/usr/bin/env bash
# The test command: installs what it needs, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec "${ZFKERAS_VENV:-.venv}/bin/python" -m pytest -q "$@"
