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

use crate::quantize::{fit_nonneg, Quantizer};
use crate::scale::{GapRule, VolParams, VolState};
use crate::tokenizer::{ln_ratio, Tokenizer};
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
    let mut rs = RegimeState {
        range_var: vol.initial_variance,
        lambda,
    };
    let mut gaps = GapRule::new(gap_multiple);
    for t in 0..n {
        if t > 0 {
            let gap = gaps.step(ts[t].0 - ts[t - 1].0);
            // As a rollout and a forecast origin step it (not the encoder's
            // `ln_ratio`): the bins' edges are training values, so the two must
            // agree to the bit.
            vs.step(gap, (close[t] / close[t - 1]).ln());
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

impl Tokenizer {
    /// Number of input channels whose ids follow a path's own draws (the regime's,
    /// when on): the last ones of [`Tokenizer::input_channels`].
    pub fn n_path_inputs(&self) -> usize {
        2 * usize::from(self.state.regime_input.is_some())
    }

    /// The regime state at a series start (`None` when the regime inputs are off),
    /// for callers that extend a series bar by bar: `observe` every bar, bar 0
    /// included.
    pub fn regime_state(&self) -> Option<RegimeState> {
        self.state.regime_input.as_ref().map(|_| RegimeState {
            range_var: self.state.initial_variance,
            lambda: self.config().ewma_lambda,
        })
    }

    /// The regime ids after a bar, from the scale state and regime state that have
    /// taken it in (nothing when the regime inputs are off).
    pub fn regime_ids(&self, vs: &VolState, rs: &RegimeState) -> Option<[u32; 2]> {
        let [qa, qb] = self.state.regime_input.as_ref()?;
        let [a, b] = rs.ratios(vs);
        Some([qa.bin(a) as u32, qb.bin(b) as u32])
    }

    /// The regime ids of every bar of `series` (empty when off).
    pub(crate) fn regime_per_bar(&self, series: &Series) -> Vec<[u32; 2]> {
        let Some([qa, qb]) = self.state.regime_input.as_ref() else {
            return vec![];
        };
        let c = self.config();
        let mut out = Vec::with_capacity(series.len());
        walk_ratios(
            &self.vol_params(),
            c.gap_multiple,
            c.ewma_lambda,
            series,
            |[a, b]| out.push([qa.bin(a) as u32, qb.bin(b) as u32]),
        );
        out
    }
}
