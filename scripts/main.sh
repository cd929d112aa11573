#!/usr/bin/env bash
# The main job: installs what it needs, trains zfnet_small on Fashion-MNIST
# with the paper's recipe, evaluates it, writes the run's HTML report (the
# paper's figures and tables) and prints where the run folder, the
# TensorBoard logs and the report are. Rerunning resumes an interrupted run
# and reuses the report sections already computed.
# Extra arguments go to `zfkeras train` (e.g. --epochs 3, --run-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
VENV="${ZFKERAS_VENV:-.venv}"

case " $* " in
  *" -h "*|*" --help "*) exec "$VENV/bin/zfkeras" train "$@" ;;
esac

# Each step's wall time, printed together at the end.
TIMES=()
step() { printf '\n== %s  [%s UTC] ==\n' "$1" "$(date -u +%H:%M:%S)"; }
timed() {  # timed NAME COMMAND...: runs the command and records its wall time
  local name=$1 start=$SECONDS; shift
  "$@"
  TIMES+=("$(printf '%-8s %3dm %02ds' "$name" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)))")
}
JOB_START=$SECONDS

step "train (zfkeras train $*)"
timed train "$VENV/bin/zfkeras" train "$@"

# The run folder the trainer used, resolved from the same arguments
# (no TensorFlow import: instant).
RUN_DIR="$("$VENV/bin/python" -c '
import sys
from zfkeras.train.cli import build_parser, config_from_args
print(config_from_args(build_parser().parse_args(sys.argv[1:])).run_dir)
' "$@")"

step "report (zfkeras report $RUN_DIR)"
timed report "$VENV/bin/zfkeras" report "$RUN_DIR"
step "export (zfkeras export $RUN_DIR $RUN_DIR/export)"
timed export "$VENV/bin/zfkeras" export "$RUN_DIR" "$RUN_DIR/export"

step "done"
echo "Time per step (this machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), \
AVX-512 $(grep -q avx512f /proc/cpuinfo 2>/dev/null && echo yes || echo no)):"
for line in "${TIMES[@]}"; do echo "  $line"; done
printf '  %-8s %3dm %02ds\n' total $(((SECONDS - JOB_START) / 60)) $(((SECONDS - JOB_START) % 60))
echo "Run folder: $(cd "$RUN_DIR" && pwd)"
echo "Report:     $(cd "$RUN_DIR" && pwd)/report/index.html"
