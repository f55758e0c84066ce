#!/usr/bin/env bash
# Forecast memory benchmark (issue 19): peak resident memory and wall time of
# `candlecast forecast --input data/spx_1d_arch.csv --horizon 24 --samples N` for
# growing N, with and without `--paths`, measured by GNU time (`%M`, the peak RSS).
# Paths decode in batches of MAX_BATCH_ROWS rows and only their closes are kept, so
# the peak should be one batch of decoding plus 24 x N x 8 bytes of closes.
#
# Usage: bench/forecast_memory.sh [OUTPUT.md]
#   SAMPLES="1000 100000 1000000"   sample counts (no --paths)
#   PATHS_SAMPLES="100000"          sample counts run again with --paths (CSV file)
#   HORIZON=24
#   CANDLECAST_BIN=…  use this binary instead of running `cargo build --release`
# Prints a markdown table (with the machine's load before each run); also writes it
# to OUTPUT.md when given. Output files go to a temporary folder, removed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
SAMPLES="${SAMPLES:-1000 100000 1000000}"
PATHS_SAMPLES="${PATHS_SAMPLES:-100000}"
HORIZON="${HORIZON:-24}"
OUT_MD="${1:-}"
INPUT="data/spx_1d_arch.csv"
TIME=/usr/bin/time
if [[ ! -x "$TIME" ]]; then
    echo "forecast_memory.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2
    exit 1
fi
if [[ -n "${CANDLECAST_BIN:-}" ]]; then
    BIN="$CANDLECAST_BIN"
else
    cargo build --release --quiet
    BIN="$CARGO_TARGET_DIR/release/candlecast"
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

table="| samples | --paths | peak RSS (MiB) | wall (s) | output bytes | load (1 min) before |
|---:|:---:|---:|---:|---:|---:|"
run() { # samples, paths flag (yes/no)
    local n=$1 paths=$2 extra=()
    [[ "$paths" == yes ]] && extra=(--paths)
    local load
    load="$(cut -d' ' -f1 /proc/loadavg)"
    "$TIME" -f '%M %e' -o "$TMP/time" "$BIN" forecast --model models/base \
        --input "$INPUT" --horizon "$HORIZON" --samples "$n" "${extra[@]}" \
        --out "$TMP/f.csv" 2>/dev/null
    read -r kb secs < "$TMP/time"
    local bytes
    bytes=$(cat "$TMP"/f*.csv | wc -c)
    rm -f "$TMP"/f*.csv
    table+=$'\n'"| $n | $paths | $((kb / 1024)) | $secs | $bytes | $load |"
    echo "samples $n paths $paths: $((kb / 1024)) MiB, $secs s" >&2
}
for n in $SAMPLES; do run "$n" no; done
for n in $PATHS_SAMPLES; do run "$n" yes; done

summary="forecast --input $INPUT --horizon $HORIZON (base model), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "$summary"
echo
echo "$table"
if [[ -n "$OUT_MD" ]]; then
    printf '%s\n\n%s\n' "$summary" "$table" > "$OUT_MD"
fi
