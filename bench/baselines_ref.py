"""Independent computation of the one-step baselines, for checking candlecast.

For each CSV given (normalised layout; panels: the first symbol in symbol order) it
computes, on close log-returns with the protocol of crates/forecast (first test bar
s = floor(0.8 n), every test bar an origin), the mean CRPS and the 80% central
interval coverage of:

  rw-const   N(0, mean(r_train^2))
  rw-ewma    N(0, v), v_{t+1} = 0.94 v_t + 0.06 r_t^2, v_1 = mean(r_train^2)
  garch      the `arch` package: arch_model(100 r, mean="Constant", vol="GARCH",
             p=1, q=1, dist="normal") fitted with last_obs = the first test return,
             one-step variance forecasts from res.forecast(start=...)
  fhs        EWMA-standardised training returns, rescaled by sqrt(v)
  fhs-range  the same with v driven by the Garman-Klass range variance

The code shares nothing with the Rust implementation: numpy/scipy for CRPS
(closed form for the normal, searchsorted + cumulative sums for the empirical)
and quantiles (numpy's linear interpolation). Prints one JSON object.
"""

import json
import math
import sys

import numpy as np
import pandas as pd
from scipy.stats import norm

LAMBDA = 0.94


def load(path):
    df = pd.read_csv(path)
    if "symbol" in df.columns:
        first = sorted(df["symbol"].unique())[0]
        df = df[df["symbol"] == first]
    return df.reset_index(drop=True)


def crps_normal(mu, sd, y):
    z = (y - mu) / sd
    return sd * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


def ewma(drivers, v0):
    v = np.empty(len(drivers))
    cur = v0
    for i, d in enumerate(drivers):
        v[i] = cur
        cur = LAMBDA * cur + (1 - LAMBDA) * d
    return v


def empirical_scores(z, scales, y):
    """CRPS and 80% coverage of scale * Z at y, Z the empirical distribution of z."""
    zs = np.sort(z)
    n = len(zs)
    csum = np.concatenate([[0.0], np.cumsum(zs)])
    i = np.arange(n)
    half_spread = np.sum(zs * (2 * i - n + 1)) / (n * n)  # E|Z-Z'| / 2
    u = y / scales
    k = np.searchsorted(zs, u, side="left")
    e_abs = (k * u - csum[k] + (csum[n] - csum[k]) - (n - k) * u) / n
    crps = scales * (e_abs - half_spread)
    lo, hi = np.quantile(zs, 0.1), np.quantile(zs, 0.9)
    cover = np.mean((y >= lo * scales) & (y <= hi * scales))
    return float(np.mean(crps)), float(cover)


def normal_scores(mu, sd, y):
    crps = crps_normal(mu, sd, y)
    lo = mu + sd * norm.ppf(0.1)
    hi = mu + sd * norm.ppf(0.9)
    return float(np.mean(crps)), float(np.mean((y >= lo) & (y <= hi)))


def series_scores(df):
    from arch import arch_model

    o, h, l, c = (df[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    n = len(c)
    s = int(math.floor(n * 0.8))
    r = np.log(c[1:] / c[:-1])
    first = s - 1  # index in r of the first test return
    train, y = r[:first], r[first:]
    out = {"bars": n, "test_returns": len(y)}

    v0 = np.mean(train**2)
    out["rw-const"] = normal_scores(0.0, np.full(len(y), math.sqrt(v0)), y)
    v = ewma(r**2, v0)
    out["rw-ewma"] = normal_scores(0.0, np.sqrt(v[first:]), y)
    out["fhs"] = empirical_scores(train / np.sqrt(v[:first]), np.sqrt(v[first:]), y)

    gk = 0.5 * np.log(h / l) ** 2 - (2 * math.log(2) - 1) * np.log(c / o) ** 2
    drivers = np.maximum(gk[1:], 0.0)
    g0 = np.mean(drivers[:first])
    vg = np.maximum(ewma(drivers, g0), g0 * 1e-6)
    out["fhs-range"] = empirical_scores(train / np.sqrt(vg[:first]), np.sqrt(vg[first:]), y)

    am = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    res = am.fit(last_obs=first, disp="off")
    fc = res.forecast(horizon=1, start=first - 1, reindex=False)
    var = fc.variance.to_numpy()[:, 0][: len(y)] / 100**2
    mu = res.params["mu"] / 100
    out["garch"] = normal_scores(mu, np.sqrt(var), y)
    out["garch_params"] = {k: float(vv) for k, vv in res.params.items()}
    return out


def main(paths):
    result = {}
    for p in paths:
        result[p.rsplit("/", 1)[-1]] = series_scores(load(p))
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
