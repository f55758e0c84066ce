#!/usr/bin/env bash
# Runs every comparison benchmark in one go and rewrites the "Latest full run"
# section at the top of BENCHMARKS.md (between the markers) with the machine, the
# date, each command, its wall time and its output (the ratios). The narrative
# sections below the markers (methods, history, profiles) are kept.
#
#   bash bench/all.sh            # everything (~45 min on 2 cores; installs torch,
#                                #   arch, pandas, polars, backtesting.py, vectorbt in
#                                #   bench/.venv-*: several GB, not for CI)
#   SKIP="gpt" bash bench/all.sh # leave some out: ingest tokenize gpt rollout
#                                #   baselines backtest backtest_e2e
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}
SKIP=${SKIP:-}
OUT=$(mktemp -d)
cargo build --release -q --workspace --examples

declare -a NAMES CMDS
add() { NAMES+=("$1"); CMDS+=("$2"); }
add ingest    "bash bench/ingest.sh $OUT/ingest.md"
add tokenize  "cargo bench -q --manifest-path benches/Cargo.toml --bench tokenize -- --noplot"
add gpt       "bash bench/gpt.sh $OUT/gpt.md"
add rollout   "$CARGO_TARGET_DIR/release/examples/rollout_bench --series 100 --samples 64 --horizon 24"
add baselines "bash bench/baselines_check.sh"
add backtest  "bash bench/backtest.sh"
add backtest_e2e "bash bench/backtest_e2e.sh"

SECTION=$OUT/section.md
{
  echo "<!-- bench/all.sh: begin (generated; rerun bench/all.sh to refresh) -->"
  echo "## Latest full run (bench/all.sh)"
  echo
  echo "- **Date**: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- **Machine**: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- **Versions**: $(rustc --version), $(git rev-parse --short HEAD)"
  echo
} > "$SECTION"
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} cmd=${CMDS[$i]}
  if [[ " $SKIP " == *" $name "* ]]; then
    printf '### %s\n\nSkipped this run (`SKIP`): see its own section below for the latest figures.\n\n' "$name" >> "$SECTION"
    continue
  fi
  echo "== $name: $cmd" >&2
  start=$(date +%s)
  if bash -c "$cmd" > "$OUT/$name.log" 2>&1; then status=ok; else status="FAILED (exit $?)"; fi
  secs=$(( $(date +%s) - start ))
  {
    echo "### $name"
    echo
    echo "\`$cmd\` — $status, ${secs} s, load after $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    if [ -f "$OUT/$name.md" ]; then cat "$OUT/$name.md"; else echo '```'; tail -n 40 "$OUT/$name.log"; echo '```'; fi
    echo
  } >> "$SECTION"
done
echo "<!-- bench/all.sh: end -->" >> "$SECTION"

python3 - "$SECTION" <<'PY'
import pathlib, re, sys
section = pathlib.Path(sys.argv[1]).read_text()
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text()
pattern = re.compile(r"<!-- bench/all.sh: begin.*?<!-- bench/all.sh: end -->\n?", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text)
else:
    head, _, rest = text.partition("\n")
    text = head + "\n\n" + section + rest
path.write_text(text)
PY
echo "BENCHMARKS.md updated ($OUT has the full logs)" >&2
