//! Multi-step scoring: the cumulative close log-return `ln(C_{o+k} / C_o)` for
//! `k = 1..=H` after every chosen test origin `o`.
//!
//! The normal baselines have closed forms (random walks: variance times `k`;
//! GARCH: the sum of its variance term structure). The empirical ones (hs, fhs,
//! fhs-range, har, fhs-seasonal) and the model have no closed form over several
//! steps, so they are scored on `samples` simulated paths each, with the fair
//! ensemble CRPS ([`crate::crps_fair`]): unbiased for the distribution the paths
//! are drawn from, so a sampled forecaster is not handicapped against a closed form
//! by its sample size (the plain ensemble CRPS adds about 1% at 100 paths). hs
//! draws training returns; fhs and fhs-range draw standardised training returns
//! rescaled by the volatility at the origin (their one-step variance forecast held
//! flat, which is what an EWMA recursion expects for every later step); har
//! rescales step k by its iterated variance forecast ([`crate::Har::term`]) and
//! fhs-seasonal by the intraday profile of the bar k intervals after the origin.

use crate::baselines::{self, BaselineError, History, OneStep, Predictive};
use crate::rollout::Paths;
use crate::scorecard::score_forecasts;
/// Defined beside the series card that holds it, so the scorecard needs nothing
/// from this module; re-exported here, where it has always been named.
pub use crate::scorecard::HorizonScores;
use candlecast_rand::Rng;

/// One forecaster's predictive distributions: `preds[k - 1][j]` for origin `j`.
#[derive(Debug, Clone)]
pub struct MultiStep {
    pub name: &'static str,
    pub preds: Vec<Vec<Predictive>>,
}

/// Test origins with `horizon` known bars after them: bars `split - 1 ..= n - 1 - H`,
/// every `every`-th.
pub fn origins(h: &History<'_>, horizon: usize, every: usize) -> Vec<usize> {
    let n = h.close.len();
    let first = h.split.saturating_sub(1).max(1);
    if horizon == 0 || n <= first + horizon {
        return Vec::new();
    }
    (first..n - horizon).step_by(every.max(1)).collect()
}

/// The random stream of the `index`-th baseline (in `BASELINES` order).
pub(crate) fn stream(seed: u64, index: usize) -> u64 {
    seed ^ ((index as u64) << 56)
}

/// One baseline's one-step fit carried to `1..=horizon` steps at `origins`: normal
/// forecasts in closed form (`garch` given: its variance term structure, else the
/// variance held flat), empirical ones by `samples` simulated sums whose step `k`
/// is rescaled by `step_scales(origin, horizon)[k - 1]` (1 at `k = 1`; [`flat`] for
/// a variance held flat).
#[allow(clippy::too_many_arguments)] // one call site per kind of forecaster
pub fn extend(
    fit: &OneStep,
    garch: Option<&baselines::Garch>,
    step_scales: &dyn Fn(usize, usize) -> Vec<f64>,
    split: usize,
    origins: &[usize],
    horizon: usize,
    samples: usize,
    seed: u64,
) -> Result<MultiStep, BaselineError> {
    let first = split.saturating_sub(1);
    // Step k's variance: v_1 = sd^2, v_{k+1} = omega + (alpha + beta) v_k, exact
    // also at persistence 1 (no division by 1 - alpha - beta).
    let (persistence, omega) = match garch {
        Some(g) => (g.alpha + g.beta, g.omega),
        None => (1.0, 0.0),
    };
    let mut preds: Vec<Vec<Predictive>> = vec![Vec::with_capacity(origins.len()); horizon];
    for (j, &o) in origins.iter().enumerate() {
        let Some(p) = o.checked_sub(first).and_then(|i| fit.preds.get(i)) else {
            return Err(BaselineError::TooShort {
                train: first,
                test: 0,
            });
        };
        match p {
            Predictive::Normal { mean, sd } => {
                let (mut var, mut step) = (0.0, sd * sd);
                for (k, slot) in preds.iter_mut().enumerate() {
                    // Flat variance is the term structure with persistence 1.
                    var += step;
                    step = omega + persistence * step;
                    slot.push(Predictive::Normal {
                        mean: mean * (k + 1) as f64,
                        sd: var.sqrt(),
                    });
                }
            }
            Predictive::Scaled { dist, loc, scale } => {
                let z = dist.sorted();
                let scales: Vec<f64> = step_scales(o, horizon)
                    .into_iter()
                    .chain(std::iter::repeat(1.0))
                    .take(horizon)
                    .map(|x| scale * x)
                    .collect();
                let mut sums = vec![vec![0.0; samples]; horizon];
                for s in 0..samples {
                    let mut rng = Rng::fork(seed, (j * samples + s) as u64);
                    let mut acc = 0.0;
                    for (row, sc) in sums.iter_mut().zip(&scales) {
                        acc += loc + sc * z[rng.below(z.len())];
                        row[s] = acc;
                    }
                }
                for (slot, row) in preds.iter_mut().zip(sums) {
                    slot.push(Predictive::sample(row));
                }
            }
            Predictive::Atoms { .. } | Predictive::Sample { .. } | Predictive::Pool { .. } => {
                return Err(BaselineError::Flat)
            }
        }
    }
    Ok(MultiStep {
        name: fit.name,
        preds,
    })
}

