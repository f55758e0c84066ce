"""Table of bench/pretrain_finetune.sh: per file (first symbol of panels), the model's
one-step relative CRPS and 80% coverage against the best of rw-ewma and garch."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
rows = []
for card_path in sorted(out.glob("eval_*/scorecard.json")):
    card = json.loads(card_path.read_text())
    s = card["series"][0]  # first symbol of a panel
    by = {x["forecaster"]: x for x in s["scores"]}
    models = [f for f in by if f.startswith("gpt")]
    rows.append((card_path.parent.name[5:], s, by, models))
models = sorted({m for r in rows for m in r[3]})
head = "| file | n | rw-ewma | garch | fhs | fhs-range |"
for m in models:
    head += f" {m} | {m} cover80 | {m} meets bar |"
print(head)
print("|---|---:|" + "---:|" * 4 + "---:|---:|---|" * len(models))
for name, s, by, _ in rows:
    line = f"| {name} | {by['rw-const']['n']} |"
    for f in ["rw-ewma", "garch", "fhs", "fhs-range"]:
        line += f" {by[f]['relative_crps']:.4f} |"
    bar = min(by["rw-ewma"]["relative_crps"], by["garch"]["relative_crps"])
    for m in models:
        if m not in by:
            line += " - | - | - |"
            continue
        g = by[m]
        ok = g["relative_crps"] <= bar and 0.77 <= g["coverage80"] <= 0.83
        line += f" {g['relative_crps']:.4f} | {g['coverage80']:.3f} | {'yes' if ok else 'no'} |"
    print(line)
