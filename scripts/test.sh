#!/usr/bin/env bash
# The test command: installs what it needs, then runs the whole suite on
# ZFKERAS_TEST_WORKERS pytest-xdist workers (default 2), each test file on one
# worker (--dist loadfile: a module's fixtures are built once). Extra arguments
# go to pytest; `-n 0` or `-p no:xdist` among them runs the suite serially.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
parallel=(-n "${ZFKERAS_TEST_WORKERS:-2}" --dist loadfile)
for arg in "$@"; do
  case "$arg" in
    -n|-n*|--numprocesses|--numprocesses=*|no:xdist|-pno:xdist) parallel=() ;;
  esac
done
exec "${ZFKERAS_VENV:-.venv}/bin/python" -m pytest -q ${parallel[@]+"${parallel[@]}"} "$@"
