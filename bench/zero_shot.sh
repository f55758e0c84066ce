#!/usr/bin/env bash
# Issue 17, must-show 1: the shipped base model with no fine-tuning, scored by
# `candlecast evaluate` on every file of ../shared/data that is not bundled in data/
# (the base model pretrained on those four). Writes OUT/eval_*/ and OUT/table.md.
#
#   bash bench/zero_shot.sh [OUT]        (default: target/zero_shot)
#
# Env: CANDLECAST (binary; default: build it), MODEL (default: base, the shipped
#      model; or a run folder), EVALUATE_FLAGS (e.g. "--horizon 24 --samples 50
#      --max-origins 200"), CANDLE_NUM_THREADS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/zero_shot}
MODEL=${MODEL:-base}
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
  if [ -f "data/$f.csv" ]; then continue; fi
  echo "== evaluate $f (model: $MODEL)"
  "$CANDLECAST" evaluate --model "$MODEL" --input "$path" --out "$OUT/eval_$f" --force ${EVALUATE_FLAGS:-} > "$OUT/eval_$f.log" 2>&1
done
python3 bench/file_scores.py "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
