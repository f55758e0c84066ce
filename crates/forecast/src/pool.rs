//! `gpt-pool`: the model's one-step distribution mixed with the bar's (the card's
//! best classical forecaster), `w * gpt + (1 - w) * bar`, with the one weight `w`
//! fitted on the validation slice.
//!
//! Why: a model a few tenths of a percent better or worse than the bar leaves open
//! whether it knows anything the bar does not. The pool answers that (forecast
//! encompassing): were the model's distribution the bar's plus noise, the best
//! weight would be near 0 and the pool no better than the bar; a pool that beats the
//! bar significantly on the test part, with a weight chosen before it, shows the
//! model carries information the bar lacks, even where the model alone does not win.
//!
//! The pool's CRPS is exact. For `Z = w A + (1 - w) B`,
//! `CRPS_Z(y) = w CRPS_A(y) + (1 - w) CRPS_B(y) - w (1 - w) e`, with
//! `e = E|A - B| - E|A - A'| / 2 - E|B - B'| / 2 >= 0` (half the energy distance of
//! the two), so the mean over a slice is a convex quadratic in `w` and its minimum
//! is in closed form.

use crate::baselines::{OneStep, Predictive};
use serde::Serialize;

/// The model and the bar on the slice the pool is fitted on (the training part's
/// last bars, each forecast from the bars before it): the mean one-step CRPS of
/// each over the same targets.
///
/// Why: a model option (an input, a scale) should be chosen without the test part,
/// and fine-tuning's cross-entropy cannot compare options whose tokens differ (the
/// bins are in the scale's units). This is the score the test part would give,
/// taken on bars before it. The fine-tune stopped early on the cross-entropy of
/// these bars, so the model's figure is a little optimistic, for every option
/// alike.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SliceScore {
    /// Targets scored (a long slice thinned as `gpt-cal`'s is).
    pub targets: usize,
    /// Mean CRPS of `gpt` (the model as it is, no calibration).
    pub gpt: f64,
    /// Mean CRPS of the bar, fitted on the bars before the slice.
    pub bar: f64,
}

impl SliceScore {
    /// `None` when the two do not forecast the same targets, or there are none, or
    /// a pool of them cannot be formed ([`fit_on_slice`]).
    pub fn of(model: &OneStep, bar: &OneStep) -> Option<Self> {
        fit_on_slice(model, bar).map(|(_, s)| s)
    }

    /// The model's CRPS over the bar's: below 1, the model is better on the slice.
    pub fn ratio(&self) -> f64 {
        self.gpt / self.bar
    }
}

/// The pool weight on `model` (0..=1) with the lowest mean CRPS over the origins of
/// `model` and `bar`; `None` when they do not forecast the same targets, or there
/// are none, or a pool cannot be formed (neither is made of atoms).
pub fn fit_pool_weight(model: &OneStep, bar: &OneStep) -> Option<f64> {
    fit_on_slice(model, bar).map(|(w, _)| w)
}

/// [`fit_pool_weight`] and the two's [`SliceScore`], from one pass over the slice
/// (the weight is fitted on the same CRPS sums the score averages).
pub fn fit_on_slice(model: &OneStep, bar: &OneStep) -> Option<(f64, SliceScore)> {
    if !same_targets(model, bar) || model.targets.is_empty() {
        return None;
    }
    let (mut sa, mut sb, mut se) = (0.0, 0.0, 0.0);
    for ((a, b), &y) in model.preds.iter().zip(&bar.preds).zip(&model.targets) {
        sa += a.crps(y);
        sb += b.crps(y);
        se += Predictive::energy(a, b)?;
    }
    let n = model.targets.len();
    let score = SliceScore {
        targets: n,
        gpt: sa / n as f64,
        bar: sb / n as f64,
    };
    Some((quadratic_min(sa, sb, se), score))
}

/// The `w` in 0..=1 minimising `w a + (1 - w) b - w (1 - w) e` (`e >= 0`).
fn quadratic_min(a: f64, b: f64, e: f64) -> f64 {
    if e > 0.0 {
        ((e + b - a) / (2.0 * e)).clamp(0.0, 1.0)
    } else if a <= b {
        1.0
    } else {
        0.0
    }
}

