"""Independent computation of the one-step baselines, for checking candlecast.

For each CSV given (normalised layout; panels: the first symbol in symbol order) it
computes, on close log-returns with the protocol of crates/forecast (first test bar
s = floor(0.8 n), every test bar an origin), the mean CRPS and the 80% central
interval coverage of:

  rw-const   N(0, mean(r_train^2))
  rw-ewma    N(0, v), v_{t+1} = 0.94 v_t + 0.06 r_t^2, v_1 = mean(r_train^2)
  garch      GARCH(1,1), constant mean, normal errors, variance-targeted intercept
             omega = (1 - alpha - beta) var(r_train), variance started at arch's
             backcast; maximum likelihood by scipy (bounded Nelder-Mead from several
             starts, then L-BFGS-B), the variance path by scipy.signal.lfilter.
             (`arch` 8 has no variance targeting; its unrestricted fit is reported
             as garch_arch_params for comparison.)
  fhs        EWMA-standardised training returns, rescaled by sqrt(v)
  fhs-range  the same with v driven by the Garman-Klass range variance
  har        the same with v the log-HAR forecast of the Garman-Klass variance d:
             ln d_{t+1} on [1, ln d_t, ln mean(d_{t-4..t}), ln mean(d_{t-21..t})]
             (windows shortened at the start, everything floored at 0.01 mean(d_train)),
             numpy lstsq on training, v = exp(fit) * mean(exp(residual))
  fhs-seasonal  fhs on r^2 / s, s = time-of-day (one bar interval per slot) times
             weekday profile of the bar at t_origin + interval, fitted in 3 passes
             of bucket means of r^2 / v shrunk with 30 pseudo-observations of 1;
             scale sqrt(s v). Daily bars: fhs. Bar times: pandas, naive read as UTC.

The code shares nothing with the Rust implementation: numpy/scipy for CRPS
(closed form for the normal, searchsorted + cumulative sums for the empirical)
and quantiles (numpy's linear interpolation). Prints one JSON object.
"""

import json
import math
import sys

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.signal import lfilter
from scipy.stats import norm

LAMBDA = 0.94
HAR_FLOOR = 0.01
SHRINK = 30.0
PASSES = 3
DAY_MS = 86_400_000


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


def backcast(e):
    tau = min(75, len(e))
    w = 0.94 ** np.arange(tau)
    return np.sum(e[:tau] ** 2 * w) / np.sum(w)


def garch_var(e, omega, alpha, beta, bc):
    """s2_0 = omega + (alpha + beta) bc, s2_t = omega + alpha e_{t-1}^2 + beta s2_{t-1}."""
    u = omega + alpha * np.concatenate([[bc], e[:-1] ** 2])
    return lfilter([1.0], [1.0, -beta], u, zi=[beta * bc])[0]


def fit_garch_vt(train):
    sd = train.std()
    x = train / sd
    bc = backcast(x - x.mean())
    var = np.var(x)

    def nll(p):
        mu, pers, share = p
        a, b = pers * share, pers * (1 - share)
        s2 = garch_var(x - mu, (1 - pers) * var, a, b, bc)
        if np.any(s2 <= 0):
            return np.inf
        return 0.5 * np.sum(np.log(s2) + (x - mu) ** 2 / s2)

    bounds = [(None, None), (0.0, 1.0 - 1e-12), (0.0, 1.0)]
    best = None
    for pers in (0.5, 0.9, 0.98):
        for share in (0.05, 0.3):
            r = minimize(nll, [x.mean(), pers, share], method="Nelder-Mead", bounds=bounds,
                         options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12})
            if best is None or r.fun < best.fun:
                best = r
    r = minimize(nll, best.x, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-10})
    if r.fun < best.fun:
        best = r
    mu, pers, share = best.x
    return mu * sd, (1 - pers) * var * sd * sd, pers * share, pers * (1 - share)


def har_variance(d, first):
    n = len(d)
    v0 = np.mean(d[:first])
    floor = HAR_FLOOR * v0
    cs = np.concatenate([[0.0], np.cumsum(d)])

    def mean(t, w):
        lo = max(0, t - w + 1)
        return (cs[t + 1] - cs[lo]) / (t + 1 - lo)

    lg = lambda a: math.log(max(a, floor))
    X = np.array([[1.0, lg(d[t]), lg(mean(t, 5)), lg(mean(t, 22))] for t in range(n)])
    y = np.log(np.maximum(d, floor))
    b, *_ = np.linalg.lstsq(X[: first - 1], y[1:first], rcond=None)
    smear = np.mean(np.exp(y[1:first] - X[: first - 1] @ b))
    v = np.empty(n)
    v[0] = v0
    v[1:] = np.exp(X[:-1] @ b) * smear
    return np.maximum(v, floor), b


def shrunk_profile(u, idx, nb):
    m = u.mean()
    s = np.bincount(idx, weights=u / m, minlength=nb)
    c = np.bincount(idx, minlength=nb)
    p = (s + SHRINK) / (c + SHRINK)
    return p / np.mean(p[idx])


def seasonal_scale(r, ts, split, first):
    """sqrt(s v) per return, or None for daily or longer bars."""
    d = np.sort(np.diff(ts[:split]))
    iv = int(d[len(d) // 2])  # the upper median, as the Rust code takes it
    if iv <= 0 or iv >= DAY_MS:
        return None
    nslots = -(-DAY_MS // iv)
    t = ts[:-1] + iv  # return i: origin bar i, forecast bar stamped t_i + interval
    slot = np.minimum((t % DAY_MS) // iv, nslots - 1).astype(int)
    wd = ((t // DAY_MS + 3) % 7).astype(int)  # Monday = 0
    tod, day = np.ones(nslots), np.ones(7)
    sq = r**2

    def ewma_on():
        f = tod[slot] * day[wd]
        x = sq / f
        v0 = np.mean(x[:first])
        return np.maximum(ewma(x, v0), v0 * 1e-6), f

    for _ in range(PASSES):
        v, _ = ewma_on()
        u = (sq / v)[:first]
        tod = shrunk_profile(u / day[wd[:first]], slot[:first], nslots)
        day = shrunk_profile(u / tod[slot[:first]], wd[:first], 7)
    v, f = ewma_on()
    return np.sqrt(v * f)


def timestamps_ms(df):
    t = pd.to_datetime(df["timestamp"], utc=True, format="mixed")
    return ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(np.int64)


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

    vh, b = har_variance(drivers, first)
    out["har"] = empirical_scores(train / np.sqrt(vh[:first]), np.sqrt(vh[first:]), y)
    out["har_coef"] = [float(x) for x in b]

    sc = seasonal_scale(r, timestamps_ms(df), s, first)
    if sc is None:
        out["fhs-seasonal"] = out["fhs"]
    else:
        out["fhs-seasonal"] = empirical_scores(train / sc[:first], sc[first:], y)

    mu, omega, alpha, beta = fit_garch_vt(train)
    e = r - mu
    var = garch_var(e, omega, alpha, beta, backcast(e[:first]))
    out["garch"] = normal_scores(mu, np.sqrt(var[first:]), y)
    out["garch_params"] = {"mu": mu, "omega": omega, "alpha": alpha, "beta": beta}

    am = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    res = am.fit(last_obs=first, disp="off")
    out["garch_arch_params"] = {k: float(vv) for k, vv in res.params.items()}
    return out


def main(paths):
    result = {}
    for p in paths:
        result[p.rsplit("/", 1)[-1]] = series_scores(load(p))
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
