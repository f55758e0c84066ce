#!/usr/bin/env bash
# Issue 9: what the exact-zero return bin and the range (wick) factor add. For each
# tokenizer variant, pretrain configs/tiny.toml on data/*.csv and score the model
# with `candlecast evaluate` on the same files' test parts (last 20%, never trained
# on). Writes OUT/table.md.
#
#   bash bench/ablation.sh [OUT]        (default: target/ablation)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/ablation}
export CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"
declare -A EDIT=(
  [default]=''
  [no_zero_bin]='s/^zero_return_bin = true/zero_return_bin = false/'
  [no_range]='s/^wick_bins = 4/wick_bins = 1/'
  [neither]='s/^zero_return_bin = true/zero_return_bin = false/; s/^wick_bins = 4/wick_bins = 1/'
)
for v in default no_zero_bin no_range neither; do
  sed -e "${EDIT[$v]:-}" configs/tiny.toml > "$OUT/$v.toml"
  if [ ! -f "$OUT/run_$v/model.safetensors" ]; then
    echo "== $v: pretrain"
    "$CANDLECAST" train --config "$OUT/$v.toml" --data data/*.csv --out "$OUT/run_$v" > "$OUT/train_$v.log" 2>&1
    tail -n 1 "$OUT/train_$v.log"
  fi
  echo "== $v: evaluate"
  "$CANDLECAST" evaluate --model "$OUT/run_$v" --input data/*.csv --out "$OUT/eval_$v" > "$OUT/eval_$v.log" 2>&1
done
python3 - "$OUT" > "$OUT/table.md" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
variants = ["default", "no_zero_bin", "no_range", "neither"]
cards = {v: json.loads((out / f"eval_{v}" / "scorecard.json").read_text()) for v in variants}
series = [s["series"] for s in cards["default"]["series"]]
def rel(v, name, f):
    s = next(s for s in cards[v]["series"] if s["series"] == name)
    return next(x for x in s["scores"] if x["forecaster"] == f)
print("| series | fhs-range | " + " | ".join(f"gpt {v}" for v in variants) + " |")
print("|---|---:|" + "---:|" * len(variants))
for name in series:
    row = f"| {pathlib.Path(name).name} | {rel('default', name, 'fhs-range')['relative_crps']:.4f} |"
    for v in variants:
        row += f" {rel(v, name, 'gpt')['relative_crps']:.4f} |"
    print(row)
row = "| geometric mean | "
agg = {v: {a["forecaster"]: a["relative_crps_geomean"] for a in cards[v]["aggregate"]} for v in variants}
row += f"{agg['default']['fhs-range']:.4f} |" + "".join(f" {agg[v]['gpt']:.4f} |" for v in variants)
print(row)
PY
cat "$OUT/table.md"
