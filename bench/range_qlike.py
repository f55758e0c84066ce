#!/usr/bin/env python3
"""Why `range_weight`: does a bar's high-low range make the scale a better variance
forecast? For each file (each symbol of a panel) of ../shared/data, the default
reverting scale (lambda 0.94, reversion 0.15, level half-life 200 bars, shock cap 4;
initial variance the mean squared return of the first 50 returns; gaps not
special-cased) stepped with the squared return

    (1 - w) r^2 + w q ln(H / L)^2,

q the series' own long-run ratio of squared close returns to squared log ranges
(means on the level's schedule, starting from a Brownian bar's 1 / (4 ln 2)), as
`VolState::observe` does, less its warm-up (the shock cap applies from the start).
Printed: the Gaussian QLIKE `ln F + r^2 / F` of the scale as the next bar's variance
forecast, for each w, minus that of w = 0 (negative is
better), over the training part (bars 50 to 80% of the file: what may choose w) and,
with --test, over the last 20% instead.

    python3 bench/range_qlike.py [--test] [DATA_DIR]     (default ../shared/data)
"""
import glob
import math
import os
import sys

from regime_quintiles import by_symbol  # one CSV-per-symbol reader for bench/

LAM, K, CAP, LEVEL_B = 0.94, 0.15, 4.0, 0.5 ** (1 / 200)
WEIGHTS = [0.0, 0.25, 0.5, 0.75]


def qlike(bars, w, test):
    c = [float(x["close"]) for x in bars]
    h = [float(x["high"]) for x in bars]
    lo = [float(x["low"]) for x in bars]
    idx = [i for i in range(1, len(c)) if c[i] > 0 and c[i - 1] > 0]
    r = [math.log(c[i] / c[i - 1]) for i in idx]
    p = [math.log(h[i] / lo[i]) ** 2 if h[i] > lo[i] > 0 else 0.0 for i in idx]
    fit = int(0.8 * len(r))
    lo_t, hi_t = (fit, len(r)) if test else (50, fit)
    v0 = sum(x * x for x in r[:50]) / 50 or 1e-12
    var = level = num = v0
    den = v0 * 4 * math.log(2)
    total, n = 0.0, 0
    for t, (rt, pt) in enumerate(zip(r, p)):
        if lo_t <= t < hi_t:
            total += math.log(var) + rt * rt / var
            n += 1
        q = num / den
        x = (1 - w) * rt * rt + w * q * pt
        cap = CAP * CAP * var
        x = min(x, cap)
        var = max((1 - K) * (LAM * var + (1 - LAM) * x) + K * level, v0 * 1e-6)
        level = LEVEL_B * level + (1 - LEVEL_B) * x
        num = LEVEL_B * num + (1 - LEVEL_B) * min(rt * rt, cap)
        den = max(LEVEL_B * den + (1 - LEVEL_B) * min(pt, cap / q), num * 1e-6, 1e-300)
    return total / n if n else float("nan"), n


def main():
    args = [a for a in sys.argv[1:] if a != "--test"]
    test = "--test" in sys.argv[1:]
    data = args[0] if args else "../shared/data"
    print("part:", "test (last 20%)" if test else "training (bars 50 to 80%)")
    print("| series | bars | " + " | ".join(f"w={w:g}" for w in WEIGHTS) + " |")
    print("|---|---:|" + "---:|" * len(WEIGHTS))
    better = [0] * len(WEIGHTS)
    diffs = [[] for _ in WEIGHTS]
    total = 0
    for path in sorted(glob.glob(os.path.join(data, "*.csv"))):
        name = os.path.basename(path)[:-4]
        for sym, bars in by_symbol(path).items():
            res = [qlike(bars, w, test) for w in WEIGHTS]
            base = res[0][0]
            label = f"{name}:{sym}" if sym else name
            print(f"| {label} | {res[0][1]} | " + " | ".join(f"{q - base:+.4f}" for q, _ in res) + " |")
            total += 1
            for i, (q, _) in enumerate(res):
                better[i] += q < base
                diffs[i].append(q - base)
    print()
    for w, b, d in zip(WEIGHTS[1:], better[1:], diffs[1:]):
        d = sorted(d)
        print(f"w={w:g}: mean {sum(d) / len(d):+.4f}, median {d[len(d) // 2]:+.4f}, lower on {b} of {total}")


if __name__ == "__main__":
    main()
