#!/usr/bin/env bash
# Issue 17, must-show 3: what synthetic data buys. Pretrains configs/base.toml's
# model three ways at equal tokens (the same steps x batch x seq_len, early stopping
# off, best-validation weights kept): on the bundled files only ("real"), on the
# synthetic corpus only ("synthetic"), and on both ("both", the shipped recipe). Each
# is scored zero-shot on the seven files of ../shared/data that are not bundled, and
# fine-tuned on each of them (the config's [finetune]) and scored again, one step ahead.
# Writes OUT/{real,synthetic,both}/..., OUT/table.md.
#
#   bash bench/corpus_ablation.sh [OUT]      (default: target/corpus_ablation)
#
# Env: CANDLECAST (binary; default: build it), STEPS (pretraining steps; default the
#      config's), PRE_THREADS (default 2) and THREADS (default 1): CANDLE_NUM_THREADS
#      of the pretraining and of the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/corpus_ablation}
DATA=../shared/data
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"
# The config without early stopping (equal tokens), and a copy without [synthetic].
sed -e 's/^patience = [0-9]*/patience = 0/' configs/base.toml > "$OUT/both.toml"
if [ -n "${STEPS:-}" ]; then
  sed -i "0,/^steps = [0-9]*/s//steps = $STEPS/" "$OUT/both.toml"
fi
awk '/^\[synthetic\]/{exit} {print}' "$OUT/both.toml" > "$OUT/real.toml"
targets=()
for path in "$DATA"/*.csv; do
  f=$(basename "$path" .csv)
  [ -f "data/$f.csv" ] || targets+=("$f")
done
for v in real synthetic both; do
  case $v in
    real) cfg=$OUT/real.toml; data=(--data data) ;;
    synthetic) cfg=$OUT/both.toml; data=() ;;
    both) cfg=$OUT/both.toml; data=(--data data) ;;
  esac
  mkdir -p "$OUT/$v/zero" "$OUT/$v/ft"
  if [ ! -f "$OUT/$v/pre/model.safetensors" ]; then
    echo "== pretrain $v"
    CANDLE_NUM_THREADS=${PRE_THREADS:-2} "$CANDLECAST" train --config "$cfg" "${data[@]}" --out "$OUT/$v/pre" --force --json > "$OUT/$v/pre.json"
  fi
  export CANDLE_NUM_THREADS=${THREADS:-1}
  for f in "${targets[@]}"; do
    echo "== $v: $f"
    [ -f "$OUT/$v/zero/eval_$f/scorecard.json" ] || \
      "$CANDLECAST" evaluate --model "$OUT/$v/pre" --input "$DATA/$f.csv" --out "$OUT/$v/zero/eval_$f" --force > /dev/null 2>&1
    if [ ! -f "$OUT/$v/ft/eval_$f/scorecard.json" ]; then
      "$CANDLECAST" train --config "$cfg" --init "$OUT/$v/pre" --data "$DATA/$f.csv" --out "$OUT/$v/ft/run_$f" --force > /dev/null 2>&1
      "$CANDLECAST" evaluate --model "$OUT/$v/ft/run_$f" --input "$DATA/$f.csv" --out "$OUT/$v/ft/eval_$f" --force > /dev/null 2>&1
    fi
  done
  unset CANDLE_NUM_THREADS
done
python3 bench/file_scores.py "$OUT"/{real,synthetic,both}/{zero,ft} > "$OUT/table.md"
grep -E "^###|^gpt below|^geometric" "$OUT/table.md"
