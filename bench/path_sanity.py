"""Summarises bench/path_sanity.sh: per series, whether every path bar is finite and
the 99.9th percentile of |ln(C_H / C_0)| against 10 x sigma x sqrt(H), where sigma is
the standard deviation of the series' close-to-close log-returns over the whole file.

    python3 bench/path_sanity.py DATA_DIR OUT_DIR HORIZON
"""
import csv
import math
import pathlib
import sys
from collections import defaultdict

data, out, horizon = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])


def closes(path):
    """Close prices per series name as `forecast` names them (FILE or FILE:SYMBOL)."""
    by = defaultdict(list)
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        for row in r:
            key = f"{path}:{row['symbol']}" if "symbol" in row else str(path)
            by[key].append(float(row["close"]))
    return by


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return math.nan
    i = q * (len(xs) - 1)
    lo, hi = math.floor(i), math.ceil(i)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


print(f"| series | paths | non-finite bars | sigma | q99.9 of abs ln(C_{horizon}/C_0) | bound 10 sigma sqrt({horizon}) | ratio | sane |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
n_ok = n_all = 0
for src in sorted(data.glob("*.csv")):
    f = src.stem
    paths_file = out / f"{f}.paths.csv"
    series_closes = closes(src)
    # forecast names series by the path it was given: ../shared/data/NAME.csv
    if not paths_file.exists():
        for name in sorted(series_closes):
            n_all += 1
            print(f"| {pathlib.Path(name).name} | 0 | – | – | – | – | – | no (forecast failed: {out / (f + '.log')}) |")
        continue
    final = defaultdict(dict)
    bad = defaultdict(int)
    with open(paths_file, newline="") as fh:
        for row in csv.DictReader(fh):
            vals = [float(row[k]) for k in ("open", "high", "low", "close")]
            if not all(math.isfinite(v) and v > 0 for v in vals):
                bad[row["series"]] += 1
            if int(row["step"]) == horizon:
                final[row["series"]][row["path"]] = vals[3]
    for name in sorted(final):
        # Panel symbols may hold a "/" (ADA/BTC): match the whole name, which is the
        # path forecast was given, plus ":SYMBOL" for panels.
        c = series_closes.get(name)
        if c is None:
            c = next(v for k, v in series_closes.items() if pathlib.Path(k).name == pathlib.Path(name).name)
        key = name.split(str(data) + "/")[-1]
        r = [math.log(b / a) for a, b in zip(c, c[1:]) if a > 0 and b > 0]
        m = sum(r) / len(r)
        sigma = math.sqrt(sum((x - m) ** 2 for x in r) / (len(r) - 1))
        moves = [abs(math.log(v / c[-1])) for v in final[name].values()]
        q = quantile(moves, 0.999)
        bound = 10 * sigma * math.sqrt(horizon)
        ok = bad[name] == 0 and q < bound
        n_all += 1
        n_ok += ok
        print(f"| {key} | {len(moves)} | {bad[name]} | {sigma:.5f} | {q:.4f} | {bound:.4f} | {q / bound:.3f} | {'yes' if ok else 'no'} |")
print(f"\nsane: {n_ok} of {n_all} series")
