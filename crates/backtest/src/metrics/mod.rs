//! The numbers a backtest is judged by, with DESIGN.md's snake_case names and
//! backtesting.py 0.6.6's definitions (risk-free rate 0): every statistic it
//! reports, in its order.

mod drawdown;
mod periods;
mod span;
mod trades;

pub use drawdown::{drawdown_stats, drawdowns, Drawdowns};
pub use periods::{annualisation, bar_spacing, geometric_mean, period_returns, Period};
pub use span::Span;
pub use trades::{trade_stats, TradeStats};

use crate::engine::{Run, Trade};
use candlecast_data::{Series, Timestamp};
use serde::{Serialize, Serializer};

/// Each metric's key (in `stats.json`) and backtesting.py's label for it, in the
/// order backtesting.py prints them. Drives the printed table, the report and
/// the parity tests.
pub const METRICS: &[(&str, &str)] = &[
    ("start", "Start"),
    ("end", "End"),
    ("duration", "Duration"),
    ("exposure_pct", "Exposure Time [%]"),
    ("equity_final", "Equity Final [$]"),
    ("equity_peak", "Equity Peak [$]"),
    ("commissions", "Commissions [$]"),
    ("return_pct", "Return [%]"),
    ("buy_hold_return_pct", "Buy & Hold Return [%]"),
    ("return_ann_pct", "Return (Ann.) [%]"),
    ("volatility_ann_pct", "Volatility (Ann.) [%]"),
    ("cagr_pct", "CAGR [%]"),
    ("sharpe", "Sharpe Ratio"),
    ("sortino", "Sortino Ratio"),
    ("calmar", "Calmar Ratio"),
    ("alpha_pct", "Alpha [%]"),
    ("beta", "Beta"),
    ("max_drawdown_pct", "Max. Drawdown [%]"),
    ("avg_drawdown_pct", "Avg. Drawdown [%]"),
    ("max_drawdown_duration", "Max. Drawdown Duration"),
    ("avg_drawdown_duration", "Avg. Drawdown Duration"),
    ("n_trades", "# Trades"),
    ("win_rate_pct", "Win Rate [%]"),
    ("best_trade_pct", "Best Trade [%]"),
    ("worst_trade_pct", "Worst Trade [%]"),
    ("avg_trade_pct", "Avg. Trade [%]"),
    ("max_trade_duration", "Max. Trade Duration"),
    ("avg_trade_duration", "Avg. Trade Duration"),
    ("profit_factor", "Profit Factor"),
    ("expectancy_pct", "Expectancy [%]"),
    ("sqn", "SQN"),
    ("kelly_criterion", "Kelly Criterion"),
];

/// One statistic's value, whatever its kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Number(f64),
    Count(usize),
    Time(Timestamp),
    /// `None` where backtesting.py has NaT (no trades, no finished drawdown).
    Span(Option<Span>),
}

impl Stat {
    /// The value as a number; `None` for times and spans.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Stat::Number(x) => Some(x),
            Stat::Count(n) => Some(n as f64),
            Stat::Time(_) | Stat::Span(_) => None,
        }
    }
}

fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.to_rfc3339())
}

/// A run's statistics. Undefined values (no trades, no losing trade, zero
/// volatility) are NaN, written as `null` in JSON; times are RFC 3339 and
/// durations are written as pandas prints them ("3116 days 00:00:00"), both
/// exactly as backtesting.py reports them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// The first and the last bar of the window, and the time between them.
    #[serde(serialize_with = "rfc3339")]
    pub start: Timestamp,
    #[serde(serialize_with = "rfc3339")]
    pub end: Timestamp,
    pub duration: Span,
    pub exposure_pct: f64,
    pub equity_final: f64,
    pub equity_peak: f64,
    pub commissions: f64,
    pub return_pct: f64,
    /// From the close of the bar before the strategy's first decision (its
    /// warm-up, as backtesting.py measures it) to the last close.
    pub buy_hold_return_pct: f64,
    pub return_ann_pct: f64,
    pub volatility_ann_pct: f64,
    /// Compounded yearly growth over the calendar time of the window (365.25-day years).
    pub cagr_pct: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    /// Jensen's alpha: the return beyond `beta` times the buy-and-hold return.
    pub alpha_pct: f64,
    /// Covariance of the equity's and the close's bar log-returns over the close's variance.
    pub beta: f64,
    pub max_drawdown_pct: f64,
    pub avg_drawdown_pct: f64,
    /// Rounded up to the bar spacing's resolution (a day for daily bars, an hour for hourly).
    pub max_drawdown_duration: Option<Span>,
    pub avg_drawdown_duration: Option<Span>,
    pub n_trades: usize,
    pub win_rate_pct: f64,
    pub best_trade_pct: f64,
    pub worst_trade_pct: f64,
    pub avg_trade_pct: f64,
    pub max_trade_duration: Option<Span>,
    pub avg_trade_duration: Option<Span>,
    pub profit_factor: f64,
    pub expectancy_pct: f64,
    pub sqn: f64,
    pub kelly_criterion: f64,
}