/// A variance held flat over the horizon: every step scaled like the first.
pub fn flat(_origin: usize, horizon: usize) -> Vec<f64> {
    vec![1.0; horizon]
}

/// The model's paths (one `Paths` per origin) as multi-step predictive
/// distributions (samples: scored with the fair CRPS).
pub fn from_paths(name: &'static str, paths: &[Paths], horizon: usize) -> MultiStep {
    let mut preds: Vec<Vec<Predictive>> = vec![Vec::with_capacity(paths.len()); horizon];
    for p in paths {
        for (k, slot) in preds.iter_mut().enumerate() {
            slot.push(Predictive::sample(
                p.paths
                    .iter()
                    .filter_map(|path| path.get(k))
                    .map(|b| (b.close / p.origin_close).ln())
                    .collect(),
            ));
        }
    }
    MultiStep { name, preds }
}

/// The cumulative close log-returns `ln(C[o+k] / C[o])` the paths are scored on:
/// `[k - 1][j]` for origin `j`.
pub fn targets(close: &[f64], origins: &[usize], horizon: usize) -> Vec<Vec<f64>> {
    (1..=horizon)
        .map(|k| {
            origins
                .iter()
                .map(|&o| match (close.get(o), close.get(o + k)) {
                    (Some(c0), Some(ck)) => (ck / c0).ln(),
                    _ => f64::NAN,
                })
                .collect()
        })
        .collect()
}

