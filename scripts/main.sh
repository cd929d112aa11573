#!/usr/bin/env bash
# The main job: installs what it needs, trains zfnet_small on Fashion-MNIST
# with the paper's recipe, evaluates it and prints where the run folder and
# the TensorBoard logs are. Rerunning resumes an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec "${ZFKERAS_VENV:-.venv}/bin/zfkeras" train "$@"
