#!/usr/bin/env python3
"""Why the regime inputs (`regime_input_bins`): does the next bar's squared token
return depend on where the scale stands? For each file (each symbol of a panel) of
../shared/data: the default reverting scale (lambda 0.94, reversion 0.15, level
half-life 200 bars, shock cap 4; initial variance the mean squared return of the
first 50 returns; gaps are not special-cased here), z_t = r_t / sigma_t, and two
ratios known before bar t: var / level and an EWMA (0.94) of Parkinson's range
variance over var. Quintile edges from the first 70% of the returns; printed is the
mean z^2 in each quintile over the last 30%. A scale that said all there is to say
would give about 1 in every quintile.

    python3 bench/regime_quintiles.py [DATA_DIR]      (default ../shared/data)
"""
import csv
import glob
import math
import os
import sys

LAM, K, CAP, LEVEL_B = 0.94, 0.15, 4.0, 0.5 ** (1 / 200)


def by_symbol(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.setdefault(r.get("symbol", ""), []).append(r)
    return rows


def quintiles(bars):
    c = [float(x["close"]) for x in bars]
    h = [float(x["high"]) for x in bars]
    lo = [float(x["low"]) for x in bars]
    idx = [i for i in range(1, len(c)) if c[i] > 0 and c[i - 1] > 0]
    if len(idx) < 300:
        return None
    rets = [math.log(c[i] / c[i - 1]) for i in idx]
    v0 = sum(r * r for r in rets[:50]) / 50 or 1e-12
    var = level = park = v0
    out = []
    for i, r in zip(idx, rets):
        out.append((r * r / var, var / level, park / var))
        r2 = min(r * r, CAP * CAP * var)
        var = max((1 - K) * (LAM * var + (1 - LAM) * r2) + K * level, v0 * 1e-6)
        level = LEVEL_B * level + (1 - LEVEL_B) * r2
        hl = math.log(h[i] / lo[i]) if h[i] > 0 and lo[i] > 0 else 0.0
        park = LAM * park + (1 - LAM) * hl * hl / (4 * math.log(2))
    cut = int(len(out) * 0.7)
    res = []
    for j in (1, 2):
        fs = sorted(o[j] for o in out[:cut])
        edges = [fs[int(len(fs) * q / 5)] for q in range(1, 5)]
        bins = [[] for _ in range(5)]
        for o in out[cut:]:
            bins[sum(o[j] > e for e in edges)].append(o[0])
        res.append([round(sum(b) / len(b), 2) if b else None for b in bins])
    return res


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    print("| file | symbol | mean z^2 by quintile of var/level | by quintile of range var/var |")
    print("|---|---|---|---|")
    for p in sorted(glob.glob(os.path.join(data, "*.csv"))):
        for sym, bars in by_symbol(p).items():
            q = quintiles(bars)
            if q:
                name = os.path.basename(p)[:-4]
                print(f"| {name} | {sym} | {' '.join(map(str, q[0]))} | {' '.join(map(str, q[1]))} |")


if __name__ == "__main__":
    main()
