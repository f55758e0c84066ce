"""Choose between model options without the test part: for each run folder of
bench/pretrain_finetune.sh (or bench/zero_shot.sh), `gpt`'s mean one-step CRPS over
the bar's on the validation slice (the training part's last 10%, forecast from the
bars before it; `validation` in each scorecard.json), per file and as a geometric
mean. The bar is chosen and fitted on classical forecasters alone, so it is the same
in every run and the ratios compare across runs. The first run is the baseline the
others are counted against.

    python3 bench/choose_on_validation.py OUT_A OUT_B ... [--min-targets N]

Each run's geometric mean is printed twice: over every file, and over the files
whose slice has at least N targets (default 50): monthly bitcoin's slice holds 12
bars, whose ratio moves by 1-2% between runs and outweighs every other file.
The fine-tune stops early on the cross-entropy of these same bars, so each run's
figure is a little optimistic, every option alike; the test part is not read.
"""
import json
import math
import pathlib
import sys


def ratios(out, min_targets=0):
    r = {}
    for card_path in sorted(pathlib.Path(out).glob("eval_*/scorecard.json")):
        s = json.loads(card_path.read_text())["series"][0]
        v = s.get("validation")
        if v and v["bar"] > 0 and v["targets"] >= min_targets:
            r[card_path.parent.name.removeprefix("eval_")] = v["gpt"] / v["bar"]
    return r


def gm(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


args = sys.argv[1:]
min_targets = 50
if "--min-targets" in args:
    i = args.index("--min-targets")
    min_targets = int(args[i + 1])
    del args[i : i + 2]
if not args:
    sys.exit(__doc__)
runs = [(p, ratios(p), ratios(p, min_targets)) for p in args]
files = sorted(set().union(*(r for _, r, _ in runs)))
print("| file | " + " | ".join(pathlib.Path(p).name for p, _, _ in runs) + " |")
print("|---|" + "---:|" * len(runs))
for f in files:
    cells = [f"{r[f]:.4f}" if f in r else "–" for _, r, _ in runs]
    print(f"| {f} | " + " | ".join(cells) + " |")
base, base_big = runs[0][1], runs[0][2]


def line(r, b):
    common = [f for f in r if f in b]
    lower = sum(r[f] < b[f] for f in common)
    return f"gm {gm([r[f] for f in common]):.4f} (baseline {gm([b[f] for f in common]):.4f}) over {len(common)}, lower than the baseline on {lower}"


for p, r, big in runs:
    below = sum(x < 1 for x in r.values())
    print(
        f"{pathlib.Path(p).name}: all files {line(r, base)}; slices of {min_targets}+ targets "
        f"{line(big, base_big)}; below the bar on {below} of {len(r)}"
    )
