"""Per-file scores of `candlecast evaluate` folders (OUT/eval_*/scorecard.json), for
issue 17: the model (`gpt`, and `gpt-cal` for reference) one step ahead against
min(rw-ewma, garch) and against the card's bar, 80% coverage, and 24 bars ahead when
the cards have horizons. A panel file counts once: its relative CRPS is the geometric
mean over its series (the card's aggregate), its coverage the mean weighted by test
bars. The last lines are geometric means over the files.

    python3 bench/file_scores.py OUT [OUT2 ...]   (several: one table per folder)
"""
import json
import math
import pathlib
import sys

CLASSICAL = ["rw-const", "rw-ewma", "garch", "hs", "fhs", "fhs-range", "har", "fhs-seasonal"]


def file_scores(card):
    """{forecaster: (relative CRPS geomean, coverage80)} one step, and the same at
    the last horizon (or None)."""
    def pool(per_series):
        out = {}
        for f in per_series[0]:
            rs = [s[f] for s in per_series if f in s]
            n = sum(r["n"] for r in rs)
            out[f] = (
                math.exp(sum(math.log(r["relative_crps"]) for r in rs) / len(rs)),
                sum(r["coverage80"] * r["n"] for r in rs) / n,
            )
        return out
    one = pool([{x["forecaster"]: x for x in s["scores"]} for s in card["series"]])
    last = None
    if all(s.get("horizons") for s in card["series"]):
        H = max(h["horizon"] for h in card["series"][0]["horizons"])
        last = pool([{x["forecaster"]: x for h in s["horizons"] if h["horizon"] == H for x in h["scores"]} for s in card["series"]])
    return one, last


def bar_of(card):
    bars = {s["bar"] for s in card["series"]}
    return bars.pop() if len(bars) == 1 else None


for out in map(pathlib.Path, sys.argv[1:]):
    print(f"### {out}\n")
    print("| file | series | gpt | gpt-cal | min(rw-ewma, garch) | bar | cover80 gpt / gpt-cal | 24 bars: gpt / best classical |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    logs = {"gpt": [], "gpt-cal": [], "min2": [], "gpt24": [], "best24": []}
    wins = cover = n = 0
    for path in sorted(out.glob("eval_*/scorecard.json")):
        card = json.loads(path.read_text())
        one, last = file_scores(card)
        min2 = min(one["rw-ewma"][0], one["garch"][0])
        bar = bar_of(card)
        bar_s = f"{bar} {one[bar][0]:.4f}" if bar else "per series"
        s24 = "–"
        if last:
            best = min((f for f in CLASSICAL if f in last), key=lambda f: last[f][0])
            s24 = f"{last['gpt'][0]:.4f} / {best} {last[best][0]:.4f}"
            logs["gpt24"].append(math.log(last["gpt"][0]))
            logs["best24"].append(math.log(last[best][0]))
        n += 1
        wins += one["gpt"][0] < min2
        cover += 0.77 <= one["gpt"][1] <= 0.83
        for k, v in (("gpt", one["gpt"][0]), ("gpt-cal", one["gpt-cal"][0]), ("min2", min2)):
            logs[k].append(math.log(v))
        name = path.parent.name.removeprefix("eval_")
        print(f"| {name} | {len(card['series'])} | {one['gpt'][0]:.4f} | {one['gpt-cal'][0]:.4f} | {min2:.4f} | {bar_s} | {one['gpt'][1]:.3f} / {one['gpt-cal'][1]:.3f} | {s24} |")
    g = {k: math.exp(sum(v) / len(v)) if v else float("nan") for k, v in logs.items()}
    print()
    print(f"gpt below min(rw-ewma, garch) one step on {wins} of {n} files; 80% coverage in 0.77-0.83 on {cover} of {n}")
    print(f"geometric mean relative CRPS over files, one step: gpt {g['gpt']:.4f}, gpt-cal {g['gpt-cal']:.4f}, min(rw-ewma, garch) {g['min2']:.4f}")
    if logs["gpt24"]:
        print(f"24 bars: gpt {g['gpt24']:.4f}, best classical per file {g['best24']:.4f}")
    print()
