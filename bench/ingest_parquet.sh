#!/usr/bin/env bash
# Parquet ingest (issue 19): `candlecast inspect` of the EURUSD 1-minute file as CSV,
# as Parquet and as Arrow IPC, beside bare polars (Python) reading the same files.
#
# The Parquet and IPC copies are written by polars at bench time under
# $CARGO_TARGET_DIR/ingest-parquet/ (never committed: the data is not ours to
# redistribute). Timestamps become a zoned datetime column (polars parses the
# ISO 'Z' stamps), the prices f64, the volume i64.
#
# Usage: bench/ingest_parquet.sh [OUTPUT.md]
#   RUNS=7            runs per measurement (median wall time and median peak RSS)
#   INGEST_FILE=…     CSV to convert (default ../shared/data/eurusd_1m_histdata_2017h1.csv)
#   CANDLECAST_BIN=…  a binary built with `--features parquet` (else it is built)
#   PY=…              a Python with polars (else bench/.venv-ingest, created)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
FILE="${INGEST_FILE:-$ROOT/../shared/data/eurusd_1m_histdata_2017h1.csv}"
RUNS="${RUNS:-7}"
OUT_MD="${1:-}"
WORK="$CARGO_TARGET_DIR/ingest-parquet"
mkdir -p "$WORK"
log() { echo "== $*" >&2; }

[[ -f "$FILE" ]] || { echo "ingest_parquet.sh: data file not found: $FILE" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [[ -n "${CANDLECAST_BIN:-}" ]]; then
    BIN="$CANDLECAST_BIN"
else
    log "cargo build --release --features parquet"
    cargo build --release --features parquet >&2
    BIN="$CARGO_TARGET_DIR/release/candlecast"
fi
if [[ -z "${PY:-}" ]]; then
    VENV="$ROOT/bench/.venv-ingest"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    PY="$VENV/bin/python"
    "$PY" -c "import polars" 2>/dev/null || "$PY" -m pip install -q --disable-pip-version-check polars >&2
fi

PQ="$WORK/eurusd.parquet"
IPC="$WORK/eurusd.arrow"
log "converting $(basename "$FILE") with polars"
"$PY" - "$FILE" "$PQ" "$IPC" <<'EOF'
import sys, polars as pl
df = pl.read_csv(sys.argv[1], try_parse_dates=True)
df.write_parquet(sys.argv[2])
df.write_ipc(sys.argv[3])
print(df.schema, df.height, file=sys.stderr)
EOF

# Median wall milliseconds (from `date`, as GNU time's %e has only 10 ms steps) and
# median peak RSS (MiB) of RUNS runs: "wall rss". A failing command stops the script.
measure() {
    local t=() m=() t0 t1
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s%N)
        /usr/bin/time -f '%M' -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/err.txt" ||
            { cat "$WORK/err.txt" >&2; exit 1; }
        t1=$(date +%s%N)
        read -r k <"$WORK/time.txt"
        t+=("$(((t1 - t0) / 1000000))"); m+=("$k")
    done
    local mid=$(((RUNS + 1) / 2))
    printf '%s %s\n' "$(printf '%s\n' "${t[@]}" | sort -n | sed -n "${mid}p")" \
        "$(printf '%s\n' "${m[@]}" | sort -n | sed -n "${mid}p" | awk '{printf "%.0f", $1 / 1024}')"
}

row() { # label cmd...
    local label="$1"
    shift
    log "$label"
    read -r w r <<<"$(measure "$@")"
    echo "| $label | $w | $r |"
}

"$BIN" inspect "$PQ" >&2
"$BIN" inspect "$FILE" >&2
LOAD_BEFORE="$(uptime)"
{
    echo "Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Files: $(basename "$FILE") ($(du -k "$FILE" | cut -f1) KiB), as Parquet ($(du -k "$PQ" | cut -f1) KiB, polars' default zstd) and Arrow IPC ($(du -k "$IPC" | cut -f1) KiB); $("$PY" -c 'import polars; print("Python polars", polars.__version__)'); whole process, median of $RUNS runs; peak RSS from GNU time."
    echo "Load before: \`${LOAD_BEFORE# }\`."
    echo
    echo "| reader | wall ms | peak RSS MiB |"
    echo "|---|---:|---:|"
    row "candlecast inspect (CSV)" "$BIN" inspect "$FILE"
    row "candlecast inspect (Parquet)" "$BIN" inspect "$PQ"
    row "candlecast inspect (Arrow IPC)" "$BIN" inspect "$IPC"
    row "python: import polars only" "$PY" -c "import polars"
    row "python polars read_csv, bare" "$PY" -c "import sys, polars as pl; pl.read_csv(sys.argv[1])" "$FILE"
    row "python polars read_parquet, bare" "$PY" -c "import sys, polars as pl; pl.read_parquet(sys.argv[1])" "$PQ"
    # From bytes read whole, as candlecast does: a memory-mapped file is not read.
    row "python polars read_ipc, bare" "$PY" -c "import sys, polars as pl; pl.read_ipc(open(sys.argv[1], 'rb').read())" "$IPC"
    echo
    echo "Load after: \`$(uptime | sed 's/^ //')\`."
} >"$WORK/table.md"
cat "$WORK/table.md"
if [[ -n "$OUT_MD" ]]; then
    cp "$WORK/table.md" "$OUT_MD"
fi
