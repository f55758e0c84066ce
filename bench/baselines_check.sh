#!/usr/bin/env bash
# Checks candlecast's one-step baselines against bench/baselines_ref.py (numpy,
# scipy; `arch` for an unrestricted GARCH shown beside) on every file of
# ../shared/data: CRPS within 1e-6 relative for rw-const, rw-ewma, fhs, fhs-range,
# har and fhs-seasonal, within 1e-5 for the variance-targeted GARCH(1,1) (two
# optimisers of one likelihood).
# Creates the Python venv bench/.venv-ref on first use. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
venv=bench/.venv-ref
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import arch, scipy, pandas" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q arch pandas numpy scipy
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$venv/bin/python" bench/baselines_ref.py ../shared/data/*.csv > "$out/ref.json"
CANDLECAST_BASELINES_REF="$out/ref.json" cargo test --release -p candlecast-forecast --test reference -- --ignored --nocapture
