#!/usr/bin/env bash
# Issue 17: pretrain the shipped base model (models/base/) and write its model card.
#
#   bash bench/base_model.sh [OUT]       (default: target/base_model)
#
# Trains configs/base.toml on the bundled files (data/) plus the config's synthetic
# corpus, then writes OUT/model/{model.safetensors,meta.json} in the shipped form
# (meta.json without the learning curve, whose tokens/s are timings) and
# OUT/model/README.md (the model card), and prints their SHA-256. The same command
# gives the same bytes: training is seeded and single-threaded reductions are fixed
# by CANDLE_NUM_THREADS/RAYON_NUM_THREADS, pinned here.
#
# Env: CANDLECAST (binary; default: build it), INSTALL=1 (copy OUT/model/* into
#      models/base/), CHECK=1 (exit 1 unless the model's bytes equal models/base/'s),
#      ZERO_SHOT=FILE (a bench/file_scores.py table to include in the card).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/base_model}
export CANDLE_NUM_THREADS=2 RAYON_NUM_THREADS=2
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
rm -rf "$OUT/run" "$OUT/model"
mkdir -p "$OUT/model"
start=$(date +%s)
"$CANDLECAST" train --config configs/base.toml --data data --out "$OUT/run" --force --json > "$OUT/summary.json"
echo "trained in $(( $(date +%s) - start )) s"
cp "$OUT/run/model.safetensors" "$OUT/model/"
# The calibrated temperature: `evaluate --no-spread` fits gpt-cal's temperature (and
# top-p, spread 1: one shipped temperature for all series) by CRPS on the
# last 10% of each series' training part, which for the bundled files is the base
# model's own validation split (never their test part, never another file).
"$CANDLECAST" evaluate --model "$OUT/run" --input data/*.csv --out "$OUT/calibration" --no-spread --force > "$OUT/calibration.log" 2>&1
python3 - "$OUT/run/meta.json" "$OUT/model/meta.json" "$OUT/calibration/scorecard.json" <<'PY'
import json, math, sys
meta = json.load(open(sys.argv[1]))
card = json.load(open(sys.argv[3]))
temps = [s["temperature"] for s in card["series"]]
# One temperature for every series: the geometric mean of the four fitted ones.
meta["extra"]["temperature"] = round(math.exp(sum(map(math.log, temps)) / len(temps)), 4)
# The curve's tokens/s are wall-clock timings: the shipped meta.json keeps the
# weights' provenance (configs, tokenizer, state, data), not the timings.
meta["state"]["curve"] = []
open(sys.argv[2], "w").write(json.dumps(meta, indent=2) + "\n")
print(f"calibrated temperature {meta['extra']['temperature']} (fits {temps})")
PY
python3 bench/model_card.py "$OUT/summary.json" "$OUT/model" "$OUT/calibration/scorecard.json" ${ZERO_SHOT:-} > "$OUT/model/README.md"
(cd "$OUT/model" && sha256sum model.safetensors meta.json)
if [ "${CHECK:-0}" = 1 ]; then
  cmp "$OUT/model/model.safetensors" models/base/model.safetensors
  cmp "$OUT/model/meta.json" models/base/meta.json
  echo "same bytes as models/base/"
fi
if [ "${INSTALL:-0}" = 1 ]; then
  cp "$OUT/model/model.safetensors" "$OUT/model/meta.json" "$OUT/model/README.md" models/base/
  echo "installed into models/base/"
fi