/// `weight * model + (1 - weight) * bar` at every origin, named `name`; `None` when
/// the two do not forecast the same targets or a pool cannot be formed.
pub fn pooled(name: &'static str, weight: f64, model: &OneStep, bar: &OneStep) -> Option<OneStep> {
    if !same_targets(model, bar) {
        return None;
    }
    let preds = model
        .preds
        .iter()
        .zip(&bar.preds)
        .map(|(a, b)| Predictive::pool(weight, a.clone(), b.clone()))
        .collect::<Option<Vec<_>>>()?;
    Some(OneStep {
        name,
        preds,
        targets: model.targets.clone(),
    })
}

/// The model's targets are the bars its tokenizer kept; they must be the bar's,
/// origin for origin, for a pool (and a paired test) to mean anything.
fn same_targets(model: &OneStep, bar: &OneStep) -> bool {
    model.targets.len() == bar.targets.len()
        && model.preds.len() == model.targets.len()
        && bar.preds.len() == bar.targets.len()
        && model
            .targets
            .iter()
            .zip(&bar.targets)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::empirical::Empirical;
    use crate::score::crps_atoms;
    use std::sync::Arc;

    fn atoms(pairs: &[(f64, f64)]) -> Predictive {
        Predictive::atoms(pairs.to_vec())
    }

    /// CRPS by numerical integration of (F(x) - 1{x >= y})^2 over a fine grid.
    fn crps_numeric(p: &Predictive, y: f64, lo: f64, hi: f64) -> f64 {
        let n = 400_000;
        let dx = (hi - lo) / n as f64;
        (0..n)
            .map(|i| {
                let x = lo + (i as f64 + 0.5) * dx;
                let f = p.cdf(x) - if x >= y { 1.0 } else { 0.0 };
                f * f * dx
            })
            .sum()
    }

    #[test]
    fn a_pool_of_atoms_scores_as_the_merged_atoms() {
        let a = [(-1.0, 0.2), (0.0, 0.5), (2.0, 0.3)];
        let b = [(-0.5, 0.6), (1.0, 0.4)];
        let w = 0.35;
        let pool = Predictive::pool(w, atoms(&a), atoms(&b)).unwrap();
        let mut merged: Vec<(f64, f64)> = a
            .iter()
            .map(|&(x, p)| (x, w * p))
            .chain(b.iter().map(|&(x, p)| (x, (1.0 - w) * p)))
            .collect();
        for y in [-2.0, -0.7, 0.0, 0.3, 1.5, 3.0] {
            let exact = crps_atoms(&mut merged, y);
            assert!(
                (pool.crps(y) - exact).abs() < 1e-12,
                "{y}: {}",
                pool.crps(y)
            );
        }
        let merged = Predictive::atoms(merged);
        assert!((pool.half_spread() - merged.half_spread()).abs() < 1e-12);
        let (m, v) = pool.moments();
        let (m2, v2) = merged.moments();
        assert!((m - m2).abs() < 1e-12 && (v - v2).abs() < 1e-12);
        for tau in [0.1, 0.2, 0.5, 0.9] {
            assert_eq!(pool.quantile(tau), merged.quantile(tau), "tau {tau}");
        }
    }

    #[test]
    fn a_pool_with_a_continuous_part_scores_as_its_integral() {
        let a = atoms(&[(-0.02, 0.3), (0.001, 0.4), (0.015, 0.3)]);
        let normal = Predictive::Normal {
            mean: 0.002,
            sd: 0.01,
        };
        let dist = Arc::new(Empirical::new([-1.5, -0.4, 0.1, 0.3, 0.9, 2.2]).unwrap());
        let scaled = Predictive::Scaled {
            dist,
            loc: 0.0,
            scale: 0.008,
        };
        for b in [normal, scaled] {
            // The continuous part first: `pool` puts the atoms first and flips w.
            let pool = Predictive::pool(0.6, b.clone(), a.clone()).unwrap();
            for y in [-0.03, -0.005, 0.0, 0.012] {
                let num = crps_numeric(&pool, y, -0.2, 0.2);
                assert!(
                    (pool.crps(y) - num).abs() < 1e-7,
                    "{y}: {} vs {num}",
                    pool.crps(y)
                );
            }
            // The smallest x whose pooled CDF reaches tau.
            for tau in [0.1, 0.5, 0.8] {
                let q = pool.quantile(tau);
                assert!(pool.cdf(q) >= tau - 1e-9, "{tau}: {q}");
                assert!(pool.cdf(q - 1e-6) < tau, "{tau}: {q}");
            }
        }
    }

    #[test]
    fn the_fitted_weight_is_the_grid_minimum_of_the_mean_crps() {
        // A sharp model centred on the outcomes and a wide bar: the best pool leans
        // on the model but not all the way.
        let targets: Vec<f64> = (0..40)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.01)
            .collect();
        let model = OneStep {
            name: "gpt",
            preds: targets
                .iter()
                .map(|&y| atoms(&[(y - 0.02, 0.5), (y + 0.03, 0.5)]))
                .collect(),
            targets: targets.clone(),
        };
        let bar = OneStep {
            name: "fhs",
            preds: targets
                .iter()
                .map(|_| Predictive::Normal {
                    mean: 0.0,
                    sd: 0.05,
                })
                .collect(),
            targets: targets.clone(),
        };
        let w = fit_pool_weight(&model, &bar).unwrap();
        let mean_at = |w: f64| {
            let p = pooled("gpt-pool", w, &model, &bar).unwrap();
            p.preds
                .iter()
                .zip(&p.targets)
                .map(|(p, &y)| p.crps(y))
                .sum::<f64>()
        };
        let grid_best = (0..=1000)
            .map(|i| i as f64 / 1000.0)
            .min_by(|a, b| mean_at(*a).total_cmp(&mean_at(*b)))
            .unwrap();
        assert!(w > 0.0 && w < 1.0, "{w}");
        assert!((w - grid_best).abs() <= 1e-3, "{w} vs {grid_best}");
        assert!(mean_at(w) < mean_at(1.0) && mean_at(w) < mean_at(0.0));
    }

    #[test]
    fn no_pool_of_forecasts_of_other_targets() {
        let one = |y: f64| OneStep {
            name: "x",
            preds: vec![atoms(&[(0.0, 1.0)])],
            targets: vec![y],
        };
        assert!(fit_pool_weight(&one(0.01), &one(0.02)).is_none());
        assert!(pooled("p", 0.5, &one(0.01), &one(0.02)).is_none());
        assert!(SliceScore::of(&one(0.01), &one(0.02)).is_none());
        assert!(fit_pool_weight(&one(0.01), &one(0.01)).is_some());
        let none = OneStep {
            name: "x",
            preds: Vec::new(),
            targets: Vec::new(),
        };
        assert!(SliceScore::of(&none, &none).is_none());
    }

    #[test]
    fn the_slice_score_is_each_sides_mean_crps() {
        // One atom each: CRPS is the absolute error, so the means are by hand.
        let targets = vec![0.01, -0.02, 0.03];
        let at = |x: f64| OneStep {
            name: "x",
            preds: targets.iter().map(|_| atoms(&[(x, 1.0)])).collect(),
            targets: targets.clone(),
        };
        let s = SliceScore::of(&at(0.0), &at(0.01)).unwrap();
        assert_eq!(s.targets, 3);
        assert!((s.gpt - 0.06 / 3.0).abs() < 1e-15, "{s:?}");
        assert!((s.bar - 0.05 / 3.0).abs() < 1e-15, "{s:?}");
        assert!((s.ratio() - 1.2).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn the_weight_is_kept_in_range() {
        assert_eq!(quadratic_min(1.0, 2.0, 0.0), 1.0);
        assert_eq!(quadratic_min(2.0, 1.0, 0.0), 0.0);
        assert_eq!(quadratic_min(1.0, 5.0, 0.1), 1.0);
        assert_eq!(quadratic_min(5.0, 1.0, 0.1), 0.0);
        assert!((quadratic_min(1.0, 1.0, 0.2) - 0.5).abs() < 1e-12);
        assert!(Predictive::pool(1.5, atoms(&[(0.0, 1.0)]), atoms(&[(1.0, 1.0)])).is_none());
    }
}
