"""Table of bench/ablation.sh: per variant, the geometric mean over series of the
one-step and 24-step CRPS relative to `rw-const`, for `gpt` and `gpt-cal`, beside
the classical forecasters of the first variant's card (their scores do not depend on
the model) and 80% coverage at 24 bars.

    python3 bench/ablation_table.py OUT VARIANT...
"""
import json
import math
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
variants = sys.argv[2:]
cards = {v: json.loads((out / f"eval_{v}" / "scorecard.json").read_text()) for v in variants}


def per_series(card, forecaster, horizon):
    """Relative CRPS and 80% coverage per series at `horizon` (1 = the exact one-step card)."""
    rel, cov = [], []
    for s in card["series"]:
        if horizon == 1:
            scores = s["scores"]
        else:
            hs = [h for h in s["horizons"] if h["horizon"] == horizon]
            if not hs:
                continue
            scores = hs[0]["scores"]
        x = next((x for x in scores if x["forecaster"] == forecaster), None)
        if x is not None:
            rel.append(x["relative_crps"])
            cov.append(x["coverage80"])
    return rel, cov


def gm(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


first = cards[variants[0]]
H = max(h["horizon"] for h in first["series"][0]["horizons"])
print(f"| forecaster | one step | {H} bars | cover80 at {H} (range over series) |")
print("|---|---:|---:|---|")
classical = [a["forecaster"] for a in first["aggregate"] if not a["forecaster"].startswith("gpt")]
for f in classical:
    r1, _ = per_series(first, f, 1)
    rh, ch = per_series(first, f, H)
    print(f"| {f} | {gm(r1):.4f} | {gm(rh):.4f} | {min(ch):.2f}–{max(ch):.2f} |" if ch else f"| {f} | {gm(r1):.4f} | – | – |")
bars = [(s["series"], s["bar"]) for s in first["series"]]
best1 = gm([next(x["relative_crps"] for x in s["scores"] if x["forecaster"] == s["bar"]) for s in first["series"]])
print(f"| the bar (best classical per series, chosen on validation) | {best1:.4f} | | |")
for v in variants:
    for f in ("gpt", "gpt-cal"):
        r1, _ = per_series(cards[v], f, 1)
        rh, ch = per_series(cards[v], f, H)
        if not r1:
            continue
        cover = f"{min(ch):.2f}–{max(ch):.2f}" if ch else "–"
        print(f"| {f} {v} | {gm(r1):.4f} | {gm(rh):.4f} | {cover} |")
print()
print("bar per series: " + ", ".join(f"{pathlib.Path(n).name}: {b}" for n, b in bars))
