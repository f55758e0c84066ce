"""Issue 16's must-show counts from the scorecards of bench/pretrain_finetune.sh
(run with EVALUATE_FLAGS="--horizon 24 ..."): per file, the model (`gpt`, `gpt-cal`)
against the card's bar (the best classical forecaster, chosen on validation) and
against the classical forecaster that is best on the test part itself (a stricter
yardstick, chosen with hindsight), one step and 24 bars ahead; 24 bars ahead also
against the card's own bar at 24 bars (chosen on validation). Then `gpt-pool` (the
model pooled with the bar, its weight fitted on validation), apart: not the model
alone, so not counted for the model; it says whether the model knows something the
bar does not. Last, the goals asked of each classical forecaster in the model's place
(against the other classical ones): what the goals mean on this much data.

    python3 bench/issue16_summary.py OUT
"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
CLASSICAL = ["rw-const", "rw-ewma", "garch", "hs", "fhs", "fhs-range", "har", "fhs-seasonal"]
rows = []
print("| file | bar | gpt | gpt-cal | DM vs bar (gpt / gpt-cal) | test-best classical | cover80 gpt / gpt-cal | 24: best classical | 24: gpt / gpt-cal | 24: cover80 range 1..24 gpt / gpt-cal |")
print("|---|---|---:|---:|---|---|---|---|---|---|")
tally = {k: 0 for k in ["n", "lower_bar", "sig_better_bar", "sig_worse_bar", "lower_best", "cover1", "lower24", "cover24"]}
for card_path in sorted(out.glob("eval_*/scorecard.json")):
    card = json.loads(card_path.read_text())
    s = card["series"][0]
    sc = {x["forecaster"]: x for x in s["scores"]}
    bar = s["bar"]
    best = min((f for f in CLASSICAL if f in sc), key=lambda f: sc[f]["relative_crps"])
    model = {f: sc[f] for f in ("gpt", "gpt-cal") if f in sc}
    pick = min(model, key=lambda f: model[f]["relative_crps"])
    def dm(f):
        v = model[f].get("vs_bar") or {}
        return f"{v.get('statistic', float('nan')):+.2f}"
    def verdict(f):
        # vs_bar: Diebold-Mariano on (model - bar) per-origin CRPS; |t| > 1.96 at 5%.
        t = (model[f].get("vs_bar") or {}).get("statistic")
        if t is None:
            return "no test"
        if abs(t) <= 1.959964:
            return "no difference"
        return "better, significant" if t < 0 else "worse, significant"
    tally["n"] += 1
    better = [f for f in model if model[f]["relative_crps"] < sc[bar]["relative_crps"]]
    tally["lower_bar"] += bool(better)
    tally["sig_better_bar"] += any(verdict(f) == "better, significant" for f in better)
    tally["sig_worse_bar"] += all(verdict(f) == "worse, significant" for f in model)
    tally["lower_best"] += any(model[f]["relative_crps"] < sc[best]["relative_crps"] for f in model)
    tally["cover1"] += any(0.77 <= model[f]["coverage80"] <= 0.83 for f in model)
    hz = {h["horizon"]: {x["forecaster"]: x for x in h["scores"]} for h in s.get("horizons", [])}
    H = max(hz) if hz else None
    if H:
        best24 = min((f for f in CLASSICAL if f in hz[H]), key=lambda f: hz[H][f]["relative_crps"])
        m24 = {f: hz[H][f]["relative_crps"] for f in ("gpt", "gpt-cal") if f in hz[H]}
        tally["lower24"] += any(v <= hz[H][best24]["relative_crps"] for v in m24.values())
        cov = {f: [hz[h][f]["coverage80"] for h in sorted(hz) if f in hz[h]] for f in ("gpt", "gpt-cal")}
        tally["cover24"] += any(c and all(0.75 <= x <= 0.87 for x in c) for c in cov.values())
        c24 = " / ".join(f"{min(c):.2f}–{max(c):.2f}" if c else "–" for c in cov.values())
        s24 = f"{best24} {hz[H][best24]['relative_crps']:.4f} | " + " / ".join(f"{v:.4f}" for v in m24.values()) + f" | {c24}"
    else:
        s24 = "– | – | –"
    name = card_path.parent.name.removeprefix("eval_")
    print(f"| {name} | {bar} {sc[bar]['relative_crps']:.4f} | {model['gpt']['relative_crps']:.4f} | {model['gpt-cal']['relative_crps']:.4f} | {dm('gpt')} ({verdict('gpt')}) / {dm('gpt-cal')} ({verdict('gpt-cal')}) | {best} {sc[best]['relative_crps']:.4f} | {model['gpt']['coverage80']:.3f} / {model['gpt-cal']['coverage80']:.3f} | {s24} |")
t = tally
print()
print(f"one step: gpt or gpt-cal lower than the bar on {t['lower_bar']} of {t['n']} files, significantly (DM 5%) on {t['sig_better_bar']}, significantly worse (both) on {t['sig_worse_bar']}; lower than the test-best classical on {t['lower_best']}; 80% coverage in 0.77-0.83 on {t['cover1']}")
print(f"24 bars: gpt or gpt-cal at most the best classical on {t['lower24']} of {t['n']}; coverage in 0.75-0.87 at every horizon 1..24 on {t['cover24']}")

# The 24-bar goal against the card's bar at H bars (`horizon_bar`: the best classical
# forecaster of the H-bar return chosen on the validation slice, as the one-step bar
# is chosen; the test-part minimum where the slice has too few origins), the
# counterpart of the one-step counts above, beside the hindsight count just printed.
hrows, hn, hlow, hsig, hworse = [], 0, 0, 0, 0
for card_path in sorted(out.glob("eval_*/scorecard.json")):
    s = json.loads(card_path.read_text())["series"][0]
    hb = s.get("horizon_bar")
    if not hb or not s.get("horizons"):
        continue
    last = {x["forecaster"]: x for x in s["horizons"][-1]["scores"]}
    H = s["horizons"][-1]["horizon"]
    m = {f: last[f] for f in ("gpt", "gpt-cal") if f in last}
    t24 = {f: (m[f].get("vs_bar") or {}).get("statistic") for f in m}
    hn += 1
    low = [f for f in m if m[f]["relative_crps"] <= last[hb]["relative_crps"]]
    hlow += bool(low)
    hsig += any(t24[f] is not None and t24[f] < -1.959964 for f in low)
    hworse += all(t24[f] is not None and t24[f] > 1.959964 for f in m)
    dms = " / ".join(f"{t24[f]:+.2f}" if t24[f] is not None else "–" for f in m)
    name = card_path.parent.name.removeprefix("eval_")
    hrows.append(f"| {name} | {hb} ({s.get('horizon_bar_chosen_on')}) {last[hb]['relative_crps']:.4f} | " + " / ".join(f"{m[f]['relative_crps']:.4f}" for f in m) + f" | {dms} |")
if hrows:
    print(f"\n{H} bars against the card's bar at {H} bars (chosen on the validation slice, as the one-step bar is):\n")
    print(f"| file | bar at {H} (chosen on) | {H}: gpt / gpt-cal | DM vs that bar (gpt / gpt-cal) |")
    print("|---|---|---|---|")
    print("\n".join(hrows))
    print(f"\n{H} bars: gpt or gpt-cal at most the card's bar at {H} bars on {hlow} of {hn}, significantly better (DM 5%) on {hsig}, significantly worse (both) on {hworse}")

pool = []
for card_path in sorted(out.glob("eval_*/scorecard.json")):
    s = json.loads(card_path.read_text())["series"][0]
    sc = {x["forecaster"]: x for x in s["scores"]}
    if "gpt-pool" in sc:
        pool.append((card_path.parent.name.removeprefix("eval_"), s, sc))
if pool:
    print()
    print("| file | bar | w on gpt | gpt-pool | DM vs bar | verdict | cover80 |")
    print("|---|---|---:|---:|---:|---|---:|")
    n_low = n_sig = n_worse = n_zero = 0
    for name, s, sc in pool:
        p, bar = sc["gpt-pool"], s["bar"]
        t = (p.get("vs_bar") or {}).get("statistic")
        v = "no test (w = 0: the bar itself)" if t is None else ("no difference" if abs(t) <= 1.959964 else ("better, significant" if t < 0 else "worse, significant"))
        n_low += p["relative_crps"] < sc[bar]["relative_crps"]
        n_sig += v == "better, significant"
        n_worse += v == "worse, significant"
        n_zero += s.get("pool_weight") == 0
        dm = "–" if t is None else f"{t:+.2f}"
        print(f"| {name} | {bar} {sc[bar]['relative_crps']:.4f} | {s.get('pool_weight', float('nan')):.3f} | {p['relative_crps']:.4f} | {dm} | {v} | {p['coverage80']:.3f} |")
    print()
    print(f"gpt-pool: lower than the bar on {n_low} of {len(pool)} files, significantly (DM 5%) on {n_sig}, significantly worse on {n_worse}; weight 0 (the bar alone) on {n_zero}")

# The goals applied to each classical forecaster in the model's place: how often does
# it meet "at most the best classical at 24 bars" against the other classical ones,
# and the coverage bands? A yardstick for the goals themselves: on a handful of
# overlapping 24-bar windows a forecaster wins or covers partly by chance
# (bench/coverage_floor.py asks the same of an oracle).
cards = [json.loads(p.read_text())["series"][0] for p in sorted(out.glob("eval_*/scorecard.json"))]
cards = [s for s in cards if s.get("horizons")]
if cards:
    print()
    # With the card's bar at 24 bars: how often a forecaster is at most that bar
    # where it is not the bar itself (a classical one is its own bar on some files).
    has_hbar = all(s.get("horizon_bar") for s in cards)
    extra = " | 24 bars at most the card's bar at 24, where not that bar" if has_hbar else ""
    print(f"| forecaster | 24 bars at most the best other classical | cover80 in 0.75-0.87 at every horizon | one-step cover80 in 0.77-0.83{extra} |")
    print("|---|---:|---:|---:|" + ("---:|" if has_hbar else ""))
    for k in CLASSICAL + ["gpt", "gpt-cal"]:
        n24 = ncov = n1 = nh = mh = 0
        for s in cards:
            hz = {h["horizon"]: {x["forecaster"]: x for x in h["scores"]} for h in s["horizons"]}
            H = max(hz)
            if k not in hz[H]:
                continue
            others = [f for f in CLASSICAL if f != k and f in hz[H]]
            n24 += hz[H][k]["relative_crps"] <= min(hz[H][f]["relative_crps"] for f in others)
            ncov += all(0.75 <= hz[h][k]["coverage80"] <= 0.87 for h in hz if k in hz[h])
            one = {x["forecaster"]: x for x in s["scores"]}
            n1 += 0.77 <= one[k]["coverage80"] <= 0.83
            hb = s.get("horizon_bar")
            if hb and hb != k and hb in hz[H]:
                mh += 1
                nh += hz[H][k]["relative_crps"] <= hz[H][hb]["relative_crps"]
        cell = f" | {nh} of {mh}" if has_hbar else ""
        print(f"| {k} | {n24} of {len(cards)} | {ncov} | {n1}{cell} |")