/// (equity, market) bar log-returns' covariance over the market's variance
/// (backtesting.py's `np.cov`, ddof 1); NaN for fewer than two returns.
///
/// One pass, storing nothing (a million bars would need 16 MB). The mean
/// log-return is taken from the end points, `ln(last / first) / n`, which
/// equals the mean of the bar log-returns up to rounding, and the centred sums
/// are insensitive to a mean's rounding (its error multiplies the sum of the
/// other series' deviations, which is 0). Each bar's two log-returns come from
/// [`ln_ratios`], not a library logarithm: the logarithms were most of the
/// statistics' cost.
fn beta(equity: &[f64], close: &[f64]) -> f64 {
    let n = equity.len().min(close.len()).saturating_sub(1);
    if n < 2 {
        return f64::NAN;
    }
    let mean = |x: &[f64]| (x[n] / x[0]).ln() / n as f64;
    let (me, mm) = (mean(equity), mean(close));
    let (mut cov, mut var) = (0.0, 0.0);
    for i in 0..n {
        let (x, y) = ln_ratios(equity[i + 1], equity[i], close[i + 1], close[i]);
        let (x, y) = (x - me, y - mm);
        cov += x * y;
        var += y * y;
    }
    let f = 1.0 / (n - 1) as f64;
    (cov * f) / (var * f)
}

/// `ln(a / b)` at a fraction of the library's cost for the ratios of
/// neighbouring bars, and within 2.5e-16 of `(a / b).ln()` (whose own error is
/// mostly the rounding of `a / b`, up to 1.1e-16 absolute): `2 atanh(s)` with
/// `s = (a - b) / (a + b)` (exact algebra; `a - b` is exact when the two are
/// within a factor of two) by [`two_atanh`] for `|s| <= 0.01`, i.e. moves of up
/// to 2%. Larger moves, and anything not finite and positive, take `f64::ln`.
#[inline]
fn ln_ratio(a: f64, b: f64) -> f64 {
    let s = (a - b) / (a + b);
    if s.abs() <= 0.01 && a > 0.0 && b > 0.0 {
        two_atanh(s)
    } else {
        (a / b).ln()
    }
}

/// `(ln(a / b), ln(c / d))` as [`ln_ratio`] computes each, with one division
/// for both (`1 / ((a + b)(c + d))`, a few more roundings: within 1e-15 of
/// the library's): divisions are the slowest part of a bar.
#[inline]
fn ln_ratios(a: f64, b: f64, c: f64, d: f64) -> (f64, f64) {
    let (p, q) = (a + b, c + d);
    let inv = 1.0 / (p * q);
    let (s, t) = ((a - b) * q * inv, (c - d) * p * inv);
    let positive = a > 0.0 && b > 0.0 && c > 0.0 && d > 0.0;
    if s.abs() <= 0.01 && t.abs() <= 0.01 && inv.is_normal() && positive {
        (two_atanh(s), two_atanh(t))
    } else {
        (ln_ratio(a, b), ln_ratio(c, d))
    }
}

/// `2 atanh(s)` for `|s| <= 0.01` by its odd series; the first term left out,
/// `s^10 / 11`, is below 1e-21 of the sum.
#[inline]
fn two_atanh(s: f64) -> f64 {
    let s2 = s * s;
    2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))))
}

