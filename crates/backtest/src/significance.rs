//! Is a strategy's Sharpe ratio really different from buy-and-hold's on the
//! same window, or is the difference what a few lucky weeks give? A paired
//! circular block bootstrap of the two equity curves' period returns answers
//! with a confidence interval, in the spirit of the scorecard's
//! Diebold-Mariano line.
//!
//! - Returns: the simple returns of each equity curve between the last bars of
//!   consecutive periods ([`crate::metrics::period_returns`], the returns the
//!   Sharpe ratio is computed from: days for daily or finer bars).
//! - Resampling: blocks of `round(n^(1/3))` consecutive periods (at least 1;
//!   the usual rate for variance-type statistics), starting at uniform
//!   positions and wrapping around the end, drawn until `n` periods are
//!   filled; the same indices for both curves, so their correlation (and the
//!   market's volatility clustering inside a block) is kept. [`RESAMPLES`]
//!   resamples from a fixed seed: the same runs give the same interval.
//! - Statistic: the annualised Sharpe ratio `mean / sd * sqrt(periods per
//!   year)` of the period returns, the strategy's minus buy-and-hold's; an
//!   undefined ratio (no variance: never invested) counts as 0. This is the
//!   arithmetic ratio of the Sharpe-test literature (Jobson-Korkie, Ledoit-Wolf),
//!   not the table's backtesting.py ratio (geometric annual return over
//!   annualised volatility): that one rewards a smaller position by itself
//!   (less volatility drag), so a strategy that holds half of buy-and-hold
//!   would look better on any driftless market; the arithmetic one does not
//!   change with the position's size. The interval is the percentile interval
//!   at [`LEVEL`].
//! - Verdict: better (interval above 0), worse (below), no significant
//!   difference (straddles 0), or too short (under [`MIN_PERIODS`] periods).

use crate::engine::Run;
use crate::metrics::{annualisation, period_returns};
use candlecast_data::Series;
use candlecast_tokenize::Rng;
use serde::Serialize;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2000;
/// Coverage of the interval.
pub const LEVEL: f64 = 0.95;
/// Fewer periods than this give no verdict.
pub const MIN_PERIODS: usize = 20;
const SEED: u64 = 0x5EED_0B00_757A_2024;

/// What the interval says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    NoDifference,
    TooShort,
}

/// A strategy's Sharpe ratio minus buy-and-hold's, with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SharpeDiff {
    pub diff: f64,
    /// The interval's ends (NaN when too short).
    pub lo: f64,
    pub hi: f64,
    pub level: f64,
    /// Period returns compared.
    pub periods: usize,
    /// Block length, in periods.
    pub block: usize,
    pub resamples: usize,
    pub verdict: Verdict,
}

impl SharpeDiff {
    /// The table cell: `+0.31 [-0.20, +0.80]`.
    pub fn cell(&self) -> String {
        if self.verdict == Verdict::TooShort {
            return format!("{:+.3} [-]", self.diff);
        }
        format!("{:+.3} [{:+.3}, {:+.3}]", self.diff, self.lo, self.hi)
    }

    /// One word for the table.
    pub fn word(&self) -> &'static str {
        match self.verdict {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoDifference => "n.s.",
            Verdict::TooShort => "too short",
        }
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let ci = format!(
            "mean/sd Sharpe difference {:+.3}, {:.0}% CI {:+.3} to {:+.3}, {} periods, blocks of {}",
            self.diff,
            self.level * 100.0,
            self.lo,
            self.hi,
            self.periods,
            self.block
        );
        match self.verdict {
            Verdict::Better => format!("better than buy-and-hold ({ci})"),
            Verdict::Worse => format!("worse than buy-and-hold ({ci})"),
            Verdict::NoDifference => {
                format!("not significantly different from buy-and-hold ({ci})")
            }
            Verdict::TooShort => format!(
                "too few periods ({}) to compare with buy-and-hold (mean/sd Sharpe difference {:+.3})",
                self.periods, self.diff
            ),
        }
    }
}

/// The annualised Sharpe ratio `mean / sd * sqrt(periods_per_year)` of period
/// returns (sd with n - 1), 0 where undefined.
pub fn sharpe(rets: &[f64], periods_per_year: f64) -> f64 {
    let n = rets.len();
    if n < 2 {
        return 0.0;
    }
    let m = rets.iter().sum::<f64>() / n as f64;
    let var = rets.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (n - 1) as f64;
    let s = m / var.sqrt() * periods_per_year.sqrt();
    if s.is_finite() {
        s
    } else {
        0.0
    }
}

/// `run`'s Sharpe ratio against `buy_hold`'s over the same bars of `series`;
/// `None` when the two runs did not walk the same window.
pub fn sharpe_vs_buy_hold(run: &Run, buy_hold: &Run, series: &Series) -> Option<SharpeDiff> {
    if run.window_start != buy_hold.window_start || run.equity.len() != buy_hold.equity.len() {
        return None;
    }
    let ts = series.timestamps().get(run.window_start..)?;
    let (per_year, period) = annualisation(ts);
    let a = period_returns(ts, &run.equity, period);
    let b = period_returns(ts, &buy_hold.equity, period);
    Some(compare(&a, &b, per_year))
}

