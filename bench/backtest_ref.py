"""Reference runs for the backtester (issues 7 and 18).

  python bench/backtest_ref.py parity FILE
      backtesting.py 0.6.6 on FILE (cash 10000, commission 0.002, exclusive orders):
      SmaCross(10, 20) on the closes and a buy-and-hold (`if not self.position:
      self.buy()`), each without and with finalize_trades. Prints, as JSON, every
      statistic backtesting.py reports, keyed by candlecast's metric names, with
      backtesting.py's label for each key. Times are written as candlecast writes
      them (RFC 3339, UTC, `Z`), durations as pandas prints them ("3116 days
      00:00:00"), NaN/NaT as null. tests/golden/backtesting_py/ holds its output
      for the GOOG and EURUSD files (the command is in the README there).
  python bench/backtest_ref.py bench ENGINE N SEED
      Times ENGINE (backtesting | vectorbt) on the seeded geometric random walk of
      N one-minute bars that `cargo run --example sma_bench` also generates
      (SplitMix64 counters, Box-Muller): sma-cross 10/20 with full stats, data
      generation excluded. Prints JSON: seconds (wall), cpu_seconds (user + system,
      all threads), bars per second, peak RSS (MB).
"""

import json
import os
import platform
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

# candlecast's key for each statistic backtesting.py 0.6.6 reports, in its order.
KEYS = {
    "start": "Start",
    "end": "End",
    "duration": "Duration",
    "exposure_pct": "Exposure Time [%]",
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "commissions": "Commissions [$]",
    "return_pct": "Return [%]",
    "buy_hold_return_pct": "Buy & Hold Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
    "alpha_pct": "Alpha [%]",
    "beta": "Beta",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "max_drawdown_duration": "Max. Drawdown Duration",
    "avg_drawdown_duration": "Avg. Drawdown Duration",
    "n_trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "max_trade_duration": "Max. Trade Duration",
    "avg_trade_duration": "Avg. Trade Duration",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "kelly_criterion": "Kelly Criterion",
}

CASH = 10_000
COMMISSION = 0.002


def sma_cross_class(fast, slow):
    from backtesting import Strategy
    from backtesting.lib import crossover

    def SMA(x, n):
        return pd.Series(x).rolling(n).mean()

    class SmaCross(Strategy):
        def init(self):
            self.f = self.I(SMA, self.data.Close, fast)
            self.s = self.I(SMA, self.data.Close, slow)

        def next(self):
            if crossover(self.f, self.s):
                self.buy()
            elif crossover(self.s, self.f):
                self.sell()

    return SmaCross


def buy_hold_class():
    from backtesting import Strategy

    class BuyHold(Strategy):
        def init(self):
            pass

        def next(self):
            if not self.position:
                self.buy()

    return BuyHold


def run_backtesting(df, finalize, strategy=None):
    from backtesting import Backtest

    bt = Backtest(df, strategy or sma_cross_class(10, 20), cash=CASH, commission=COMMISSION,
                  exclusive_orders=True, finalize_trades=finalize)
    return bt.run()


def as_json(stats):
    reported = [k for k in stats.index if not k.startswith("_")]
    missing = [k for k in reported if k not in KEYS.values()]
    if missing:
        raise SystemExit(f"backtesting.py reports statistics this script does not map: {missing}")
    out = {}
    for k, label in KEYS.items():
        # backtesting.py leaves out Commissions [$] when it is 0.
        v = stats.get(label, 0.0)
        if isinstance(v, pd.Timestamp):
            # Naive times are UTC to candlecast (daily session dates).
            v = v if v.tzinfo is None else v.tz_convert("UTC")
            out[k] = v.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(v, pd.Timedelta):
            out[k] = str(v)
        elif v is pd.NaT or v is None:
            out[k] = None
        else:
            v = float(v)
            out[k] = None if np.isnan(v) else v
    return out


def parity(path):
    import backtesting

    df = pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")
    df.columns = [c.capitalize() for c in df.columns]
    runs = []
    for name, cls in (("sma-cross:10,20", sma_cross_class(10, 20)), ("buy-hold", buy_hold_class())):
        for fin in (False, True):
            s = run_backtesting(df, fin, cls)
            runs.append({"strategy": name, "finalize": fin, "metrics": as_json(s)})
    print(json.dumps({
        "command": f"python bench/backtest_ref.py parity ../shared/data/{os.path.basename(path)}",
        "file": os.path.basename(path),
        "versions": {"backtesting": backtesting.__version__, "pandas": pd.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "broker": {"cash": CASH, "commission": COMMISSION, "exclusive_orders": True},
        "labels": list(KEYS.items()),
        "runs": runs,
    }, indent=1))


def walk(n, seed):
    """The seeded walk, vectorised; mirrors crates/backtest/examples/sma_bench.rs."""
    golden = np.uint64(0x9E3779B97F4A7C15)

    def mix(k):
        with np.errstate(over="ignore"):
            z = (np.uint64(seed) + (k + np.uint64(1)) * golden).astype(np.uint64)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)

    i = np.arange(n, dtype=np.uint64)
    u1, u2, u3, u4 = (mix(np.uint64(4) * i + np.uint64(j)) for j in range(4))
    r = 0.001 * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1.0 + 0.0005 * u3)
    low = np.minimum(open_, close) * (1.0 - 0.0005 * u4)
    idx = pd.to_datetime(1_577_836_800_000 + 60_000 * np.arange(n), unit="ms")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                         "Volume": np.ones(n)}, index=idx)


def bench_vectorbt(df):
    import vectorbt as vbt

    close = df["Close"]
    fast = close.rolling(10).mean()
    slow = close.rolling(20).mean()
    up = (fast.shift(1) < slow.shift(1)) & (fast > slow)
    down = (slow.shift(1) < fast.shift(1)) & (slow > fast)
    # Decided at the close, filled at the next open, long and short, as in the others.
    pf = vbt.Portfolio.from_signals(
        close, entries=up.shift(1, fill_value=False), exits=down.shift(1, fill_value=False),
        price=df["Open"], direction="both", fees=0.002, init_cash=10_000, freq="1min")
    st = pf.stats()
    return int(st["Total Trades"]), float(st["Total Return [%]"])


def bench(engine, n, seed):
    df = walk(n, seed)
    if engine == "vectorbt":
        bench_vectorbt(walk(10_000, seed))  # numba compiles on first use; not timed
    t0, c0 = time.perf_counter(), time.process_time()
    if engine == "backtesting":
        s = run_backtesting(df, False)
        trades = int(s["# Trades"])
        ret = float(s["Return [%]"])
    elif engine == "vectorbt":
        trades, ret = bench_vectorbt(df)
    else:
        raise SystemExit(f"unknown engine {engine}")
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"engine": engine, "bars": n, "seconds": dt, "cpu_seconds": cpu, "bars_per_s": n / dt,
                      "trades": trades, "return_pct": ret, "peak_rss_mb": rss}))


if __name__ == "__main__":
    if sys.argv[1] == "parity":
        parity(sys.argv[2])
    elif sys.argv[1] == "bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