/// Compounded yearly growth from `first` to `last` equity over `span`, in
/// backtesting.py's years (whole days plus seconds, over 365.25); NaN over no time.
fn cagr(first: f64, last: f64, span: Span) -> f64 {
    let years = (span.days() as f64 + span.seconds() as f64 / 86400.0) / 365.25;
    if years == 0.0 {
        return f64::NAN;
    }
    (last / first).powf(1.0 / years) - 1.0
}

/// The equity curve's end points and the times they were marked at; NaN and
/// the epoch for an empty curve, so an empty run still has statistics.
struct Window {
    first: f64,
    last: f64,
    start: Timestamp,
    end: Timestamp,
}

impl Window {
    fn of(eq: &[f64], ts: &[Timestamp]) -> Window {
        let (first, last) = match (eq.first(), eq.last()) {
            (Some(&f), Some(&l)) => (f, l),
            _ => (f64::NAN, f64::NAN),
        };
        let (start, end) = match (ts.first(), ts.get(eq.len().saturating_sub(1))) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (Timestamp(0), Timestamp(0)),
        };
        Window {
            first,
            last,
            start,
            end,
        }
    }
}

/// backtesting.py's annualised figures, all from the same period (daily,
/// weekly...) returns: computed together so the returns are bucketed once.
struct Annualised {
    periods_per_year: f64,
    /// Annualised geometric mean return, a fraction.
    ret: f64,
    /// Annualised volatility, a fraction.
    vol: f64,
    /// Downside deviation per period (not annualised).
    downside: f64,
}

impl Annualised {
    fn of(ts: &[Timestamp], eq: &[f64]) -> Annualised {
        let (periods_per_year, period) = annualisation(ts);
        let rets = period_returns(ts, eq, period);
        let g = geometric_mean(&rets);
        let g = if g.is_nan() { 0.0 } else { g };
        let ret = (1.0 + g).powf(periods_per_year) - 1.0;
        let var = if rets.len() > 1 {
            let m = rets.iter().sum::<f64>() / rets.len() as f64;
            rets.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (rets.len() - 1) as f64
        } else {
            f64::NAN
        };
        let vol = ((var + (1.0 + g).powi(2)).powf(periods_per_year)
            - (1.0 + g).powf(2.0 * periods_per_year))
        .sqrt();
        let downside = if rets.is_empty() {
            f64::NAN
        } else {
            (rets.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / rets.len() as f64).sqrt()
        };
        Annualised {
            periods_per_year,
            ret,
            vol,
            downside,
        }
    }
}

/// Percent of the window's `n` bars with a position, counting closed trades
/// only (backtesting.py). Trades come in time order and may share a bar (exit,
/// then entry): a shared bar counts once.
fn exposure_pct(trades: &[Trade], ws: usize, n: usize) -> f64 {
    let mut held = 0usize;
    let mut covered_to = 0usize; // bars before this are counted
    for t in trades {
        let a = t.entry_bar.saturating_sub(ws).max(covered_to);
        let b = t.exit_bar.saturating_sub(ws) + 1;
        if b > a {
            held += b - a;
            covered_to = b;
        }
    }
    held.min(n) as f64 / n.max(1) as f64 * 100.0
}

/// A zero denominator as NaN: backtesting.py's ratios are undefined, not
/// infinite, without volatility or drawdown.
fn nz(x: f64) -> f64 {
    if x == 0.0 {
        f64::NAN
    } else {
        x
    }
}

