#!/usr/bin/env bash
# Progress bars render in a terminal and stay silent when output is piped.
#
#   tests/tty/progress.sh [CANDLECAST_BINARY]
#
# Runs `candlecast train` twice on data/spx_1d_arch.csv with a small config: once
# inside a tmux pane (a real terminal), capturing the screen while it trains, and
# once with stderr piped into a file. Passes when the pane shows the bar and the
# piped log has no bar and no escape sequences. Prints the captured screen.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}/release/candlecast}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
command -v tmux >/dev/null || { echo "progress.sh: tmux not installed" >&2; exit 1; }
WORK=$(mktemp -d)
SESSION=candlecast-progress-$$
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cat > "$WORK/c.toml" <<'TOML'
[model]
d_model = 32
n_head = 2
n_layer = 2
max_ctx = 32

[train]
steps = 400
batch_size = 16
seq_len = 32
lr = 1e-3
min_lr = 1e-4
warmup_steps = 10
grad_clip = 1.0
eval_every = 100
eval_windows = 32
patience = 0
checkpoint_every = 0
seed = 1
TOML
CMD="$BIN train --config $WORK/c.toml --data data/spx_1d_arch.csv --out $WORK/tty"
tmux new-session -d -s "$SESSION" -x 120 -y 10 "$CMD; echo EXIT=\$?; sleep 30"
screen=""
for _ in $(seq 1 100); do
  sleep 0.2
  screen=$(tmux capture-pane -p -t "$SESSION")
  if grep -q 'train \[' <<<"$screen" && grep -qE '[0-9]+/400' <<<"$screen"; then break; fi
done
echo "--- tmux screen while training ---"
echo "$screen" | sed '/^$/d'
echo "----------------------------------"
grep -q 'train \[' <<<"$screen" || { echo "FAIL: no progress bar in the terminal" >&2; exit 1; }
for _ in $(seq 1 300); do
  tmux capture-pane -p -t "$SESSION" | grep -q 'EXIT=' && break
  sleep 0.5
done
tmux capture-pane -p -t "$SESSION" | grep -q 'EXIT=0' || { echo "FAIL: the terminal run did not finish cleanly" >&2; exit 1; }

$BIN train --config "$WORK/c.toml" --data data/spx_1d_arch.csv --out "$WORK/piped" 2>"$WORK/stderr.log" | cat >"$WORK/stdout.log"
if grep -q 'train \[' "$WORK/stderr.log" "$WORK/stdout.log" || grep -q $'\x1b' "$WORK/stderr.log" "$WORK/stdout.log"; then
  echo "FAIL: piped output contains a progress bar or escape sequences" >&2
  cat -v "$WORK/stderr.log" >&2
  exit 1
fi
echo "piped stderr (no bar):"
sed 's/^/  /' "$WORK/stderr.log"
echo "1 passed, 0 failed: progress bar drawn in a terminal, silent when piped"
