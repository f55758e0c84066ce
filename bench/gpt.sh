#!/usr/bin/env bash
# GPT benchmark (issue 5): candlecast (crates/gpt/examples/gpt_bench.rs) against PyTorch
# on the CPU (bench/gpt_ref.py, the GPT class of /work/shared/reference/seed_gpt/gen.py),
# same model, same machine, same thread counts, in one run.
#
# Model: vocab 1024, d_model 128, 4 heads, 4 layers, max_ctx 256, post-norm ReLU.
# Measures (tokens/s):
#   train        batch 32 x 256: forward + cross-entropy + backward + grad-norm clip +
#                AdamW; median of TRAIN_STEPS steps after TRAIN_WARMUP (default 3 + 5)
#   gen-cache    prompt 128 + 128 new tokens, greedy, KV cache, prefill included,
#                batch 1 and 64; median of GEN_RUNS runs after 1 warmup run
#   gen-nocache  the same 128 new tokens, each by a full forward over the sequence so
#                far (prefill-equivalent first forward included); batch 1: median of
#                NOCACHE1_RUNS runs, batch 64: NOCACHE64_RUNS runs (default 1), no warmup
# PyTorch runs gen.py's attention as written (masked_fill + softmax, "plain", the
# comparison) and F.scaled_dot_product_attention ("fused", shown for reference; skipped
# for gen-nocache batch 64 unless FUSED_NOCACHE64=1, to keep the run short).
# Diagnostics (DIAG=1; off by default, +~3 min; training there is 1 warmup + 3 steps): training again
# with glibc malloc kept off mmap (both sides), and candlecast at 2 threads with
# CANDLE_NUM_THREADS=1 (see BENCHMARKS.md).
#
# Knobs (environment): THREADS, TRAIN_WARMUP, TRAIN_STEPS, GEN_RUNS, NOCACHE1_RUNS,
# NOCACHE64_RUNS, FUSED_NOCACHE64, DIAG, GEN_BATCHES ("1 64"), MODEL, ONLY, INPUTS.
# MODEL=default (the model above) or MODEL=base (issue 17): configs/base.toml's model and
# batch, vocab 1026, d_model 64, 4 heads, 2 layers, max_ctx 32, batch 32 x 32, with its
# three extra input embeddings (time_of_day 49, day_of_week 8, volume 9 ids, summed into
# the token embedding on both sides; INPUTS=0 leaves them out). MODEL=base measures
# training only (the 128-token prompts do not fit in 32 positions), with TRAIN_WARMUP 20
# and TRAIN_STEPS 200 by default, and candlecast's side also reports the data loading: a
# batch build by train.rs's window sampler (a copy in gpt_bench) against the median step
# of Trainer::run on a 300 x 4000-token corpus (see gpt_bench.rs). ~3 min on 2 cores.
# ONLY=train: the training measurements only (any MODEL). Both sides print their
# parameter count; the script stops if they differ.
# Threads: THREADS="1 2" (default). Per run: OMP_NUM_THREADS, MKL_NUM_THREADS,
# torch.set_num_threads, OMP_WAIT_POLICY=PASSIVE for PyTorch; RAYON_NUM_THREADS
# (candle's gemm) and CANDLE_NUM_THREADS (candle's element-wise pool) for candlecast.
#
# Installs torch from PyPI into bench/.venv-gpt (a CUDA build, ~5 GB, runs on the CPU):
# keep this script out of CI. Takes ~15 min on 2 cores (18 min with DIAG=1 at load 2-6).
#
# Usage: bench/gpt.sh [OUTPUT.md]   (prints a markdown report; also writes OUTPUT.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/candlecast-target}"
THREADS="${THREADS:-1 2}"
MODEL="${MODEL:-default}"
ONLY="${ONLY:-all}"
INPUTS="${INPUTS:-1}"
case "$MODEL" in
default) TW=3 TS=5 ;;
base) TW=20 TS=200 ;;
*) echo "MODEL must be default or base, not '$MODEL'" >&2; exit 2 ;;
esac
case "$ONLY" in
all | train) ;;
*) echo "ONLY must be all or train, not '$ONLY'" >&2; exit 2 ;;
esac
if [[ $MODEL == base && $ONLY != train ]]; then
    echo "== MODEL=base measures training only (ONLY=train)" >&2
    ONLY=train