impl Metrics {
    /// Statistics of `run` over its window of `series` (the series it ran on).
    pub fn compute(run: &Run, series: &Series) -> Metrics {
        let ws = run.window_start.min(series.len());
        let all_ts = series.timestamps();
        let ts = &all_ts[ws..];
        let close = series.close();
        let eq = &run.equity;
        let Window {
            first,
            last,
            start,
            end,
        } = Window::of(eq, ts);
        let duration = Span::between(start, end);
        // backtesting.py rounds durations up to the bar spacing's finest unit.
        let unit = bar_spacing(ts).map_or(1, Span::resolution);
        let round = |s: Option<Span>| s.map(|s| s.ceil(unit));
        let dd = drawdown_stats(eq, ts);
        let a = Annualised::of(ts, eq);
        let bh0 = close.get(run.buy_hold_start).copied().unwrap_or(f64::NAN);
        let bh1 = close.last().copied().unwrap_or(f64::NAN);
        let return_pct = (last - first) / first * 100.0;
        let buy_hold_return_pct = (bh1 - bh0) / bh0 * 100.0;
        let beta = beta(eq, &close[ws..]);
        let t = trade_stats(&run.trades, all_ts);
        Metrics {
            start,
            end,
            duration,
            exposure_pct: exposure_pct(&run.trades, ws, eq.len()),
            equity_final: last,
            // A curve longer than its timestamps has no drawdown statistics
            // over all of it: its peak is taken directly.
            equity_peak: if eq.len() <= ts.len() {
                dd.peak
            } else {
                eq.iter().copied().fold(f64::NAN, f64::max)
            },
            commissions: run.commissions(),
            return_pct,
            buy_hold_return_pct,
            return_ann_pct: a.ret * 100.0,
            volatility_ann_pct: a.vol * 100.0,
            cagr_pct: cagr(first, last, duration) * 100.0,
            sharpe: a.ret * 100.0 / nz(a.vol * 100.0),
            sortino: a.ret / (a.downside * a.periods_per_year.sqrt()),
            calmar: a.ret / nz(dd.max),
            alpha_pct: return_pct - beta * buy_hold_return_pct,
            beta,
            max_drawdown_pct: 0.0 - dd.max * 100.0,
            avg_drawdown_pct: 0.0 - dd.mean_peak * 100.0,
            max_drawdown_duration: round(dd.max_duration),
            avg_drawdown_duration: round(dd.mean_duration),
            n_trades: t.n,
            win_rate_pct: t.win_rate_pct,
            best_trade_pct: t.best_pct,
            worst_trade_pct: t.worst_pct,
            avg_trade_pct: t.avg_pct,
            max_trade_duration: round(t.max_duration),
            avg_trade_duration: round(t.mean_duration),
            profit_factor: t.profit_factor,
            expectancy_pct: t.expectancy_pct,
            sqn: t.sqn,
            kelly_criterion: t.kelly,
        }
    }

    /// The value under `key` (one of [`METRICS`]).
    pub fn value(&self, key: &str) -> Option<Stat> {
        use Stat::{Count, Number as N, Span as D, Time as T};
        Some(match key {
            "start" => T(self.start),
            "end" => T(self.end),
            "duration" => D(Some(self.duration)),
            "exposure_pct" => N(self.exposure_pct),
            "equity_final" => N(self.equity_final),
            "equity_peak" => N(self.equity_peak),
            "commissions" => N(self.commissions),
            "return_pct" => N(self.return_pct),
            "buy_hold_return_pct" => N(self.buy_hold_return_pct),
            "return_ann_pct" => N(self.return_ann_pct),
            "volatility_ann_pct" => N(self.volatility_ann_pct),
            "cagr_pct" => N(self.cagr_pct),
            "sharpe" => N(self.sharpe),
            "sortino" => N(self.sortino),
            "calmar" => N(self.calmar),
            "alpha_pct" => N(self.alpha_pct),
            "beta" => N(self.beta),
            "max_drawdown_pct" => N(self.max_drawdown_pct),
            "avg_drawdown_pct" => N(self.avg_drawdown_pct),
            "max_drawdown_duration" => D(self.max_drawdown_duration),
            "avg_drawdown_duration" => D(self.avg_drawdown_duration),
            "n_trades" => Count(self.n_trades),
            "win_rate_pct" => N(self.win_rate_pct),
            "best_trade_pct" => N(self.best_trade_pct),
            "worst_trade_pct" => N(self.worst_trade_pct),
            "avg_trade_pct" => N(self.avg_trade_pct),
            "max_trade_duration" => D(self.max_trade_duration),
            "avg_trade_duration" => D(self.avg_trade_duration),
            "profit_factor" => N(self.profit_factor),
            "expectancy_pct" => N(self.expectancy_pct),
            "sqn" => N(self.sqn),
            "kelly_criterion" => N(self.kelly_criterion),
            _ => return None,
        })
    }

