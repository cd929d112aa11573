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
stamp="$VENV/.zfkeras-installed-$FLAVOUR-$(cat setup.cfg setup.py | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  echo "[bootstrap] installing zfkeras[$FLAVOUR,test] into $VENV (about 1-2 minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$FLAVOUR,test]"
  touch "$stamp"
fi

# Debian packages: the embedded default dataset (Fashion-MNIST) and the
# browser the report's tests open pages in. apt runs only when one is missing.
apt_install() {  # apt_install PACKAGE TEST_PATH WHY
  local package=$1 test_path=$2 why=$3
  [ "${ZFKERAS_SKIP_APT:-0}" != 1 ] || return 0
  [ -e "$test_path" ] && return 0
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "[bootstrap] installing Debian package $package ($why)"
    [ -n "${APT_UPDATED:-}" ] || { $sudo apt-get update -qq || true; APT_UPDATED=1; }
    $sudo apt-get install -y -qq "$package" >/dev/null || \
      echo "[bootstrap] could not install $package; run: sudo apt-get install $package" >&2
  else
    echo "[bootstrap] no apt-get: install $package yourself ($why)" >&2
  fi
}
apt_install dataset-fashion-mnist /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz "the default dataset"
apt_install chromium /usr/bin/chromium "headless browser for the report tests"
