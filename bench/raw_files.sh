#!/usr/bin/env bash
# Issue 19, "real files load": runs `candlecast` on every raw vendor file in
# ../shared/data/raw/ and on each hostile input shape the issue lists, and prints a
# markdown table: input, command and flags, exit status, and the first line of the
# result (the summary, or the first problem). The hostile inputs are written to a
# temporary folder from the real files (or small literal rows where the case is a
# format, e.g. a 12-hour clock), so the table is reproducible from this script.
#
# Usage: bench/raw_files.sh [OUTPUT.md]
#   CANDLECAST_BIN=...  binary to run (default: cargo build --release, then target/release)
#   RAW_DIR=...         raw vendor files (default: ../shared/data/raw)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
RAW="${RAW_DIR:-$ROOT/../shared/data/raw}"
OUT_MD="${1:-}"
if [[ -z "${CANDLECAST_BIN:-}" ]]; then
    cargo build --release -q >&2 || exit 1
    CANDLECAST_BIN="$CARGO_TARGET_DIR/release/candlecast"
fi
if [[ ! -d "$RAW" ]]; then
    echo "raw_files.sh: no raw data folder: $RAW" >&2
    exit 1
fi
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT

# --- hostile inputs ------------------------------------------------------------
H="$T/hostile"
mkdir -p "$H"
SPX="$RAW/arch_sp500.csv"
EUR="$RAW/backtesting_EURUSD.csv"
printf 'Date,Open,High,Low,Close,Volume\n2020-01-01 09-PM,7180,7190,7170,7185,12\n2020-01-01 10-PM,7185,7200,7181,7195,9\n2020-01-01 11-PM,7195,7196,7160,7170,15\n' > "$H/hourly_12h.csv"
# The real S&P 500 file with one bar at 1.7e308 (passes a finite check).
{ cat "$SPX"; echo "1/2/2019,1.7e308,1.7e308,1.7e308,1.7e308,1.7e308,1"; } | tr -d '\r' > "$H/huge_1.7e308.csv"
{ cat "$SPX"; echo "1/2/2019,1e308,1e308,1e308,1e308,1e308,1"; } | tr -d '\r' > "$H/huge_1e308.csv"
# Two bars of the real file with the low a tick above min(open, close), as in the
# vendor ETF file of the issue.
awk -F, 'NR==101 || NR==2001 { lo = ($2 < $5 ? $2 : $5); $4 = lo + 0.01 } { print }' OFS=, "$SPX" | tr -d '\r' > "$H/low_above_body.csv"
# Array-of-arrays JSON candles (freqtrade shape: ms epoch, numbers), from the real EURUSD file.
python3 - "$EUR" "$H/eurusd_candles.json" "$H/eurusd_candles_s.json" <<'PY'
import csv, json, sys, datetime as dt
rows = list(csv.reader(open(sys.argv[1])))[1:]
def ms(s): return int(dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
c = [[ms(r[0])] + [float(x) for x in r[1:6]] for r in rows]
json.dump(c, open(sys.argv[2], "w"))
# Binance shape: seconds would be unusual there, strings for prices, 12 values.
b = [[x[0] // 1000] + [str(v) for v in x[1:]] + [x[0] + 3599999, "0", 0, "0", "0", "0"] for x in c]
open(sys.argv[3], "w").write("[\n" + ",\n".join(json.dumps(r) for r in b) + "\n]\n")
PY
gzip -c "$SPX" > "$H/sp500.csv.gz"
zstd -q -c "$SPX" > "$H/sp500.csv.zst"
sed 's/^/,/' "$EUR" | sed '1s/^,//' > "$H/leading_empty_cells.csv"
{ cat "$EUR"; tail -n 1 "$EUR" | awk -F, '{ $5 = $5 + 0.0001; print }' OFS=,; } > "$H/conflicting_duplicate.csv"
mkdir -p "$H/folder"
cp "$EUR" "$H/folder/a.csv"; cp "$H/eurusd_candles.json" "$H/folder/b.json"; cp "$H/sp500.csv.gz" "$H/folder/c.csv.gz"
echo '{"data": [[1577836800000, 1, 2, 0.5, 1.5, 10]]}' > "$H/object.json"
(cd "$H" && zip -q sp500.zip "$SPX" -j)
bzip2 -c "$SPX" > "$H/sp500.csv.bz2"

# --- runs ------------------------------------------------------------------------
ROWS=()
run() { # label, then the command's arguments
    local label="$1"
    shift
    local out code first
    out="$(timeout 120 "$CANDLECAST_BIN" "$@" 2>&1)"
    code=$?
    if [[ $code -eq 0 ]]; then
        # The summary row of inspect: rows, first, last, interval.
        first="$(printf '%s\n' "$out" | awk '/^  -|^  [A-Za-z]/ && $2 ~ /^[0-9]+$/ { print "ok: " $2 " rows, " $3 " .. " $4 ", " $5; exit }')"
        local files
        files="$(printf '%s\n' "$out" | grep -c ': ok$')"
        [[ "$files" -gt 1 ]] && first="$files files ok, the first: $first"
        [[ -z "$first" ]] && first="$(printf '%s\n' "$out" | grep -m1 -v '^$')"
        local reps
        reps="$(printf '%s\n' "$out" | grep -c '  repair: ')"
        [[ "$reps" -gt 0 ]] && first="$first; $reps row(s) repaired, e.g. $(printf '%s\n' "$out" | grep -m1 '  repair: ' | sed 's/^ *repair: //')"
    else
        # inspect: the first problem (indented under "FILE: N problem(s)"); others: the error.
        first="$(printf '%s\n' "$out" | grep -m1 -E '^  |^error' | sed 's/^ *//')"
        local total
        total="$(printf '%s\n' "$out" | grep -m1 -oE '[0-9]+ problem\(s\)$')"
        [[ -n "$total" ]] && first="$first ($total)"
    fi
    first="${first//$T\/hostile\//}"
    first="${first//$T\//TMP/}"
    first="${first//$RAW\//}"
    first="${first//|/\\|}"
    local shown=("$@")
    local cmd="${shown[*]}"
    cmd="${cmd//$T\/hostile\//}"
    cmd="${cmd//$T\//TMP/}"
    cmd="${cmd//$RAW\//}"
    ROWS+=("| $label | \`candlecast $cmd\` | $code | ${first:0:300} |")
}

for f in "$RAW"/*; do
    run "raw: $(basename "$f")" inspect "$f"
done
# Flags the raw files need to load, or to be right rather than just loadable
# (MANIFEST.md): the S&P intraday file is one day, 11/5/2019, whose day and month
# are both 12 or less; HistData and the S&P session are New York time.
run "raw: mplfinance, with flags" inspect --date-format mdy --tz America/New_York "$RAW/mplfinance_SP500_NOV2019_IDay.csv"
run "raw: histdata, zoned" inspect --tz America/New_York "$RAW/histdata_DAT_ASCII_EURUSD_M1_201701.csv"
run "12-hour clock, no flag" inspect "$H/hourly_12h.csv"
run "12-hour clock" inspect --date-format '%Y-%m-%d %I-%p' "$H/hourly_12h.csv"
run "12-hour clock, %I without %p" inspect --date-format '%Y-%m-%d %I' "$H/hourly_12h.csv"
run "bar at 1.7e308" inspect "$H/huge_1.7e308.csv"
run "bar at 1.7e308, backtest" backtest --input "$H/huge_1.7e308.csv" --strategy buy-hold --out "$T/bt"
run "bar at 1e308" inspect "$H/huge_1e308.csv"
run "low above min(open, close)" inspect "$H/low_above_body.csv"
run "low above min(open, close)" inspect --repair ohlc "$H/low_above_body.csv"
run "JSON candles, ms" inspect "$H/eurusd_candles.json"
run "JSON candles, s, strings, 12 values" inspect "$H/eurusd_candles_s.json"
run "JSON object" inspect "$H/object.json"
run "gzip CSV" inspect "$H/sp500.csv.gz"
run "zstd CSV" inspect "$H/sp500.csv.zst"
run "zip archive" inspect "$H/sp500.zip"
run "bzip2 CSV" inspect "$H/sp500.csv.bz2"
run "leading empty cells" inspect "$H/leading_empty_cells.csv"
run "conflicting duplicate" inspect "$H/conflicting_duplicate.csv"
run "conflicting duplicate" inspect --repair keep-last "$H/conflicting_duplicate.csv"
run "folder of csv, json, csv.gz" inspect "$H/folder"
run "missing model folder" forecast --model "$T/no-such-run" --input "$EUR" --horizon 2

{
    echo "| input | command | exit | result (first line) |"
    echo "|---|---|---:|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee ${OUT_MD:+"$OUT_MD"}