fi
TRAIN_WARMUP="${TRAIN_WARMUP:-$TW}"
TRAIN_STEPS="${TRAIN_STEPS:-$TS}"
GEN_RUNS="${GEN_RUNS:-3}"
NOCACHE1_RUNS="${NOCACHE1_RUNS:-2}"
NOCACHE64_RUNS="${NOCACHE64_RUNS:-1}"
FUSED_NOCACHE64="${FUSED_NOCACHE64:-0}"
DIAG="${DIAG:-0}"
GEN_BATCHES="${GEN_BATCHES:-1 64}"
OUT_MD="${1:-}"
VENV="$ROOT/bench/.venv-gpt"
REF="$ROOT/bench/gpt_ref.py"
NO_MMAP="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"

log() { echo "== $*" >&2; }

# --- build -----------------------------------------------------------------------
log "cargo build --release -p candlecast-gpt --example gpt_bench (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release -p candlecast-gpt --example gpt_bench >&2
BIN="$CARGO_TARGET_DIR/release/examples/gpt_bench"

# --- Python environment ----------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c "import torch, safetensors, numpy" >/dev/null 2>&1; then
    log "pip install torch safetensors numpy (large download)"
    "$PY" -m pip install -q --disable-pip-version-check torch safetensors numpy >&2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
T0=$SECONDS

# run LABEL THREADS VARIANT -- command...: runs one measurement with the thread
# variables set, appends {"label","threads","variant","load", ...json} to RESULTS.
run() {
    local label="$1" t="$2" variant="$3"
    shift 4
    local load json
    load="$(cut -d' ' -f1 /proc/loadavg)"
    log "$label threads=$t $variant (load $load): $*"
    json="$(env -u CANDLE_NUM_THREADS OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$t" MKL_NUM_THREADS="$t" \
        RAYON_NUM_THREADS="$t" CANDLE_NUM_THREADS="$t" "$@" | tail -n 1)"
    echo "$json" >&2
    "$PY" - "$label" "$t" "$variant" "$load" "$json" >>"$RESULTS" <<'EOF'
import json, sys
label, t, variant, load, line = sys.argv[1:]
rec = json.loads(line)
rec.update(label=label, nthreads=int(t), variant=variant, load=float(load))
print(json.dumps(rec))
EOF
}

# The model of MODEL on both sides (gpt_bench and gpt_ref.py take the same flags).
MA=(--model "$MODEL" --inputs "$INPUTS")
cand() { run "$1" "$2" "$3" -- "$BIN" "${@:4}" "${MA[@]}"; }
torch_() { run "$1" "$2" "$3" -- "$PY" "$REF" "${@:4}" "${MA[@]}" --threads "$2"; }

for t in $THREADS; do
    TR=(--batch 32 --steps "$TRAIN_STEPS" --warmup "$TRAIN_WARMUP")
    cand train "$t" candlecast train "${TR[@]}"
    torch_ train "$t" torch-plain train "${TR[@]}"
    torch_ train "$t" torch-fused train "${TR[@]}" --attn fused
    [[ $ONLY == train ]] && continue
    for b in $GEN_BATCHES; do
        GC=(--batch "$b" --steps "$GEN_RUNS" --warmup 1)
        cand "gen-cache-b$b" "$t" candlecast gen-cache "${GC[@]}"
        torch_ "gen-cache-b$b" "$t" torch-plain gen-cache "${GC[@]}"
        torch_ "gen-cache-b$b" "$t" torch-fused gen-cache "${GC[@]}" --attn fused
        if [[ $b == 1 ]]; then runs=$NOCACHE1_RUNS; else runs=$NOCACHE64_RUNS; fi
        GN=(--batch "$b" --steps "$runs" --warmup 0)
        cand "gen-nocache-b$b" "$t" candlecast gen-nocache "${GN[@]}"
        torch_ "gen-nocache-b$b" "$t" torch-plain gen-nocache "${GN[@]}"
        if [[ $b == 1 || $FUSED_NOCACHE64 == 1 ]]; then
            torch_ "gen-nocache-b$b" "$t" torch-fused gen-nocache "${GN[@]}" --attn fused
        fi
    done
done

