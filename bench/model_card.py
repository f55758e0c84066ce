"""The model card of the shipped base model (models/base/README.md), from the
`candlecast train --json` summary and the run folder; bench/base_model.sh calls it.

    python3 bench/model_card.py SUMMARY.json MODEL_DIR CALIBRATION_SCORECARD.json [ZERO_SHOT_TABLE.md]
"""
import json
import pathlib
import sys

summary = json.loads(pathlib.Path(sys.argv[1]).read_text())
run = pathlib.Path(sys.argv[2])
meta = json.loads((run / "meta.json").read_text())
calib = json.loads(pathlib.Path(sys.argv[3]).read_text())
zero_shot = pathlib.Path(sys.argv[4]).read_text() if len(sys.argv) > 4 else None
m, t = meta["model"], meta["train"]
syn = meta["extra"].get("synthetic")
cfg = meta["extra"]["tokenizer"]["tokenizer"]["config"]

print("# candlecast base model\n")
print("The model `candlecast forecast`, `evaluate` and `backtest` use when `--model` is not")
print("given, and that `candlecast train --init base` fine-tunes from. It is built into the")
print("binary (src/base.rs), so it works from any directory.\n")
print("Written by `bench/base_model.sh` (this file included): do not edit by hand.\n")
print("## Reproduce\n")
print("```")
print("INSTALL=1 bash bench/base_model.sh     # retrain, write models/base/ (same bytes)")
print("CHECK=1 bash bench/base_model.sh       # retrain, compare with models/base/")
print("```\n")
print("## Data\n")
print("Only the permissively licensed bundled files of `data/` (data/README.md: sources and")
print("licences) and synthetic markets from `candlecast synth` (README, \"Synthetic data\").")
print("Every series is split in time: training sees its first "
      f"{meta['extra']['split']['fit_fraction']:.0%}, of which the last "
      f"{meta['extra']['split']['val_fraction']:.0%} is validation; the rest is never seen,")
print("so `evaluate` on the bundled files scores the base model out of sample.\n")
if syn:
    print(f"Synthetic corpus: {syn['series']} series x {syn['bars']} bars, seed {syn['seed']}.\n")
print("| source | series | train tokens | tokens seen (expected) | val tokens | val bits/token | unigram bits/token |")
print("|---|---:|---:|---:|---:|---:|---:|")
for s in summary["sources"]:
    vb = "–" if s["val_bits"] is None else f"{s['val_bits']:.3f}"
    print(f"| {s['source']} | {s['series']} | {s['train_tokens']:,} | {s['tokens_seen']:,.0f} | {s['val_tokens']:,} | {vb} | {s['unigram_bits']:.3f} |")
print(f"| all | {sum(s['series'] for s in summary['sources'])} | {summary['train_tokens']:,} | "
      f"{summary['steps'] * t['batch_size'] * t['seq_len']:,} | {summary['val_tokens']:,} | "
      f"{summary['val_bits']:.3f} | {summary['unigram_bits']:.3f} |")
print()
print("Validation cross-entropy of the final (best-validation) weights per source, against the")
print("unigram baseline of that source (its validation tokens under its own training token")
print("frequencies, add-one smoothed). Tokens seen are expected values: training windows are")
print("drawn uniformly over all window starts.\n")
print("## Model and training\n")
print(f"- {summary['parameters']:,} parameters; vocabulary {summary['vocab_size']} "
      f"(tokenizer: {cfg['return_bins']} return bins x {cfg['wick_bins']} wick bins x 4 shapes, "
      f"scale `{cfg['scale']}`; inputs: calendar {str(cfg['calendar']).lower()}, volume bins {cfg['volume_input_bins']})")
print(f"- d_model {m['d_model']}, {m['n_head']} heads, {m['n_layer']} layers, context {m['max_ctx']} bars, "
      f"{m['norm']}-norm, {m['activation']}")
print(f"- {summary['steps']} steps of {t['batch_size']} x {t['seq_len']} tokens"
      f"{' (stopped early)' if summary['stopped_early'] else ''}, AdamW, lr {t['lr']} -> {t['min_lr']} "
      f"(cosine, {t['warmup_steps']} warmup), seed {t['seed']}")
print(f"- validation cross-entropy {summary['val_bits']:.3f} bits/token (at start {summary['start_val_bits']:.3f}); "
      f"wall time {summary['seconds']:.0f} s (2 threads on a 2-core machine)")
print("- config: `configs/base.toml`\n")
print("## Calibrated temperature\n")
print(f"Forecasts divide the logits by T = {meta['extra']['temperature']} unless `--temperature` is given:")
print("the geometric mean of the temperatures `evaluate --no-spread`'s `gpt-cal` fits by CRPS")
print("on the last 10% of each bundled series' training part (the model's own validation split;")
print("temperature and top-p only: a per-series spread has no meaning for one shipped T):\n")
print("| series | fitted T |\n|---|---:|")
for s in calib["series"]:
    print(f"| {s['series']} | {s['temperature']:.4f} |")
print()
if zero_shot:
    print("## Zero-shot scores\n")
    print("`bash bench/zero_shot.sh` (one-step relative CRPS, lower is better; files of")
    print("`../shared/data` the model never saw):\n")
    print("\n".join(l for l in zero_shot.splitlines() if not l.startswith("### ")).strip() + "\n")
