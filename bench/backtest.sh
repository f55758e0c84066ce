#!/usr/bin/env bash
# Backtest speed (issue 7), all in one run on one machine: sma-cross 10/20 with
# full statistics on the same 1,000,000 seeded one-minute random-walk bars in
#   candlecast   crates/backtest/examples/sma_bench.rs (best and median of 5; walk built before timing)
#   backtesting.py 0.6.6   Backtest(...).run()            (one run)
#   vectorbt     Portfolio.from_signals(...).stats()      (one run after a small warm-up
#                                                          run that JIT-compiles numba)
# plus the candlecast CLI end to end on the same bars as CSV (parse and the default
# report, without --equity-csv) for reference; bench/backtest_e2e.sh times the whole
# command against vectorbt properly. Python engines get the bars as in-memory arrays.
#
#   bash bench/backtest.sh [BARS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
N="${1:-1000000}"
SEED="${2:-7}"
VENV=bench/.venv-backtest
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q backtesting==0.6.6 vectorbt
fi
"$VENV/bin/python" -c 'import backtesting, vectorbt, numpy, pandas; print("backtesting", backtesting.__version__, "vectorbt", vectorbt.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)'
cargo build --release -q -p candlecast-backtest --example sma_bench
cargo build --release -q --bin candlecast
BIN="$CARGO_TARGET_DIR/release"

echo "== $N bars, seed $SEED; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
RES=$(mktemp)
"$BIN/examples/sma_bench" "$N" "$SEED" | tee -a "$RES"
"$VENV/bin/python" bench/backtest_ref.py bench vectorbt "$N" "$SEED" | tee -a "$RES"
"$VENV/bin/python" bench/backtest_ref.py bench backtesting "$N" "$SEED" 2>/dev/null | tee -a "$RES"

# The CLI on the same bars from CSV: parse, run, stats, report (no comparison runs, no equity.csv).
TMP=$(mktemp -d)
"$VENV/bin/python" -c "
import sys; sys.path.insert(0, 'bench')
from backtest_ref import walk
df = walk($N, $SEED); df.index.name = 'timestamp'
df.to_csv('$TMP/walk.csv', date_format='%Y-%m-%dT%H:%M:%SZ')"
/usr/bin/time -f '{"engine": "candlecast CLI (csv parse + report)", "seconds": %e, "peak_rss_kb": %M}' \
  "$BIN/candlecast" backtest --input "$TMP/walk.csv" --strategy sma-cross:10,20 --cash 10000 \
  --commission 0.002 --no-compare --out "$TMP/report" > /dev/null 2> "$TMP/time.txt" || cat "$TMP/time.txt"
tail -1 "$TMP/time.txt" | tee -a "$RES"
rm -rf "$TMP"

"$VENV/bin/python" - "$RES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
for r in rows:
    if "peak_rss_kb" in r:
        r["peak_rss_mb"] = r.pop("peak_rss_kb") / 1024
    r.setdefault("bars_per_s", rows[0]["bars"] / r["seconds"])
by = {r["engine"]: r for r in rows}
cc = by["candlecast"]
print()
print(f"{'engine':<38}{'seconds':>10}{'M bars/s':>10}{'peak MB':>9}{'trades':>8}{'return %':>10}")
for r in rows:
    bps = r.get("bars_per_s")
    print(f"{r['engine']:<38}{r['seconds']:>10.3f}{(bps or 0) / 1e6:>10.2f}{r.get('peak_rss_mb') or 0:>9.0f}"
          f"{r.get('trades', ''):>8}{r.get('return_pct', float('nan')):>10.2f}")
for other in ("vectorbt", "backtesting"):
    if other in by:
        print(f"candlecast vs {other}: {by[other]['seconds'] / cc['seconds']:.1f}x faster")
print(f"goals: >= 10 M bars/s: {'met' if cc['bars_per_s'] >= 1e7 else 'MISSED'}; "
      f">= 4x vectorbt: {'met' if by['vectorbt']['seconds'] / cc['seconds'] >= 4 else 'MISSED'}; "
      f"peak < 100 MB: {'met' if cc['peak_rss_mb'] < 100 else 'MISSED'}")
PY
rm -f "$RES"
