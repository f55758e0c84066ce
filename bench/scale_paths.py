"""Percentiles of |ln(C_500 / C_0)| over the paths of one `candlecast forecast --paths`
CSV, in units of the series' long-run volatility x sqrt(500): the root mean square
close log-return of the data file's first 80% (all returns, gaps included).

    python3 bench/scale_paths.py DATA.csv PATHS.csv LABEL
"""
import csv
import math
import sys

data, paths, label = sys.argv[1:4]
with open(data) as f:
    closes = [float(r["close"]) for r in csv.DictReader(f)]
c0 = closes[-1]
train = closes[: len(closes) * 4 // 5]
r2 = [math.log(b / a) ** 2 for a, b in zip(train, train[1:])]
unit = math.sqrt(sum(r2) / len(r2) * 500)
horizon = 0
ends = {}
with open(paths) as f:
    for r in csv.DictReader(f):
        step = int(r["step"])
        if step >= horizon:
            if step > horizon:
                horizon, ends = step, {}
            c = float(r["close"])
            ends[r["path"]] = abs(math.log(c / c0)) / unit if math.isfinite(c) else math.inf
v = sorted(ends.values())


def q(p):
    x = p * (len(v) - 1)
    i = int(x)
    return v[i] + (x - i) * (v[min(i + 1, len(v) - 1)] - v[i])


print(
    f"{data.split('/')[-1]:<34} {label:<9} paths {len(v)} step {horizon}: "
    f"p50 {q(0.5):.2f} p99 {q(0.99):.2f} p99.9 {q(0.999):.2f} max {v[-1]:.2f} "
    f"beyond 10: {sum(x > 10 for x in v)}"
)