    /// The numeric value under `key`; `None` for unknown keys, times and durations.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.value(key).and_then(Stat::as_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{run, RunOptions};
    use crate::{BrokerConfig, SmaCross};
    use candlecast_data::{Bar, SourceZone};

    #[test]
    fn every_metric_has_a_key_a_label_and_a_value() {
        let bars: Vec<Bar> = (0..120)
            .map(|i| {
                let c = 100.0 + 10.0 * (i as f64 / 3.0).sin();
                Bar {
                    ts: Timestamp(i * 86_400_000),
                    open: c,
                    high: c + 1.0,
                    low: c - 1.0,
                    close: c,
                    volume: 1.0,
                }
            })
            .collect();
        let s = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
        let b = BrokerConfig::default();
        let r = run(
            &s,
            &mut SmaCross::new(3, 8),
            &b,
            &RunOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let m = Metrics::compute(&r, &s);
        let json = serde_json::to_value(m).unwrap();
        let obj = json.as_object().unwrap();
        assert_eq!(obj.len(), METRICS.len());
        for (k, _) in METRICS {
            assert!(obj.contains_key(*k), "{k}");
            assert!(m.value(k).is_some(), "{k}");
        }
        assert_eq!(obj["start"], "1970-01-01T00:00:00Z");
        assert_eq!(obj["duration"], "119 days 00:00:00");
        assert!(m.n_trades > 5 && m.equity_peak >= m.equity_final);
    }

    #[test]
    fn cagr_counts_calendar_years() {
        let two_years = Span::from_ms((2.0 * 365.25 * 86_400_000.0) as i64);
        assert!((cagr(100.0, 121.0, two_years) - 0.1).abs() < 1e-12);
        assert!(cagr(100.0, 121.0, Span(0)).is_nan());
    }

    #[test]
    fn ln_ratio_is_the_library_logarithm_to_a_few_ulps() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let b = 1e-3 + (state >> 11) as f64 / (1u64 << 53) as f64 * 1e4;
            let move_ = ((state & 0xffff) as f64 / 65535.0 - 0.5) * 0.1;
            let a = b * (1.0 + move_);
            let (got, want) = (ln_ratio(a, b), (a / b).ln());
            // The library's path rounds `a / b` first, an error of up to
            // 1.1e-16 of the ratio, i.e. 1.1e-16 absolute on the log-return,
            // which this one does not make; beyond that, a few ulps.
            assert!(
                (got - want).abs() <= 2.5e-16 + 8e-16 * want.abs(),
                "ln({a} / {b}) = {want}, got {got}"
            );
        }
        assert_eq!(ln_ratio(5.0, 5.0), 0.0);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut draw = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let b = 1e-3 + (state >> 11) as f64 / (1u64 << 53) as f64 * 1e6;
            let move_ = ((state & 0xffff) as f64 / 65535.0 - 0.5) * 0.05;
            (b * (1.0 + move_), b)
        };
        for _ in 0..200_000 {
            let ((a, b), (c, d)) = (draw(), draw());
            let (x, y) = ln_ratios(a, b, c, d);
            for (got, want) in [(x, (a / b).ln()), (y, (c / d).ln())] {
                assert!(
                    (got - want).abs() <= 2.5e-16 + 1.2e-15 * want.abs(),
                    "{a} {b} {c} {d}: {want}, got {got}"
                );
            }
        }
        let (x, y) = ln_ratios(1e300, 1e300, 2e300, 1e300);
        assert_eq!((x, y), (0.0, 2f64.ln()));
        assert!(ln_ratios(1.0, 0.0, 1.0, 1.0).0.is_infinite());
        assert!(ln_ratio(-1.0, 2.0).is_nan());
        assert_eq!(ln_ratio(200.0, 100.0), 2f64.ln());
    }

    #[test]
    fn beta_of_the_market_itself_is_one() {
        let c = [100.0, 101.0, 99.0, 103.0, 104.0];
        assert!((beta(&c, &c) - 1.0).abs() < 1e-12);
        let doubled: Vec<f64> = c.iter().map(|x| x * 2.0).collect();
        assert!((beta(&doubled, &c) - 1.0).abs() < 1e-12);
        assert!(beta(&[1.0, 2.0], &[1.0, 2.0]).is_nan());
    }
}
