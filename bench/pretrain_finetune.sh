#!/usr/bin/env bash
# Issue 6, must-show 2 / issue 9, must-show 2-3: for every file of ../shared/data, a
# model pretrained on the *other* asset classes (so no pretraining series shares the
# target's market or test period) and fine-tuned on the target's train part, then
# `candlecast evaluate` on the target. Writes OUT/table.md.
#
#   bash bench/pretrain_finetune.sh [OUT]          (default: target/pretrain_finetune)
#
# Env: CANDLECAST (binary; default: build it), CONFIG (default configs/tiny.toml),
#      CANDLE_NUM_THREADS (default 1: leaves a core for the rest of the machine),
#      INIT (issue 17: fine-tune every file from this run instead, e.g. INIT=base for
#      the shipped base model; no per-class pretraining then).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/pretrain_finetune}
CONFIG=${CONFIG:-configs/tiny.toml}
DATA=../shared/data
export CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"

# Asset classes: a target's model never pretrains on its own class.
declare -A CLASS=(
  [eurusd_1h_ask_gymanytrading]=fx [eurusd_1h_backtesting]=fx [eurusd_1m_histdata_2017h1]=fx
  [btcusd_1h_coinbase_cdd]=crypto [btcusd_1mo_backtesting]=crypto [panel_btcpairs_5m_freqtrade]=crypto
  [spx_1d_arch]=us_equity [aapl_1d_mplfinance]=us_equity [goog_1d_backtesting]=us_equity
  [panel_us_equities_1d_backtrader]=us_equity
  [sh600977_5m_kronos]=cn_equity
)
# mplfinance's file is month-first (see MANIFEST.md); the normalised copy is ISO,
# so no flags are needed here.
for c in fx crypto us_equity cn_equity; do
  if [ -n "${INIT:-}" ] || [ -f "$OUT/pre_$c/model.safetensors" ]; then continue; fi
  files=()
  for f in "${!CLASS[@]}"; do
    [ "${CLASS[$f]}" != "$c" ] && files+=("$DATA/$f.csv")
  done
  IFS=$'\n' files=($(sort <<<"${files[*]}")); unset IFS
  echo "== pretrain without $c: ${#files[@]} files"
  "$CANDLECAST" train --config "$CONFIG" --data "${files[@]}" --out "$OUT/pre_$c" --force > "$OUT/pre_$c.log" 2>&1
  tail -n 2 "$OUT/pre_$c.log"
done
for f in $(printf '%s\n' "${!CLASS[@]}" | sort); do
  c=${CLASS[$f]}
  if [ ! -f "$OUT/ft_$f/model.safetensors" ]; then
    init=${INIT:-$OUT/pre_$c}
    echo "== fine-tune $f from $init"
    "$CANDLECAST" train --config "$CONFIG" --init "$init" --data "$DATA/$f.csv" --out "$OUT/ft_$f" --force > "$OUT/ft_$f.log" 2>&1
    tail -n 1 "$OUT/ft_$f.log"
  fi
  echo "== evaluate $f"
  "$CANDLECAST" evaluate --model "$OUT/ft_$f" --input "$DATA/$f.csv" --out "$OUT/eval_$f" --force ${EVALUATE_FLAGS:-} > "$OUT/eval_$f.log" 2>&1
done
python3 bench/pretrain_finetune_table.py "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
