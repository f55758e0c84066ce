#!/usr/bin/env bash
# Concatenates shard outputs `PREFIX.I-of-N.csv` (I = 1..N) under one header: the
# result is byte for byte what one unsharded `candlecast forecast` writes.
#
#   deploy/merge-shards.sh PREFIX N > forecast.csv
set -euo pipefail
PREFIX=${1:?prefix}
N=${2:?shard count}
for i in $(seq 1 "$N"); do
  f="$PREFIX.$i-of-$N.csv"
  [ -f "$f" ] || { echo "missing shard $f" >&2; exit 1; }
  if [ "$i" -eq 1 ]; then cat "$f"; else tail -n +2 "$f"; fi
done