/// The exponent `g` (in -0.5 ..= 0.5) of a path spread `k^g` on the cumulative
/// return k bars out that gives `fc`'s paths the lowest fair CRPS on `targets`,
/// each horizon's mean CRPS taken relative to its own at `g = 0` (a k-bar return
/// is about sqrt(k) times a one-bar one; unweighted, the far horizons would choose
/// alone). Why a growth and not a spread per horizon: a one-step calibration,
/// fitted on a few hundred validation bars, is fitted to one bar and compounds on
/// a path (measured on the shared files: it lowered the lowest 24-bar coverage on
/// 9 of 11), while the validation slice holds too few independent k-bar returns to
/// fit 24 factors; one exponent, with 1 at k = 1 so the one-step fit stays whole,
/// is what those origins can carry. 0 where no horizon has a scored origin.
pub fn fit_spread_growth(fc: &MultiStep, targets: &[Vec<f64>]) -> f64 {
    // Per horizon k: the (draws, target) pairs that can be scored.
    type Scored<'a> = Vec<(&'a [f64], f64)>;
    let sets: Vec<(usize, Scored<'_>)> = fc
        .preds
        .iter()
        .zip(targets)
        .enumerate()
        .map(|(k, (preds, ys))| {
            let pairs = preds
                .iter()
                .zip(ys)
                .filter_map(|(p, &y)| match p {
                    Predictive::Sample { sorted } if !sorted.is_empty() && y.is_finite() => {
                        Some((sorted.as_slice(), y))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>();
            (k + 1, pairs)
        })
        .filter(|(_, pairs)| !pairs.is_empty())
        .collect();
    if sets.is_empty() {
        return 0.0;
    }
    let mean_crps = |pairs: &[(&[f64], f64)], f: f64| {
        let mut scaled = Vec::new();
        pairs
            .iter()
            .map(|&(sorted, y)| {
                scaled.clear();
                scaled.extend(sorted.iter().map(|x| x * f));
                crate::score::crps_fair(&scaled, y)
            })
            .sum::<f64>()
            / pairs.len() as f64
    };
    let base: Vec<f64> = sets
        .iter()
        .map(|(_, pairs)| mean_crps(pairs, 1.0))
        .collect();
    let objective = |g: f64| {
        sets.iter()
            .zip(&base)
            .map(|((k, pairs), &b)| {
                let c = mean_crps(pairs, (*k as f64).powf(g));
                if b > 0.0 {
                    c / b
                } else {
                    1.0
                }
            })
            .sum::<f64>()
            / sets.len() as f64
    };
    let (g, c) = crate::gpt::golden_min(objective, -0.5, 0.5);
    // Golden section brackets the minimum of a unimodal objective; where it found
    // nothing better than no growth, there is none.
    if c < 1.0 && g.is_finite() {
        g
    } else {
        0.0
    }
}

/// The forecaster of `forecasters` with the lowest mean CRPS of the return `k`
/// bars out on `targets` (that return at each of their origins; origins whose
/// target is past the series' end are skipped). `None` when none scores finite.
pub fn lowest_mean_crps<'a>(
    forecasters: impl IntoIterator<Item = &'a MultiStep>,
    k: usize,
    targets: &[f64],
) -> Option<&'static str> {
    forecasters
        .into_iter()
        .filter_map(|f| Some((f.name, mean_crps_at(f, k, targets)?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| name)
}

/// `f`'s mean CRPS of the return `k` bars out on `targets` (see
/// [`lowest_mean_crps`]); `None` when no target is finite or the mean is not.
pub fn mean_crps_at(f: &MultiStep, k: usize, targets: &[f64]) -> Option<f64> {
    let preds = f.preds.get(k.checked_sub(1)?)?;
    let (sum, n) = preds
        .iter()
        .zip(targets)
        .filter(|(_, y)| y.is_finite())
        .fold((0.0, 0usize), |(sum, n), (p, &y)| (sum + p.crps(y), n + 1));
    let mean = sum / n as f64;
    (n > 0 && mean.is_finite()).then_some(mean)
}

/// Scores every forecaster at every horizon (the first forecaster is the base of
/// relative CRPS, as in the one-step card; the ones that are not classical are also
/// tested against `bar`, the card's best classical forecaster of the H-bar return).
#[allow(clippy::too_many_arguments)] // the protocol's knobs, each used once
pub fn score(
    h: &History<'_>,
    origins: &[usize],
    every: usize,
    forecasters: Vec<MultiStep>,
    horizon: usize,
    samples: usize,
    reference: &str,
    bar: Option<&str>,
) -> Vec<HorizonScores> {
    let c = h.close;
    let train_end = h.split.saturating_sub(1);
    let all_targets = targets(c, origins, horizon);
    (1..=horizon)
        .zip(all_targets)
        .map(|(k, targets)| {
            let train: Vec<f64> = (0..train_end.saturating_sub(k))
                .map(|o| (c[o + k] / c[o]).ln().abs())
                .collect();
            let mae_naive = train.iter().sum::<f64>() / train.len().max(1) as f64;
            let all: Vec<OneStep> = forecasters
                .iter()
                .map(|f| OneStep {
                    name: f.name,
                    preds: f.preds[k - 1].clone(),
                    targets: targets.clone(),
                })
                .collect();
            // Origins `every` bars apart overlap for ceil(k / every) of them.
            let overlap = k.div_ceil(every.max(1));
            HorizonScores {
                horizon: k,
                origins: origins.len(),
                samples,
                scores: score_forecasts(&all, overlap, mae_naive, reference, bar),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(5);
        let mut c = vec![100.0];
        for i in 1..n {
            let vol = if (i / 200) % 2 == 0 { 0.01 } else { 0.02 };
            c.push(c[i - 1] * (vol * rng.normal()).exp());
        }
        let o: Vec<f64> = std::iter::once(100.0)
            .chain(c[..n - 1].iter().copied())
            .collect();
        let hi: Vec<f64> = o.iter().zip(&c).map(|(a, b)| a.max(*b) * 1.002).collect();
        let lo: Vec<f64> = o.iter().zip(&c).map(|(a, b)| a.min(*b) * 0.998).collect();
        (o, hi, lo, c)
    }

    /// At one step the closed-form baselines equal the one-step card exactly, and
    /// the sampled ones converge to it: the multi-step machinery adds no bias.
    #[test]
    fn step_one_agrees_with_the_one_step_scores() {
        let (o, hi, lo, c) = history(1000);
        let h = History::prices(&o, &hi, &lo, &c, 800);
        let orig = origins(&h, 5, 1);
        assert_eq!(orig.first(), Some(&799));
        assert_eq!(orig.last(), Some(&994));
        let multi: Vec<MultiStep> = crate::baselines::BASELINES
            .iter()
            .map(|b| b.multi_step_on(&h, &orig, 5, 2000, 1))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let card = crate::scorecard::score_series("x", &h, vec![], "rw-ewma")
            .unwrap_or_else(|e| panic!("{e}"));
        let scored = score(&h, &orig, 1, multi, 5, 2000, "rw-ewma", None);
        for s in &scored[0].scores {
            let one = card
                .scores
                .iter()
                .find(|x| x.forecaster == s.forecaster)
                .unwrap_or_else(|| panic!("{}", s.forecaster));
            // The one-step card has 5 more origins (the last bars): compare loosely
            // for sampled forecasters, closely for the closed forms.
            let tol = if ["rw-const", "rw-ewma", "garch"].contains(&s.forecaster.as_str()) {
                0.01
            } else {
                0.03
            };
            assert!(
                (s.relative_crps / one.relative_crps - 1.0).abs() < tol,
                "{}: {} vs {}",
                s.forecaster,
                s.relative_crps,
                one.relative_crps
            );
        }
        // Spread grows with the horizon.
        let sd = |k: usize| scored[k].scores[0].crps;
        assert!(sd(4) > 1.8 * sd(0), "{} vs {}", sd(4), sd(0));
    }

    /// `extend` rescales step k of every path by `step_scales`: with scales 1 and
    /// 2 the two-step sum has variance 1 + 4 times the one-step one.
    #[test]
    fn sampled_paths_follow_the_step_scales() {
        use crate::empirical::Empirical;
        use std::sync::Arc;
        let q = 10_000;
        let z = Empirical::new(
            (0..q).map(|i| crate::baselines::norm_quantile((i as f64 + 0.5) / q as f64)),
        )
        .unwrap_or_else(|| panic!("empty"));
        let fit = OneStep {
            name: "x",
            preds: vec![Predictive::Scaled {
                dist: Arc::new(z),
                loc: 0.0,
                scale: 0.5,
            }],
            targets: vec![0.0],
        };
        let scales = |_o: usize, h: usize| (1..=h).map(|k| k as f64).collect::<Vec<f64>>();
        let m =
            extend(&fit, None, &scales, 1, &[0], 2, 20_000, 9).unwrap_or_else(|e| panic!("{e}"));
        let var = |p: &Predictive| match p {
            Predictive::Sample { sorted } => {
                sorted.iter().map(|x| x * x).sum::<f64>() / sorted.len() as f64
            }
            _ => f64::NAN,
        };
        let (v1, v2) = (var(&m.preds[0][0]), var(&m.preds[1][0]));
        assert!((v1 / 0.25 - 1.0).abs() < 0.05, "{v1}");
        assert!((v2 / (0.25 * 5.0) - 1.0).abs() < 0.05, "{v2}");
    }
    /// Paths whose width falls behind the truth as `k^-0.2` get that growth back
    /// (within sampling noise), and paths of the right width keep none to speak of.
    #[test]
    fn the_spread_growth_undoes_a_width_that_falls_behind() {
        let mut rng = Rng::new(9);
        let (horizon, n, m) = (12, 300, 60);
        let paths = |shrink: f64, rng: &mut Rng| MultiStep {
            name: "x",
            preds: (1..=horizon)
                .map(|k| {
                    let sd = (k as f64).sqrt() * (k as f64).powf(-shrink);
                    (0..n)
                        .map(|_| Predictive::sample((0..m).map(|_| sd * rng.normal()).collect()))
                        .collect()
                })
                .collect(),
        };
        let targets: Vec<Vec<f64>> = (1..=horizon)
            .map(|k| (0..n).map(|_| (k as f64).sqrt() * rng.normal()).collect())
            .collect();
        let g = fit_spread_growth(&paths(0.2, &mut rng), &targets);
        assert!((g - 0.2).abs() < 0.06, "growth {g}");
        let g = fit_spread_growth(&paths(0.0, &mut rng), &targets);
        assert!(g.abs() < 0.06, "growth {g}");
        assert_eq!(
            fit_spread_growth(
                &MultiStep {
                    name: "x",
                    preds: vec![]
                },
                &[]
            ),
            0.0
        );
    }

    #[test]
    fn targets_are_cumulative_log_returns_and_nan_past_the_end() {
        let c = [100.0, 110.0, 99.0];
        let t = targets(&c, &[0, 1], 2);
        assert!((t[0][0] - 1.1f64.ln()).abs() < 1e-15);
        assert!((t[1][0] - 0.99f64.ln()).abs() < 1e-15);
        assert!((t[0][1] - 0.9f64.ln()).abs() < 1e-15);
        assert!(t[1][1].is_nan());
    }

    /// The bar several steps out is the forecaster closest to what happened at that
    /// step, not at the first: here the narrow one wins at k = 1 and the wide one at
    /// k = 2; a target past the end is skipped, not scored as NaN.
    #[test]
    fn the_lowest_mean_crps_is_taken_at_the_asked_step() {
        let normal = |sd: f64| Predictive::Normal { mean: 0.0, sd };
        let ms = |name, sd1, sd2| MultiStep {
            name,
            preds: vec![vec![normal(sd1); 3], vec![normal(sd2); 3]],
        };
        let (narrow, wide) = (ms("narrow", 0.01, 0.01), ms("wide", 0.1, 0.1));
        let small = [0.001, -0.002, f64::NAN];
        let large = [0.2, -0.15, f64::NAN];
        assert_eq!(
            lowest_mean_crps([&narrow, &wide], 1, &small),
            Some("narrow")
        );
        assert_eq!(lowest_mean_crps([&narrow, &wide], 2, &large), Some("wide"));
        assert_eq!(lowest_mean_crps([&narrow, &wide], 3, &large), None);
        assert_eq!(lowest_mean_crps([&narrow], 1, &[f64::NAN]), None);
    }
}
