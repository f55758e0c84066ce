#!/usr/bin/env bash
# The backtest a user runs, end to end (issue 18): the whole `candlecast backtest`
# process on a 1,000,000-bar CSV (parse, validate, run sma-cross:10,20 and the
# buy-and-hold comparison, statistics, every report file) against vectorbt's
# Portfolio.from_signals + stats() on the same bars already in memory (numba
# warmed up first), interleaved ROUNDS times in one run so the shared machine's
# load hits both alike. Prints each one's median and best wall time, the ratios,
# and the same for CPU time (user + system, all threads), which depends less on
# what else the machine runs (candlecast reads with 2 threads, vectorbt uses one).
#
#   candlecast              default outputs: stats.json, trades.csv, equity.svg, report.html
#   candlecast --equity-csv also the per-bar equity.csv (113 MB on these bars), and --candles
#   BASE_BIN (optional)     an older candlecast binary, same arguments as the default run
#                           (a binary from before --equity-csv writes equity.csv by default)
#
#   bash bench/backtest_e2e.sh [BARS] [SEED] [ROUNDS]
#   BASE_BIN=/path/to/old/candlecast bash bench/backtest_e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
N="${1:-1000000}"
SEED="${2:-7}"
ROUNDS="${3:-7}"
VENV="${VENV:-bench/.venv-backtest}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q backtesting==0.6.6 vectorbt
fi
"$VENV/bin/python" -c 'import vectorbt, numpy, pandas; print("vectorbt", vectorbt.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)'
cargo build --release -q --bin candlecast
BIN="$CARGO_TARGET_DIR/release/candlecast"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$VENV/bin/python" -c "
import sys; sys.path.insert(0, 'bench')
from backtest_ref import walk
df = walk($N, $SEED); df.index.name = 'timestamp'
df.to_csv('$TMP/walk.csv', date_format='%Y-%m-%dT%H:%M:%SZ')"
echo "== $N bars ($(du -m "$TMP/walk.csv" | cut -f1) MB CSV), seed $SEED, $ROUNDS rounds; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"

"$VENV/bin/python" - "$BIN" "$TMP" "$N" "$SEED" "$ROUNDS" "${BASE_BIN:-}" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
bin_, tmp, n, seed, rounds, base = sys.argv[1:7]
common = ["backtest", "--input", f"{tmp}/walk.csv", "--strategy", "sma-cross:10,20",
          "--cash", "10000", "--commission", "0.002"]
runs = {
    "candlecast (default outputs)": [bin_, *common, "--out", f"{tmp}/r1"],
    "candlecast --equity-csv --candles": [bin_, *common, "--equity-csv", "--candles", "--out", f"{tmp}/r2"],
}
if base:
    runs["BASE_BIN (default outputs)"] = [base, *common, "--out", f"{tmp}/r3"]
vbt = [sys.executable, "bench/backtest_ref.py", "bench", "vectorbt", n, seed]
names = [*runs, "vectorbt simulate + stats"]
times = {k: [] for k in names}
cpu = {k: [] for k in names}
sizes = {}
for _ in range(int(rounds)):
    for name, cmd in runs.items():
        # A fresh output folder each round: backtest refuses to overwrite one.
        shutil.rmtree(cmd[-1], ignore_errors=True)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        times[name].append(time.perf_counter() - t0)
        if status != 0:
            sys.exit(f"{' '.join(cmd)} failed ({status})")
        cpu[name].append(ru.ru_utime + ru.ru_stime)
        out = cmd[-1]
        sizes[name] = {f: os.path.getsize(f"{out}/{f}") for f in sorted(os.listdir(out))}
    r = json.loads(subprocess.run(vbt, check=True, capture_output=True, text=True).stdout)
    times[names[-1]].append(r["seconds"])
    cpu[names[-1]].append(r["cpu_seconds"])
for what, table in (("wall", times), ("CPU", cpu)):
    med = {k: statistics.median(v) for k, v in table.items()}
    print(f"\n{what + ' time':36}{'median s':>10}{'best s':>9}   all (s)")
    for k, v in table.items():
        print(f"{k:36}{med[k]:>10.3f}{min(v):>9.3f}   " + " ".join(f"{x:.3f}" for x in v))
    for k in runs:
        print(f"  {k}: {med[names[-1]] / med[k]:.2f}x vectorbt's {what} time (medians; goal >= 2x on wall time)")
print()
for k, files in sizes.items():
    print(f"{k}: " + ", ".join(f"{f} {b / 1e6:.1f} MB" if b > 1e5 else f"{f} {b / 1e3:.0f} kB" for f, b in files.items()))
PY
