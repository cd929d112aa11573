#!/usr/bin/env bash
# Creates the venv that benchmarks/lrp_innvestigate.py runs iNNvestigate in.
# iNNvestigate 2.1.2 needs TensorFlow < 2.15 (Keras 2): tensorflow-cpu 2.14.1
# on Python 3.11, in a venv of its own (never a project dependency). It sits at
# the repository root (gitignored) like .xplique-venv: a venv under benchmarks/
# would be scanned by the repository's source checks.
#   bash benchmarks/innvestigate_env.sh       # -> .innvestigate-venv
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${INNVESTIGATE_VENV:-.innvestigate-venv}
PYTHON=${PYTHON311:-python3.11}
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet "tensorflow-cpu==2.14.1" "innvestigate==2.1.2"
"$VENV/bin/python" -c 'import innvestigate, tensorflow as tf; print("innvestigate with TensorFlow", tf.__version__)'
