#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv in .venv and install zfkeras with
# everything the tests and the main job need. Idempotent: a second run only
# checks. Set ZFKERAS_TF=gpu to install tensorflow[and-cuda] instead of
# tensorflow-cpu, and ZFKERAS_VENV to put the venv elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ZFKERAS_VENV:-.venv}
FLAVOUR=${ZFKERAS_TF:-cpu}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.zfkeras-installed-$FLAVOUR-$(cat setup.cfg | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  echo "[bootstrap] installing zfkeras[$FLAVOUR,test] into $VENV (about 1-2 minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$FLAVOUR,test]"
  touch "$stamp"
fi

# The embedded default dataset: Fashion-MNIST from Debian's package.
if [ "${ZFKERAS_SKIP_APT:-0}" != 1 ] && [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "[bootstrap] installing Debian package dataset-fashion-mnist"
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null || \
      echo "[bootstrap] could not install dataset-fashion-mnist; run: sudo apt-get install dataset-fashion-mnist" >&2
  else
    echo "[bootstrap] no apt-get: put the four Fashion-MNIST .gz files in /usr/share/datasets/fashion-mnist/ or ~/.keras/datasets/fashion-mnist/" >&2
  fi
fi
