//! The volatility regime, as two model inputs (`regime_input_bins = N > 0`).
//!
//! A token is a bar measured in its own scale, so the model never sees how large
//! that scale is. Two ratios say what the classical forecasters of the scorecard
//! use and the tokens hide, measured after each bar (so they describe the scale
//! the next bar will be measured in):
//!
//! - `vol_level`: the scale's variance over its long-run level (the reverting
//!   scale's `var / level`). On the shared files the next bar's mean squared
//!   token return rises from about 0.5 to 1.5 across its quintiles: the one-step
//!   reversion is too quick where volatility is far from its level.
//! - `range_vol`: an EWMA (`ewma_lambda`) of Parkinson's per-bar variance
//!   `ln(H/L)^2 / (4 ln 2)` over the scale's variance: the high-low range is a far
//!   less noisy volatility measure than the close return (what `fhs-range` and
//!   `har` use), with the same spread of the next bar's squared return.
//!
//! Each ratio goes into N equal-frequency bins fitted on the training bars (ids
//! 0..N). A forecast path carries its own [`RegimeState`] and the scale state it
//! already has, so a path's inputs follow its own draws; encoding and rollout step
//! the same state with the same functions.
//!
//! Below the tokenizer (which fits the bins here) and the `inputs` module (which
//! gives the ids): neither imports the other for it.

use crate::quantize::{fit_nonneg, Quantizer};
use crate::scale::{ln_ratio, GapRule, VolParams, VolState};
use candlecast_data::Series;

/// Names of the two regime channels (each of size `regime_input_bins`).
pub const VOL_LEVEL: &str = "vol_level";
pub const RANGE_VOL: &str = "range_vol";

/// `4 ln 2`: Parkinson's divisor.
const PARKINSON: f64 = 4.0 * std::f64::consts::LN_2;

/// The range side of the regime: an EWMA of Parkinson's per-bar variance. It starts
/// at the tokenizer's fitted initial variance and runs through gaps (the range of a
/// bar after a gap is still one bar's range).
#[derive(Debug, Clone, PartialEq)]
pub struct RegimeState {
    range_var: f64,
    lambda: f64,
}

impl RegimeState {
    /// At a series start: the range variance at the scale's initial variance.
    pub(crate) fn new(initial_variance: f64, lambda: f64) -> RegimeState {
        RegimeState {
            range_var: initial_variance,
            lambda,
        }
    }

    /// Takes in one bar's high and low (a bar without a valid range counts as 0).
    #[inline]
    pub fn observe(&mut self, high: f64, low: f64) {
        let hl = ln_ratio(high, low);
        let v = match hl.is_finite() && hl > 0.0 {
            true => hl * hl / PARKINSON,
            false => 0.0,
        };
        self.range_var = self.lambda * self.range_var + (1.0 - self.lambda) * v;
    }

    /// `[variance / level, range variance / variance]` after the bars seen.
    fn ratios(&self, vs: &VolState) -> [f64; 2] {
        let var = vs.variance();
        [var / vs.long_run_variance(), self.range_var / var]
    }
}

/// Walks `series` bar by bar with the tokenizer's gap rule and scale recursion
/// (as `walk` does) and a [`RegimeState`], handing `f` the ratios after each bar.
fn walk_ratios(
    vol: &VolParams,
    gap_multiple: f64,
    lambda: f64,
    series: &Series,
    mut f: impl FnMut([f64; 2]),
) {
    let (ts, high, low, close) = (
        series.timestamps(),
        series.high(),
        series.low(),
        series.close(),
    );
    let n = ts.len().min(high.len()).min(low.len()).min(close.len());
    let mut vs = VolState::new(vol);
    let mut rs = RegimeState::new(vol.initial_variance, lambda);
    let mut gaps = GapRule::new(gap_multiple);
    for t in 0..n {
        if t > 0 {
            let gap = gaps.step(ts[t].0 - ts[t - 1].0);
            // As a rollout and a forecast origin step it (not the encoder's
            // `ln_ratio`): the bins' edges are training values, so the two must
            // agree to the bit.
            vs.step(gap, (close[t] / close[t - 1]).ln(), high[t], low[t]);
        }
        rs.observe(high[t], low[t]);
        f(rs.ratios(&vs));
    }
}

/// Fits the regime bins on the training series (`None` when off).
pub(crate) fn fit_regime(
    bins: u32,
    vol: &VolParams,
    gap_multiple: f64,
    lambda: f64,
    series: &[Series],
) -> Option<[Quantizer; 2]> {
    if bins == 0 {
        return None;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for s in series {
        walk_ratios(vol, gap_multiple, lambda, s, |[x, y]| {
            if x.is_finite() && y.is_finite() {
                a.push(x);
                b.push(y);
            }
        });
    }
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    Some([fit_nonneg(&a, bins as usize), fit_nonneg(&b, bins as usize)])
}

/// The ids of the two ratios after a bar in the fitted bins.
pub(crate) fn ids(bins: &[Quantizer; 2], vs: &VolState, rs: &RegimeState) -> [u32; 2] {
    let [a, b] = rs.ratios(vs);
    [bins[0].bin(a) as u32, bins[1].bin(b) as u32]
}

/// The ids of every bar of `series` in the fitted bins.
pub(crate) fn ids_per_bar(
    bins: &[Quantizer; 2],
    vol: &VolParams,
    gap_multiple: f64,
    lambda: f64,
    series: &Series,
) -> Vec<[u32; 2]> {
    let mut out = Vec::with_capacity(series.len());
    walk_ratios(vol, gap_multiple, lambda, series, |[a, b]| {
        out.push([bins[0].bin(a) as u32, bins[1].bin(b) as u32])
    });
    out
}