if [[ $DIAG == 1 ]]; then
    # Shorter: 1 warmup + 3 measured training steps (the base model: the usual counts,
    # its steps are short).
    TR=(--batch 32 --steps 3 --warmup 1)
    [[ $MODEL == base ]] && TR=(--batch 32 --steps "$TRAIN_STEPS" --warmup "$TRAIN_WARMUP")
    for t in $THREADS; do
        run train "$t" candlecast-nommap -- env GLIBC_TUNABLES="$NO_MMAP" "$BIN" train "${TR[@]}" \
            "${MA[@]}" --sampler 0
        run train "$t" torch-plain-nommap -- env GLIBC_TUNABLES="$NO_MMAP" "$PY" "$REF" train \
            "${TR[@]}" "${MA[@]}" --threads "$t"
    done
    if [[ " $THREADS " == *" 2 "* ]]; then
        # gemm on 2 rayon threads, element-wise kernels inline (no spinning pool).
        MS=("train ${TR[*]}")
        [[ $ONLY == train ]] || MS+=("gen-cache --batch 1 --steps $GEN_RUNS --warmup 1" \
            "gen-cache --batch 64 --steps $GEN_RUNS --warmup 1" \
            "gen-nocache --batch 1 --steps $NOCACHE1_RUNS --warmup 0")
        for m in "${MS[@]}"; do
            read -r -a M <<<"$m"
            label="${M[0]}"
            [[ $label == train ]] || label="$label-b${M[2]}"
            [[ $label == train ]] && M+=("${MA[@]}")
            run "$label" 2 candlecast-candle1 -- env CANDLE_NUM_THREADS=1 "$BIN" "${M[@]}"
        done
    fi
fi

ELAPSED=$((SECONDS - T0))
REPORT="$WORK/report.md"
"$PY" - "$RESULTS" "$STARTED" "$ELAPSED" "$TRAIN_WARMUP" "$TRAIN_STEPS" "$GEN_RUNS" \
    "$NOCACHE1_RUNS" "$NOCACHE64_RUNS" >"$REPORT" <<'EOF'
import json, platform, sys, os
path, started, elapsed, tw, ts, gr, n1, n64 = sys.argv[1:]
recs = [json.loads(l) for l in open(path) if l.strip()]
# Both sides must run the same model: one parameter count in every record.
counts = {(r["impl"], r.get("attn", "")): r.get("n_params") for r in recs}
if len(set(counts.values())) != 1:
    sys.exit(f"parameter counts differ between the two sides: {counts}")
n_params = next(iter(counts.values()))
model = recs[0].get("model", "default")
inputs = recs[0].get("inputs", "")
train_rec = next((r for r in recs if r["label"] == "train" and r["impl"] == "candlecast"), {})
seq = train_rec.get("seq", 256)
batch = train_rec.get("batch", 32)
def get(label, t, variant):
    for r in recs:
        if r["label"] == label and r["nthreads"] == t and r["variant"] == variant:
            return r
    return None
def tps(r):
    return None if r is None else r["tokens_per_s"]
def f(x, nd=0):
    return "–" if x is None else f"{x:,.{nd}f}"
def fx(x):
    return "–" if x is None else f"{x:,.1f}x"
def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b
threads = sorted({r["nthreads"] for r in recs})
cpu = "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
torch_v = next((r.get("torch") for r in recs if r.get("torch")), "?")
labels = [("train", f"train, batch {batch} x {seq}"),
          ("gen-cache-b1", "generate, KV cache, batch 1"),
          ("gen-nocache-b1", "generate, no cache, batch 1"),
          ("gen-cache-b64", "generate, KV cache, batch 64"),
          ("gen-nocache-b64", "generate, no cache, batch 64")]
out = []
out.append(f"Run {started}, {elapsed} s in all; {os.cpu_count()} CPUs ({cpu}); "
           f"torch {torch_v}; Python {platform.python_version()}.")
out.append(f"Model `{model}`: {n_params:,} parameters on both sides; extra input embeddings: "
           f"{inputs or 'none'}.")
gen_line = ("" if not any(r["label"].startswith("gen") for r in recs) else
            f" Generation: prompt 128 + 128 new tokens, greedy, prefill included; KV cache: median "
            f"of {gr} runs after 1 warmup; no cache: batch 1 median of {n1} runs, batch 64 {n64} "
            f"run(s), no warmup.")
out.append(f"Training: median of {ts} steps after {tw} warmup steps.{gen_line}")
out.append("")
out.append("| measurement | threads | candlecast tok/s | PyTorch tok/s (plain attention) | "
           "**ratio** candlecast / PyTorch | PyTorch fused SDPA tok/s (reference) | "
           "candlecast / fused | load (1-min) at start |")
