#!/usr/bin/env bash
# Issue 18, must-show 1: the model strategies against buy-and-hold on the S&P 500's
# test window (the demo's: after the 80% the fine-tune trains on) and on the AAPL,
# GOOG (daily) and EURUSD (hourly) files of ../shared/data, each fine-tuned from the
# shipped base model (`train --init base`, as bench/pretrain_finetune.sh INIT=base)
# on its first 80%. Per file: forecast-threshold (the demo's rule: P(up) > 0.55, 200
# paths 5 bars ahead, deciding every 5 bars), forecast (the cost-aware rule, the
# same paths and decisions), vol-target (defaults: the paths' volatility 5 bars
# ahead, deciding every bar), vol-target:horizon=1 (the one-step mixture's) and
# buy-and-hold, on the same window with the same broker. Writes OUT/table.md.
#
#   bash bench/strategies.sh [OUT]          (default: target/strategies)
#
# Broker: cash 10000, fractional units, open trades closed on the last bar
# (--finalize, as the demo); commission 0.1% a side on the stocks (the demo's),
# 0.01% (1 bp) on EURUSD. Seed 0 for the paths.
# Env: CANDLECAST (binary; default: build it), CONFIG (fine-tune config, default
#      configs/tiny.toml), CANDLE_NUM_THREADS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/strategies}
CONFIG=${CONFIG:-configs/tiny.toml}
DATA=../shared/data
export CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"

# name file commission
FILES=(
  "spx data/spx_1d_arch.csv 0.001"
  "aapl $DATA/aapl_1d_mplfinance.csv 0.001"
  "goog $DATA/goog_1d_backtesting.csv 0.001"
  "eurusd $DATA/eurusd_1h_backtesting.csv 0.0001"
)
STRATEGIES=(
  "forecast-threshold forecast-threshold:horizon=5,samples=200,threshold=0.55 5"
  "forecast forecast:horizon=5,samples=200 5"
  "vol-target vol-target 1"
  "vol-target-1 vol-target:horizon=1 1"
)
for entry in "${FILES[@]}"; do
  read -r name file commission <<<"$entry"
  run="$OUT/ft_$name"
  if [ ! -f "$run/model.safetensors" ]; then
    echo "== fine-tune $name from base"
    "$CANDLECAST" train --config "$CONFIG" --init base --data "$file" --out "$run" --force > "$OUT/ft_$name.log" 2>&1
    tail -n 1 "$OUT/ft_$name.log"
  fi
  for s in "${STRATEGIES[@]}"; do
    read -r label spec every <<<"$s"
    echo "== $name: $spec"
    "$CANDLECAST" backtest --input "$file" --model "$run" --strategy "$spec" \
      --decide-every "$every" --commission "$commission" --fractional --finalize \
      --seed 0 --compare buy-hold --out "$OUT/bt_${name}_$label" --force > "$OUT/bt_${name}_$label.log" 2>&1
  done
done
python3 bench/strategies_table.py "$OUT" "${FILES[@]%% *}" > "$OUT/table.md"
cat "$OUT/table.md"
