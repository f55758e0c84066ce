#!/usr/bin/env bash
# Issue 16: do 500-bar sample paths of a trained model stay bounded? Pretrains
# configs/tiny.toml on data/*.csv twice, with scale = "reverting" (the default) and
# scale = "ewma", forecasts 1,000 paths x 500 bars from the end of every file
# (top-p as given, default 0.95) and prints, per file and scale, percentiles of
# |ln(C_500 / C_0)| in units of the file's long-run volatility (root mean square
# close log-return of its first 80%) x sqrt(500) (bench/scale_paths.py).
#
#   bash bench/scale_paths.sh [OUT] [TOP_P]      (default: target/scale_paths 0.95)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/scale_paths}
TOP_P=${2:-0.95}
export CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1} RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"
for scale in reverting ewma; do
  sed "s/^scale = \"reverting\"/scale = \"$scale\"/" configs/tiny.toml > "$OUT/$scale.toml"
  [ -f "$OUT/run_$scale/meta.json" ] ||
    "$CANDLECAST" train --config "$OUT/$scale.toml" --data data/*.csv --out "$OUT/run_$scale" --force > "$OUT/train_$scale.log"
  for f in data/*.csv; do
    name=$(basename "$f" .csv)
    if "$CANDLECAST" forecast --model "$OUT/run_$scale" --input "$f" --horizon 500 --samples 1000 \
      --top-p "$TOP_P" --paths --out "$OUT/${name}_$scale.csv" --force > "$OUT/${name}_$scale.log" 2>&1; then
      python3 bench/scale_paths.py "$f" "$OUT/${name}_$scale.paths.csv" "$scale"
    else
      echo "$name $scale: forecast failed: $(tail -c 120 "$OUT/${name}_$scale.log")"
    fi
  done
done
