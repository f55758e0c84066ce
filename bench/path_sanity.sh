#!/usr/bin/env bash
# Issue 16, must-show 3: paths stay sane far beyond the scored horizon. For every file
# of ../shared/data, SAMPLES paths x HORIZON bars from the end of the file with the
# model bench/pretrain_finetune.sh fine-tuned on it; bench/path_sanity.py then checks
# that no bar is non-finite and that the 99.9th percentile of |ln(C_H / C_0)| stays
# below 10 x the series' per-bar volatility x sqrt(H). Writes OUT/table.md.
#
#   bash bench/path_sanity.sh [MODELS] [OUT]
#        (defaults: target/pretrain_finetune, target/path_sanity)
#
# Env: CANDLECAST (binary; default: build it), SAMPLES (1000), HORIZON (500),
#      CANDLE_NUM_THREADS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${1:-target/pretrain_finetune}
OUT=${2:-target/path_sanity}
SAMPLES=${SAMPLES:-1000}
HORIZON=${HORIZON:-500}
DATA=../shared/data
export CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"
for path in "$DATA"/*.csv; do
  f=$(basename "$path" .csv)
  model="$MODELS/ft_$f"
  if [ ! -f "$model/model.safetensors" ]; then
    echo "== $f: no model at $model (run bench/pretrain_finetune.sh first)" >&2
    exit 1
  fi
  if [ ! -f "$OUT/$f.paths.csv" ]; then
    echo "== $f: $SAMPLES paths x $HORIZON bars"
    # A failed rollout (non-finite scale or price) is a result, not a script error.
    if ! "$CANDLECAST" forecast --model "$model" --input "$path" --horizon "$HORIZON" \
        --samples "$SAMPLES" --paths --seed 7 --out "$OUT/$f.csv" --force > "$OUT/$f.log" 2>&1; then
      echo "   forecast failed: $(tail -n 1 "$OUT/$f.log" | cut -c1-200)"
    fi
  fi
done
python3 bench/path_sanity.py "$DATA" "$OUT" "$HORIZON" > "$OUT/table.md"
cat "$OUT/table.md"
