"""Choose between model options without the test part: for each run folder of
bench/pretrain_finetune.sh (or bench/zero_shot.sh), `gpt`'s mean one-step CRPS over
the bar's on the validation slice (the training part's last 10%, forecast from the
bars before it; `validation` in each scorecard.json), per file and as a geometric
mean. The bar is chosen and fitted on classical forecasters alone, so it is the same
in every run and the ratios compare across runs. The first run is the baseline the
others are counted against.

    python3 bench/choose_on_validation.py OUT_A OUT_B ...

The fine-tune stops early on the cross-entropy of these same bars, so each run's
figure is a little optimistic, every option alike; the test part is not read.
"""
import json
import math
import pathlib
import sys


def ratios(out):
    r = {}
    for card_path in sorted(pathlib.Path(out).glob("eval_*/scorecard.json")):
        s = json.loads(card_path.read_text())["series"][0]
        v = s.get("validation")
        if v and v["bar"] > 0:
            r[card_path.parent.name.removeprefix("eval_")] = v["gpt"] / v["bar"]
    return r


def gm(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


if len(sys.argv) < 2:
    sys.exit(__doc__)
runs = [(p, ratios(p)) for p in sys.argv[1:]]
files = sorted(set().union(*(r for _, r in runs)))
print("| file | " + " | ".join(pathlib.Path(p).name for p, _ in runs) + " |")
print("|---|" + "---:|" * len(runs))
for f in files:
    cells = [f"{r[f]:.4f}" if f in r else "–" for _, r in runs]
    print(f"| {f} | " + " | ".join(cells) + " |")
base = runs[0][1]
for p, r in runs:
    common = [f for f in files if f in r and f in base]
    lower = sum(r[f] < base[f] for f in common)
    below = sum(x < 1 for x in r.values())
    print(
        f"{pathlib.Path(p).name}: gm {gm([r[f] for f in common]):.4f} over {len(common)} files "
        f"(baseline {gm([base[f] for f in common]):.4f}); lower than the baseline on {lower}; "
        f"below the bar on {below} of {len(r)}"
    )
