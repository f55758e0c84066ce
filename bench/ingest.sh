#!/usr/bin/env bash
# Ingest benchmark (issue 3): `candlecast inspect` against pandas read_csv(parse_dates)
# + the same validation, and against a bare polars read, on the EURUSD 1-minute file.
#
# Also a bare polars read with the timestamp left a string (what the criterion bench
# in benches/benches/ingest.rs compares against in Rust).
#
# Usage: bench/ingest.sh [OUTPUT.md]
#   RUNS=10        timed runs per measurement (median reported)
#   INGEST_FILE=…  CSV to read (default ../shared/data/eurusd_1m_histdata_2017h1.csv)
#   CANDLECAST_BIN=…  use this binary instead of running `cargo build --release`
#                  (e.g. when another crate of the workspace is mid-edit)
#   THREADS="1 2"  thread counts to run with (RAYON/POLARS_MAX/OMP/OPENBLAS threads)
# Prints a markdown table; also writes it to OUTPUT.md when given.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
FILE="${INGEST_FILE:-$ROOT/../shared/data/eurusd_1m_histdata_2017h1.csv}"
RUNS="${RUNS:-10}"
THREADS="${THREADS:-1 2}"
OUT_MD="${1:-}"
VENV="$ROOT/bench/.venv-ingest"
REF="$ROOT/bench/ingest_ref.py"

if [[ ! -f "$FILE" ]]; then
    echo "ingest.sh: data file not found: $FILE" >&2
    exit 1
fi
FILE="$(cd "$(dirname "$FILE")" && pwd)/$(basename "$FILE")"

log() { echo "== $*" >&2; }

# --- tools -----------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
if ! command -v hyperfine >/dev/null 2>&1; then
    log "trying to install hyperfine"
    apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq hyperfine >/dev/null 2>&1; } ||
        log "hyperfine not available; falling back to a Python timing loop"
fi

# --- build -----------------------------------------------------------------------
if [[ -n "${CANDLECAST_BIN:-}" ]]; then
    BIN="$CANDLECAST_BIN"
    log "using $BIN (built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')); no cargo build"
else
    log "cargo build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    cargo build --release >&2
    BIN="$CARGO_TARGET_DIR/release/candlecast"
fi

# --- Python environment ----------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import pandas, numpy, polars" >/dev/null 2>&1; then
    log "pip install pandas numpy polars"
    "$PY" -m pip install -q --disable-pip-version-check pandas numpy polars >&2
fi

# --- sanity: every reader accepts the file and sees the same rows ------------------
log "checking readers"
"$BIN" inspect "$FILE" >&2
"$PY" "$REF" run pandas "$FILE" >&2
"$PY" "$REF" run polars "$FILE" >&2
"$PY" "$REF" run polars-str "$FILE" >&2

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.txt"
: >"$RESULTS"

# Whole-process wall time of a command: "median min" in seconds.
wall_times() {
    local json="$WORK/wall.json"
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N --style none --warmup 2 --runs "$RUNS" --export-json "$json" "$*" >/dev/null
    else
        "$PY" "$REF" wall "$RUNS" "$@" >"$json"
    fi
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["min"])' "$json"
}

# Median peak RSS (KiB) of 3 whole-process runs, from GNU time.
rss_median() {
    local v=()
    for _ in 1 2 3; do
        /usr/bin/time -v "$@" >/dev/null 2>"$WORK/time.txt"
        v+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")")
    done
    printf '%s\n' "${v[@]}" | sort -n | sed -n 2p
}

# Appends "threads tool metric value" lines to $RESULTS.
record_wall() { # threads tool cmd...
    local t="$1" tool="$2" out med lo
    shift 2
    # Command substitution, not `< <(…)`: bash waits for it, so its CPU time counts
    # in own_ticks below.
    out="$(wall_times "$@")"
    read -r med lo <<<"$out"
    printf '%s %s wall %s\n%s %s wall_min %s\n' "$t" "$tool" "$med" "$t" "$tool" "$lo" >>"$RESULTS"
    echo "$t $tool rss $(rss_median "$@")" >>"$RESULTS"
}
record_inproc() { # threads tool
    local t="$1" tool="$2" out med lo
    out="$("$PY" "$REF" inproc "$tool" "$FILE" "$RUNS" |
        "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["median"], r["min"])')"
    read -r med lo <<<"$out"
    printf '%s %s inproc %s\n%s %s inproc_min %s\n' "$t" "$tool" "$med" "$t" "$tool" "$lo" >>"$RESULTS"
}

# CPU time (ticks) the whole machine and this script's finished children have used:
# their difference over the run is what other processes took (a load check).
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
own_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$$/stat"; }

LOAD_BEFORE="$(uptime)"
BUSY0="$(busy_ticks)" OWN0="$(own_ticks)" T0="$(date +%s)"
for t in $THREADS; do
    export RAYON_NUM_THREADS="$t" POLARS_MAX_THREADS="$t" OMP_NUM_THREADS="$t" \
        OPENBLAS_NUM_THREADS="$t" MKL_NUM_THREADS="$t"
    log "threads=$t: candlecast inspect"
    record_wall "$t" candlecast "$BIN" inspect "$FILE"
    for tool in pandas polars polars-str; do
        log "threads=$t: $tool"
        record_inproc "$t" "$tool"
        record_wall "$t" "$tool" "$PY" "$REF" run "$tool" "$FILE"
    done
done
LOAD_AFTER="$(uptime)"
BUSY1="$(busy_ticks)" OWN1="$(own_ticks)" T1="$(date +%s)"
HZ="$(getconf CLK_TCK)"
OTHER_CPU="$(awk -v b=$((BUSY1 - BUSY0)) -v o=$((OWN1 - OWN0)) -v hz="$HZ" 'BEGIN {printf "%.1f", (b - o) / hz}')"

{
    echo "Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Timer: $(command -v hyperfine >/dev/null 2>&1 && hyperfine --version || echo 'python subprocess loop'), median of $RUNS runs after warm-up; peak RSS: GNU time, median of 3."
    echo "Versions: $("$PY" -c 'import sys,pandas,numpy,polars; print(f"Python {sys.version.split()[0]}, pandas {pandas.__version__}, numpy {numpy.__version__}, polars {polars.__version__}")'); $(rustc --version)."
    echo "Run took $((T1 - T0)) s; CPU time used meanwhile by other processes (machine busy time minus this script's): ${OTHER_CPU} s of $((T1 - T0)) s x $(nproc) CPUs."
    echo "Load before: \`${LOAD_BEFORE# }\`; after: \`${LOAD_AFTER# }\`."
    echo
    "$PY" "$REF" table "$RESULTS" "$FILE"
} >"$WORK/table.md"

cat "$WORK/table.md"
if [[ -n "$OUT_MD" ]]; then
    cp "$WORK/table.md" "$OUT_MD"
    log "wrote $OUT_MD"
fi
