#!/usr/bin/env bash
# Issue 16, part 6: what each of the model's newer ingredients adds. For each variant
# of configs/tiny.toml, pretrain on data/*.csv (the four bundled series' training
# parts) and score the model with `candlecast evaluate --horizon 24` on the same
# files' test parts (last 20%, never trained on). Writes OUT/table.md: one-step and
# 24-step geometric-mean CRPS relative to `rw-const`, per variant.
#
#   bash bench/ablation.sh [OUT]        (default: target/ablation)
#
# Variants (VARIANTS="..." picks some): default (reverting scale with its shock cap,
# calendar, volume input, HL-Gauss targets: configs/tiny.toml as shipped); seed (plain
# EWMA, no inputs, one-hot targets: the model before issue 16); no_inputs (neither
# input); ewma_scale (the plain EWMA scale, inputs on); no_cap (reverting without
# the shock cap); no_calendar; no_volume; one_hot (plain cross-entropy targets,
# target_smoothing off: the default before issue 16's optional lever); regime (the
# two volatility-regime inputs on, regime_input_bins = 8; not in the default list,
# VARIANTS="default regime"); range (the range-based scale, range_weight = 0.5; not
# in the default list either). Env: CANDLECAST (binary), BASE (the config the variants edit, default
# configs/tiny.toml), SAMPLES (paths per origin for the 24-step scores, default 50),
# MAX_ORIGINS (24-step origins per series, default 150), CANDLE_NUM_THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/ablation}
SAMPLES=${SAMPLES:-50}
MAX_ORIGINS=${MAX_ORIGINS:-150}
BASE=${BASE:-configs/tiny.toml}
export CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"
CAL='s/^calendar = true/calendar = false/'
VOL='s/^volume_input_bins = 8/volume_input_bins = 0/'
EWMA='s/^scale = "reverting"/scale = "ewma"/'
NOCAP='s/^shock_cap = 4.0/shock_cap = 0.0/'
ONEHOT='/^target_smoothing = /d'
REGIME='s/^regime_input_bins = 0/regime_input_bins = 8/'
RANGE='s/^range_weight = 0.0/range_weight = 0.5/'
declare -A EDIT=(
  [default]=''
  [no_calendar]="$CAL"
  [no_volume]="$VOL"
  [no_inputs]="$CAL; $VOL"
  [ewma_scale]="$EWMA"
  [no_cap]="$NOCAP"
  [seed]="$CAL; $VOL; $EWMA; $ONEHOT"
  [one_hot]="$ONEHOT"
  [regime]="$REGIME"
  [range]="$RANGE"
)
VARIANTS=${VARIANTS:-default seed no_inputs ewma_scale no_cap no_calendar no_volume one_hot}
for v in $VARIANTS; do
  sed -e "${EDIT[$v]:-}" "$BASE" > "$OUT/$v.toml"
  if [ -n "${EDIT[$v]}" ] && cmp -s "$BASE" "$OUT/$v.toml"; then
    echo "variant $v changed nothing in $BASE: its edit is out of date" >&2
    exit 1
  fi
  if [ ! -f "$OUT/run_$v/model.safetensors" ]; then
    echo "== $v: pretrain"
    "$CANDLECAST" train --config "$OUT/$v.toml" --data data/*.csv --out "$OUT/run_$v" --force > "$OUT/train_$v.log" 2>&1
    tail -n 1 "$OUT/train_$v.log"
  fi
  if [ ! -f "$OUT/eval_$v/scorecard.json" ]; then
    echo "== $v: evaluate"
    "$CANDLECAST" evaluate --model "$OUT/run_$v" --input data/*.csv --horizon 24 \
      --samples "$SAMPLES" --max-origins "$MAX_ORIGINS" --out "$OUT/eval_$v" --force > "$OUT/eval_$v.log" 2>&1
  fi
done
python3 bench/ablation_table.py "$OUT" $VARIANTS > "$OUT/table.md"
cat "$OUT/table.md"