/// The paired bootstrap of `sharpe(a) - sharpe(b)`.
pub fn compare(a: &[f64], b: &[f64], per_year: f64) -> SharpeDiff {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let diff = sharpe(a, per_year) - sharpe(b, per_year);
    let block = ((n as f64).cbrt().round() as usize).max(1);
    let mut out = SharpeDiff {
        diff,
        lo: f64::NAN,
        hi: f64::NAN,
        level: LEVEL,
        periods: n,
        block,
        resamples: RESAMPLES,
        verdict: Verdict::TooShort,
    };
    if n < MIN_PERIODS {
        return out;
    }
    let mut rng = Rng::new(SEED);
    let (mut ra, mut rb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            ra.clear();
            rb.clear();
            while ra.len() < n {
                let start = ((rng.uniform() * n as f64) as usize).min(n - 1);
                for k in 0..block.min(n - ra.len()) {
                    let i = (start + k) % n;
                    ra.push(a[i]);
                    rb.push(b[i]);
                }
            }
            sharpe(&ra, per_year) - sharpe(&rb, per_year)
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    out.lo = candlecast_forecast::quantile_sorted(&diffs, tail);
    out.hi = candlecast_forecast::quantile_sorted(&diffs, 1.0 - tail);
    out.verdict = if out.lo > 0.0 {
        Verdict::Better
    } else if out.hi < 0.0 {
        Verdict::Worse
    } else {
        Verdict::NoDifference
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{run, BrokerConfig, BuyHold, RunOptions, SmaCross};
    use candlecast_tokenize::SplitMix64;

    #[test]
    fn runs_are_compared_on_their_daily_returns() {
        // Minute bars: 400,000 are 277 days of daily returns.
        let s = crate::synthetic::random_walk(400_000, 3).unwrap();
        let b = BrokerConfig {
            commission: 0.001,
            ..Default::default()
        };
        let opts = RunOptions::default();
        let x = run(&s, &mut SmaCross::new(50, 200), &b, &opts, &mut |_| {}).unwrap();
        let h = run(&s, &mut BuyHold, &b, &opts, &mut |_| {}).unwrap();
        let d = sharpe_vs_buy_hold(&x, &h, &s).unwrap();
        assert_eq!(d.periods, 277);
        assert!(d.lo < d.diff && d.diff < d.hi, "{d:?}");
        // Deterministic.
        assert_eq!(sharpe_vs_buy_hold(&x, &h, &s), Some(d));
        // Runs of different windows are not compared.
        let later = RunOptions {
            window_start: 10,
            ..opts
        };
        let y = run(&s, &mut BuyHold, &b, &later, &mut |_| {}).unwrap();
        assert_eq!(sharpe_vs_buy_hold(&x, &y, &s), None);
    }

    #[test]
    fn sharpe_by_hand_and_free_of_scale() {
        let r = [0.01, -0.02, 0.03, 0.0];
        // mean 0.005, sample variance (0.005^2 + 0.025^2 + 0.025^2 + 0.005^2) / 3.
        let sd = ((2.0 * 0.005f64.powi(2) + 2.0 * 0.025f64.powi(2)) / 3.0).sqrt();
        assert!((sharpe(&r, 252.0) - 0.005 / sd * 252f64.sqrt()).abs() < 1e-12);
        let half: Vec<f64> = r.iter().map(|x| x / 2.0).collect();
        assert!((sharpe(&half, 252.0) - sharpe(&r, 252.0)).abs() < 1e-12);
        assert_eq!(sharpe(&[0.0; 5], 252.0), 0.0);
    }

    /// Returns with a known edge: the interval finds it, and misses none where
    /// there is none.
    #[test]
    fn the_verdict_follows_the_edge() {
        let mut rng = SplitMix64::new(9);
        let mut normal = || {
            let (u, v) = (rng.next_f64().max(1e-300), rng.next_f64());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let market: Vec<f64> = (0..750).map(|_| 0.01 * normal()).collect();
        // Half the market's risk plus a steady 0.1% a day: far better.
        let good: Vec<f64> = market.iter().map(|r| 0.5 * r + 0.001).collect();
        let d = compare(&good, &market, 252.0);
        assert_eq!(d.verdict, Verdict::Better, "{d:?}");
        let d = compare(&market, &good, 252.0);
        assert_eq!(d.verdict, Verdict::Worse, "{d:?}");
        assert_eq!(d.block, 9);
        // The market at half size, or its returns in another order: the same
        // Sharpe ratio.
        let half: Vec<f64> = market.iter().map(|r| 0.5 * r).collect();
        assert_eq!(
            compare(&half, &market, 252.0).verdict,
            Verdict::NoDifference
        );
        let other: Vec<f64> = market.iter().rev().copied().collect();
        let d = compare(&other, &market, 252.0);
        assert_eq!(d.verdict, Verdict::NoDifference, "{d:?}");
        assert!(d.diff.abs() < 1e-9);
        assert_eq!(
            compare(&other[..10], &market[..10], 252.0).verdict,
            Verdict::TooShort
        );
        assert!(d.line().starts_with("not significantly different"));
    }
}
