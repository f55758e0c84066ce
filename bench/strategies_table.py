#!/usr/bin/env python3
"""bench/strategies.sh's table: per file, buy-and-hold and the three model
strategies from OUT/bt_<file>_<strategy>/stats.json."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
names = sys.argv[2:]
strategies = ["forecast-threshold", "forecast", "vol-target", "vol-target-1"]
labels = {"vol-target-1": "vol-target:horizon=1"}


def num(x, fmt):
    return "-" if x is None else format(x, fmt)


def row(name, label, m, vs):
    if vs is None:
        verdict = "-"
    else:
        verdict = (f"{vs['verdict'].replace('_', ' ')}: "
                   f"{vs['sharpe_diff']:+.2f} [{num(vs['ci_low'], '+.2f')}, {num(vs['ci_high'], '+.2f')}]")
    return (f"| {name} | {label} | {num(m['return_pct'], '.1f')} | {num(m['sharpe'], '.2f')} | "
            f"{num(m['max_drawdown_pct'], '.1f')} | {m['n_trades']} | {num(m['commissions'], '.0f')} | {verdict} |")


print("| file (window) | strategy | return % | Sharpe | max drawdown % | trades | commissions $ | vs buy-and-hold: mean/sd Sharpe diff [95% CI] |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for name in names:
    stats = {s: json.loads((out / f"bt_{name}_{s}" / "stats.json").read_text()) for s in strategies}
    first = stats[strategies[0]]
    w = first["window"]
    where = f"{name} ({w['start'][:10]} to {w['end'][:10]}, {w['bars']} bars)"
    bh = next(c for c in first["compare"] if c["strategy"] == "buy-hold")
    print(row(where, "buy-hold", bh["metrics"], None))
    for s in strategies:
        print(row(name, labels.get(s, s), stats[s]["metrics"], stats[s]["vs_buy_hold"]))
