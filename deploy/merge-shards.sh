#!/usr/bin/env bash
# Merges the shard outputs of one sharded `candlecast forecast` run into OUT: the rows
# of PREFIX.I-of-N.csv (I = 1..N) concatenated in order under one header, byte for
# byte what one unsharded run writes, and OUT's run header (OUT without .csv, plus
# .run.json) as that run would write it. With `--paths` shards, the paths files too.
#
#   deploy/merge-shards.sh [--force] PREFIX N OUT.csv
#
# Refuses, with exit status 1 and nothing written, when a shard or its run header
# (PREFIX.I-of-N.run.json, written by forecast after its CSV) is missing, when the
# headers disagree on the run (model fingerprint, the whole input list, seed,
# horizon, samples, quantiles, sampling, origin) or a shard is not the I-th of N,
# when the CSV headers differ, or when OUT exists and --force is not given. OUT is
# written to a temporary file beside it and renamed, so a failed merge leaves no
# partial output. Needs only bash and coreutils (no JSON tool on the cluster): the
# run header puts the run on line 2 and the shard on line 3 for this purpose.
set -euo pipefail

die() {
  echo "merge-shards.sh: $*" >&2
  exit 1
}

FORCE=0
if [ "${1:-}" = "--force" ]; then
  FORCE=1
  shift
fi
[ $# -eq 3 ] || die "usage: merge-shards.sh [--force] PREFIX N OUT.csv (e.g. out/fc 16 out/forecast.csv)"
PREFIX=$1
N=$2
OUT=$3
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a shard count of at least 1, got '$N'"
case "$OUT" in
  *.csv) ;;
  *) die "OUT must end in .csv, got '$OUT'" ;;
esac
STEM=${OUT%.csv}
if [ "$FORCE" -eq 0 ]; then
  for f in "$OUT" "$STEM.run.json" "$STEM.paths.csv"; do
    [ ! -e "$f" ] || die "$f exists; pass --force to overwrite it, or choose another OUT"
  done
fi

# Every shard and its header, before anything is compared or written.
missing=()
for i in $(seq 1 "$N"); do
  for f in "$PREFIX.$i-of-$N.csv" "$PREFIX.$i-of-$N.run.json"; do
    [ -f "$f" ] || missing+=("$f")
  done
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing ${missing[*]}: rerun those tasks (e.g. CANDLECAST_SHARDS=$N sbatch --array=I deploy/slurm-forecast.sbatch ...) and merge again"
fi

# One run: line 2 of every header identical, line 3 naming shard I of N.
run=$(sed -n 2p "$PREFIX.1-of-$N.run.json")
case "$run" in
  '"run": {'*) ;;
  *) die "$PREFIX.1-of-$N.run.json: not a candlecast run header (line 2 should start with \"run\")" ;;
esac
csv_head=$(head -n 1 "$PREFIX.1-of-$N.csv")
series=0
for i in $(seq 1 "$N"); do
  h="$PREFIX.$i-of-$N.run.json"
  [ "$(sed -n 2p "$h")" = "$run" ] ||
    die "$h: another run than shard 1 (model, inputs, seed, horizon, samples or sampling differ):
  shard 1: $run
  shard $i: $(sed -n 2p "$h")"
  [ "$(sed -n 3p "$h")" = "\"shard\": {\"count\":$N,\"index\":$i}," ] ||
    die "$h: is not shard $i of $N: $(sed -n 3p "$h")"
  [ "$(head -n 1 "$PREFIX.$i-of-$N.csv")" = "$csv_head" ] ||
    die "$PREFIX.$i-of-$N.csv: its CSV header differs from shard 1's"
  k=$(sed -n 's/^"series": \([0-9][0-9]*\)$/\1/p' "$h")
  [ -n "$k" ] || die "$h: no series count on line 4"
  series=$((series + k))
done
paths=0
case "$run" in *'"paths":true'*) paths=1 ;; esac

# Written beside OUT under temporary names, renamed into place when complete: the
# CSV, then the paths, then the header (a header says its forecast is complete).
dir=$(dirname "$OUT")
[ -d "$dir" ] || die "$dir: no such folder for OUT"
tmps=()
trap 'rm -f "${tmps[@]}"' EXIT
concat() { # SUFFIX TMP: shard files PREFIX.I-of-N.SUFFIX under shard 1's header
  for i in $(seq 1 "$N"); do
    f="$PREFIX.$i-of-$N.$1"
    [ -f "$f" ] || die "missing $f (the run wrote --paths files)"
    if [ "$i" -eq 1 ]; then cat "$f"; else tail -n +2 "$f"; fi
  done >"$2"
}
tmp_csv="$dir/.$(basename "$OUT").tmp.$$"
tmps+=("$tmp_csv")
concat csv "$tmp_csv"
if [ "$paths" -eq 1 ]; then
  tmp_paths="$dir/.$(basename "$STEM").paths.csv.tmp.$$"
  tmps+=("$tmp_paths")
  concat paths.csv "$tmp_paths"
fi
tmp_head="$dir/.$(basename "$STEM").run.json.tmp.$$"
tmps+=("$tmp_head")
printf '{\n%s\n"shard": {"count":1,"index":1},\n"series": %s\n}\n' "$run" "$series" >"$tmp_head"
mv -f "$tmp_csv" "$OUT"
[ "$paths" -eq 0 ] || mv -f "$tmp_paths" "$STEM.paths.csv"
mv -f "$tmp_head" "$STEM.run.json"
echo "merged $N shards ($series series) -> $OUT" >&2
