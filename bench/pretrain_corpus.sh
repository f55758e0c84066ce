#!/usr/bin/env bash
# Issue 17: the real pretraining corpus. Pretrains CONFIG (default configs/base.toml,
# whose [synthetic] table adds the synthetic series) on every real file available:
# data/ and, when it is there, every file of ../shared/data (the bundled four are
# among them; each file is read once). Meant to run for hours unattended:
#   - checkpoints every [train] checkpoint_every steps (RUN/meta.json and weights);
#   - rerunning the same command resumes the run from its last checkpoint, bit for bit
#     (`train --resume`), so a killed job loses at most one checkpoint interval;
#   - without a terminal, `train` logs a line per evaluation with tokens/s and an ETA
#     (OUT/train.log); the summary lists the tokens per source (OUT/summary.json).
#
#   bash bench/pretrain_corpus.sh [OUT]     (default: target/pretrain_corpus)
#
# Env: CANDLECAST (binary; default: build it), CONFIG, STEPS (override [train] steps),
#      SYNTHETIC_SERIES / SYNTHETIC_BARS (override the [synthetic] table's sizes).
# The model it writes is NOT the shipped base model (that one may only see the
# permissively licensed bundled files: bench/base_model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/pretrain_corpus}
CONFIG=${CONFIG:-configs/base.toml}
if [ -z "${CANDLECAST:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
  cargo build --release --quiet
  CANDLECAST=$CARGO_TARGET_DIR/release/candlecast
fi
mkdir -p "$OUT"
RUN=$OUT/run
if [ -f "$RUN/meta.json" ]; then
  echo "== resuming $RUN"
  "$CANDLECAST" train --resume --out "$RUN" --data $(cat "$OUT/files.txt") --json > "$OUT/summary.json" 2>>"$OUT/train.log"
else
  files=(data/*.csv)
  if [ -d ../shared/data ]; then
    for f in ../shared/data/*.csv; do
      [ -f "data/$(basename "$f")" ] || files+=("$f")
    done
  fi
  printf '%s\n' "${files[@]}" > "$OUT/files.txt"
  cp "$CONFIG" "$OUT/config.toml"
  if [ -n "${STEPS:-}" ]; then sed -i "0,/^steps = [0-9]*/s//steps = $STEPS/" "$OUT/config.toml"; fi
  if [ -n "${SYNTHETIC_SERIES:-}" ]; then sed -i "/^\[synthetic\]/,\$s/^series = [0-9]*/series = $SYNTHETIC_SERIES/" "$OUT/config.toml"; fi
  if [ -n "${SYNTHETIC_BARS:-}" ]; then sed -i "/^\[synthetic\]/,\$s/^bars = [0-9]*/bars = $SYNTHETIC_BARS/" "$OUT/config.toml"; fi
  echo "== pretraining on ${#files[@]} files + the synthetic corpus of $OUT/config.toml"
  "$CANDLECAST" train --config "$OUT/config.toml" --data "${files[@]}" --out "$RUN" --json > "$OUT/summary.json" 2>"$OUT/train.log"
fi
python3 - "$OUT/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['mode']}: {s['steps']} steps, val {s['val_bits']:.3f} bits/token, {s['seconds']:.0f} s")
print(f"{'source':<50} {'series':>6} {'train tokens':>12} {'seen (exp.)':>12} {'val bits':>9} {'unigram':>8}")
for r in s["sources"]:
    vb = "-" if r["val_bits"] is None else f"{r['val_bits']:.3f}"
    print(f"{r['source']:<50} {r['series']:>6} {r['train_tokens']:>12} {r['tokens_seen']:>12.0f} {vb:>9} {r['unigram_bits']:>8.3f}")
PY
