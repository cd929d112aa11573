#!/usr/bin/env bash
# Creates the venv that benchmarks/occlusion.py compares against Xplique in.
# Xplique 2.0.2 pins tensorflow[and-cuda] <= 2.20, which would pull CUDA
# wheels and downgrade TensorFlow: it is installed here without its pins,
# in a venv of its own whose .pth file adds this project's .venv
# site-packages (TensorFlow 2.21 / Keras 3.15 and numpy stay untouched).
#   bash benchmarks/xplique_env.sh            # -> .xplique-venv
#   .xplique-venv/bin/python -m benchmarks.occlusion --repeats 2
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${XPLIQUE_VENV:-.xplique-venv}
bash scripts/bootstrap.sh
python3 -m venv "$VENV"
main_site=$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')
own_site=$("$VENV/bin/python" -c 'import site; print(site.getsitepackages()[0])')
# addsitedir (not a bare path): the .pth hooks of .venv (the editable
# zfkeras install, which maps zfkeras.analysis, and a worktree's link to
# the main venv) run too.
echo "import site; site.addsitedir('$(cd "$main_site" && pwd)')" > "$own_site/zfkeras-main-venv.pth"
"$VENV/bin/pip" install --quiet --no-deps xplique==2.0.2 tensorflow-probability tf-keras dm-tree \
  cloudpickle gast decorator deprecated wrapt opencv-python-headless
"$VENV/bin/python" -c 'import xplique, tensorflow as tf; print("xplique", xplique.__version__, "with TensorFlow", tf.__version__)'
