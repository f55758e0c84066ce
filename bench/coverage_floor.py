"""How far an every-horizon coverage count can be trusted: issue 16 asks for 80%
coverage within 0.75-0.87 at *every* horizon 1..24 on 9 of 11 files. Coverage at 24
bars over overlapping 24-bar windows is a noisy count, so this asks what a perfect
forecaster would score: an oracle that knows the true distribution of an i.i.d. walk
(Gaussian, or Student t with 4 degrees of freedom), its central 80% interval checked
at the same origins as the evaluate run (read from its scorecards: each file's test
bars and multi-step origins), in Monte Carlo trials. Real returns cluster in
volatility, which we expect makes coverage noisier still (not simulated here).

    python3 bench/coverage_floor.py OUT [--max-origins N] [--trials T] [--goal G]

OUT holds eval_*/scorecard.json from `evaluate --horizon H` (bench/pretrain_finetune.sh,
bench/zero_shot.sh). --max-origins N lays the origins out as `evaluate --max-origins N`
would instead of as the run did (0: every test bar). Pure Python, seeded: the same
arguments print the same figures.
"""
import argparse
import json
import math
import pathlib
import random

LO, HI, NOMINAL = 0.75, 0.87, 0.8
Z90 = 1.2815515655446004  # the standard normal's 90% quantile


def layout(card_path):
    """(name, test bars, horizon, origins, spacing) of the card's first series."""
    card = json.loads(card_path.read_text())
    s = card["series"][0]
    test = next(x for x in s["scores"] if x["forecaster"] == "rw-const")["n"]
    hz = s.get("horizons") or []
    if not hz:
        return None
    horizon = max(h["horizon"] for h in hz)
    origins = next(h for h in hz if h["horizon"] == horizon)["origins"]
    # evaluate's origins: range(split - 1, n - H, every), i.e. test + 1 - H candidates.
    cand = test + 1 - horizon
    every = next((e for e in range(1, cand + 1) if -(-cand // e) == origins), 1)
    return card_path.parent.name.removeprefix("eval_"), test, horizon, origins, every


def t4():
    z = random.gauss(0.0, 1.0)
    v = sum(random.gauss(0.0, 1.0) ** 2 for _ in range(4))
    return z / math.sqrt(v / 4) / math.sqrt(2.0)  # unit variance


def half_widths(draw, horizon):
    """Half-width of the central 80% interval of the h-bar sum, h = 1..horizon."""
    if draw is None:
        return [Z90 * math.sqrt(h) for h in range(1, horizon + 1)]
    sums = [[] for _ in range(horizon)]
    for _ in range(20000):
        c = 0.0
        for h in range(horizon):
            c += draw()
            sums[h].append(abs(c))
    return [sorted(col)[int(NOMINAL * len(col))] for col in sums]


def pass_rate(draw, q, origins, every, trials):
    # A file with tens of thousands of origins gets fewer trials (at least 50).
    trials = max(50, min(trials, 20_000_000 // (origins * len(q))))
    gauss = draw is None
    horizon = len(q)
    span = (origins - 1) * every + horizon
    ok = 0
    for _ in range(trials):
        c = [0.0]
        for _ in range(span):
            c.append(c[-1] + (random.gauss(0.0, 1.0) if gauss else draw()))
        starts = range(0, origins * every, every)
        ok += all(
            LO <= sum(abs(c[j + h] - c[j]) < q[h - 1] for j in starts) / origins <= HI
            for h in range(1, horizon + 1)
        )
    return ok / trials, trials


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--max-origins", type=int, default=None)
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--goal", type=int, default=9)
    args = ap.parse_args()
    files = [x for x in map(layout, sorted(args.out.glob("eval_*/scorecard.json"))) if x]
    if not files:
        raise SystemExit(f"{args.out}: no eval_*/scorecard.json with multi-step scores")
    if args.max_origins is not None:
        relaid = []
        for name, test, horizon, _, _ in files:
            cand = test + 1 - horizon
            every = max(1, -(-test // args.max_origins)) if args.max_origins > 0 else 1
            relaid.append((name, test, horizon, -(-cand // every), every))
        files = relaid
    horizon = files[0][2]
    for label, draw in (("Gaussian", None), ("Student t(4)", t4)):
        random.seed(1)
        q = half_widths(draw, horizon)
        print(f"\n{label} i.i.d. walk, oracle forecaster, 80% coverage in {LO}-{HI} at every horizon 1..{horizon}")
        print("| file | test bars | origins | every | P(pass) (trials) |")
        print("|---|---:|---:|---:|---:|")
        probs = []
        for name, test, _, origins, every in files:
            p, n = pass_rate(draw, q, origins, every, args.trials)
            probs.append(p)
            print(f"| {name} | {test} | {origins} | {every} | {p:.3f} ({n} trials) |")
        dist = [1.0] + [0.0] * len(probs)  # the count's distribution (Poisson-binomial)
        for p in probs:
            dist = [dist[k] * (1 - p) + (dist[k - 1] * p if k else 0.0) for k in range(len(dist))]
        print(f"\nexpected count {sum(probs):.2f} of {len(probs)}; P(count >= {args.goal}) = {sum(dist[args.goal:]):.4f}")


if __name__ == "__main__":
    main()
