"""Table of bench/pretrain_finetune.sh: per file (first symbol of panels), the model's
one-step relative CRPS and 80% coverage against the bar, the card's best classical
forecaster (chosen on the validation slice: `bar` in scorecard.json)."""
import json
import pathlib
import sys

CLASSICAL = ["rw-ewma", "garch", "fhs", "fhs-range", "har", "fhs-seasonal"]
out = pathlib.Path(sys.argv[1])
rows = []
for card_path in sorted(out.glob("eval_*/scorecard.json")):
    card = json.loads(card_path.read_text())
    s = card["series"][0]  # first symbol of a panel
    by = {x["forecaster"]: x for x in s["scores"]}
    models = [f for f in by if f.startswith("gpt")]
    rows.append((card_path.parent.name[5:], s, by, models))
models = sorted({m for r in rows for m in r[3]})
head = "| file | n | " + " | ".join(CLASSICAL) + " | bar |"
for m in models:
    head += f" {m} | {m} cover80 | {m} meets bar |"
print(head)
print("|---|---:|" + "---:|" * len(CLASSICAL) + "---|" + "---:|---:|---|" * len(models))
for name, s, by, _ in rows:
    line = f"| {name} | {by['rw-const']['n']} |"
    for f in CLASSICAL:
        line += f" {by[f]['relative_crps']:.4f} |" if f in by else " - |"
    bar_name = s.get("bar") or min(CLASSICAL, key=lambda f: by[f]["relative_crps"])
    bar = by[bar_name]["relative_crps"]
    line += f" {bar_name} |"
    for m in models:
        if m not in by:
            line += " - | - | - |"
            continue
        g = by[m]
        ok = g["relative_crps"] <= bar and 0.77 <= g["coverage80"] <= 0.83
        line += f" {g['relative_crps']:.4f} | {g['coverage80']:.3f} | {'yes' if ok else 'no'} |"
    print(line)