out.append("|---|---|---|---|---|---|---|---|")
for t in threads:
    for lab, desc in labels:
        c = get(lab, t, "candlecast"); p = get(lab, t, "torch-plain"); fu = get(lab, t, "torch-fused")
        if c is None and p is None and fu is None:
            continue
        loads = "/".join(f"{r['load']:.2f}" for r in (c, p, fu) if r is not None)
        out.append(f"| {desc} | {t} | {f(tps(c))} | {f(tps(p))} | **{f(ratio(tps(c), tps(p)), 2)}** | "
                   f"{f(tps(fu))} | {f(ratio(tps(c), tps(fu)), 2)} | {loads} |")
sampled = [r for r in recs if r["variant"] == "candlecast" and "batch_build_share" in r]
if sampled:
    out.append("")
    out.append("Data loading (candlecast): one batch build by train.rs's window sampler (copy in "
               "gpt_bench; median of 500 builds on a " + sampled[0]["corpus"] + "-token corpus) "
               "against the median step of `Trainer::run` on that corpus (its own sampler inside):")
    out.append("")
    out.append("| threads | batch build | Trainer::run step | **share of a step** | "
               "Trainer::run tok/s | Trainer::run / PyTorch fused SDPA |")
    out.append("|---|---|---|---|---|---|")
    for r in sampled:
        fu = get("train", r["nthreads"], "torch-fused")
        out.append(f"| {r['nthreads']} | {r['median_batch_build_s'] * 1e6:.1f} µs | "
                   f"{r['trainer_run_median_step_s'] * 1e3:.2f} ms | "
                   f"**{100 * r['batch_build_share']:.3f}%** | {f(r['trainer_run_tokens_per_s'])} | "
                   f"{f(ratio(r['trainer_run_tokens_per_s'], tps(fu)), 2)} |")
if any(r["label"].startswith("gen") for r in recs):
    out.append("")
    out.append("Cache speedup (cached tok/s / no-cache tok/s; goal: >= 8x at batch 1, >= 50x at batch 64):")
    out.append("")
    out.append("| threads | batch | candlecast | PyTorch (plain) | PyTorch (fused) | candlecast goal |")
    out.append("|---|---|---|---|---|---|")
for t in (threads if any(r["label"].startswith("gen") for r in recs) else []):
    for b, goal in ((1, 8), (64, 50)):
        sp = {v: ratio(tps(get(f"gen-cache-b{b}", t, v)), tps(get(f"gen-nocache-b{b}", t, v)))
              for v in ("candlecast", "torch-plain", "torch-fused")}
        met = "–" if sp["candlecast"] is None else ("met" if sp["candlecast"] >= goal else "**missed**")
        out.append(f"| {t} | {b} | {fx(sp['candlecast'])} | {fx(sp['torch-plain'])} | "
                   f"{fx(sp['torch-fused'])} | >= {goal}x: {met} |")
diag = [r for r in recs if r["variant"] in ("candlecast-nommap", "torch-plain-nommap", "candlecast-candle1")]
if diag:
    out.append("")
    out.append("Diagnostics (not the comparison): `nommap` = run with "
               "`GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296` "
               "(large buffers reused instead of mmap/munmap + page faults each time); "
               "`candle1` = 2 gemm threads but `CANDLE_NUM_THREADS=1` (no spinning element-wise pool).")
    out.append("")
    out.append("| measurement | threads | variant | tok/s | vs default run of the same side | load (1-min) |")
    out.append("|---|---|---|---|---|---|")
    for r in diag:
        base_v = "torch-plain" if r["variant"].startswith("torch") else "candlecast"
        base = get(r["label"], r["nthreads"], base_v)
        desc = dict(labels).get(r["label"], r["label"])
        out.append(f"| {desc} | {r['nthreads']} | {r['variant']} | {f(r['tokens_per_s'])} | "
                   f"{fx(ratio(r['tokens_per_s'], tps(base)))} | {r['load']:.2f} |")
phase = [r for r in recs if r["variant"] in ("candlecast", "candlecast-nommap") and "median_forward_s" in r]
if phase:
    out.append("")
    out.append("candlecast training step phases (median s): " + "; ".join(
        f"{r['nthreads']} thr {r['variant']}: forward+loss {r['median_forward_s']:.4f}, backward "
        f"{r['median_backward_s']:.4f}, grad norm + AdamW {r['median_optim_s']:.4f}" for r in phase) + ".")
out.append("")
out.append("<details><summary>raw results (JSON lines)</summary>")
out.append("")
out.append("```")
out.extend(json.dumps(r) for r in recs)
out.append("```")
out.append("</details>")
print("\n".join(out))
EOF
cat "$REPORT"
if [[ -n "$OUT_MD" ]]; then
    cp "$REPORT" "$OUT_MD"
    log "wrote $OUT_MD"
fi
