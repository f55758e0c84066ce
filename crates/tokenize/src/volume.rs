//! Relative volume: a bar's volume against its own EWMA level. The volume token
//! factor (the tokenizer) and the relative-volume input channel (`inputs`) share
//! it, and fitting the channel's bins is part of fitting the tokenizer; here, below
//! both, so neither module imports the other for it.

use crate::quantize::{fit_nonneg, Quantizer};
use candlecast_data::Series;

/// Volume `v` over `level`, the EWMA of the volumes before it (infinite for the
/// first positive volume after none, 1 while there is none), then `level` moves to
/// include `v`. The volume token factor and the relative-volume input share it.
#[inline]
pub(crate) fn volume_ratio(level: &mut f64, lambda: f64, v: f64) -> f64 {
    let x = if *level > 0.0 {
        v / *level
    } else if v > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    *level = lambda * *level + (1.0 - lambda) * v;
    x
}

/// Ratios of the bars that have a volume id from bins (every bar from the series'
/// first positive volume on, except bar 0): what the bins are fitted on.
fn fitted_ratios(series: &Series, lambda: f64, out: &mut Vec<f64>) {
    let v = series.volume();
    let Some(&first) = v.first() else { return };
    let mut level = first;
    let mut seen = first > 0.0;
    for &x in &v[1..] {
        let r = volume_ratio(&mut level, lambda, x);
        seen |= x > 0.0;
        if seen && r.is_finite() {
            out.push(r);
        }
    }
}

/// Fits the relative-volume bins on the training series (`None` when off).
pub(crate) fn fit_volume(bins: u32, lambda: f64, series: &[Series]) -> Option<Quantizer> {
    if bins == 0 {
        return None;
    }
    let mut ratios = Vec::new();
    for s in series {
        fitted_ratios(s, lambda, &mut ratios);
    }
    ratios.sort_unstable_by(f64::total_cmp);
    Some(fit_nonneg(&ratios, bins as usize))
}
