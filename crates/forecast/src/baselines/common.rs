//! What every baseline shares: the predictive distributions, the split series they
//! are fitted on, and the variance filters several of them are built from, so a
//! baseline's own file holds only what makes it different.

use crate::empirical::Empirical;
use crate::score::{crps_normal, norm_cdf};
use candlecast_data::Timestamp;
use std::sync::Arc;

pub const EWMA_LAMBDA: f64 = 0.94;

/// A one-step predictive distribution of a log-return.
#[derive(Debug, Clone)]
pub enum Predictive {
    Normal {
        mean: f64,
        sd: f64,
    },
    /// `loc + scale * X`, X drawn from the shared empirical distribution.
    Scaled {
        dist: Arc<Empirical>,
        loc: f64,
        scale: f64,
    },
    /// A finite mixture: `values` ascending, `cum[i] = P(X <= values[i])`.
    Atoms {
        values: Vec<f64>,
        cum: Vec<f64>,
    },
    /// Equally likely simulated draws, ascending: a Monte Carlo stand-in for a
    /// distribution without a closed form, scored with the fair CRPS (unbiased for
    /// the distribution drawn from); CDF and quantiles are the draws' own.
    Sample {
        sorted: Vec<f64>,
    },
    /// The linear pool `weight * a + (1 - weight) * b` (`gpt-pool`, [`crate::pool`]).
    /// `a` has finitely many atoms, which makes the pool's CRPS exact:
    /// `weight CRPS_a + (1 - weight) CRPS_b - weight (1 - weight) energy`, where
    /// `energy = E|A - B| - E|A - A'| / 2 - E|B - B'| / 2 >= 0` is kept here, computed
    /// once per forecast rather than once per score.
    Pool {
        weight: f64,
        a: Box<Predictive>,
        b: Box<Predictive>,
        energy: f64,
    },
}

impl Predictive {
    pub fn crps(&self, y: f64) -> f64 {
        match self {
            Predictive::Normal { mean, sd } => crps_normal(*mean, *sd, y),
            Predictive::Scaled { dist, loc, scale } => dist.crps(*loc, *scale, y),
            Predictive::Atoms { values, cum } => {
                let mut atoms: Vec<(f64, f64)> = values
                    .iter()
                    .zip(cum)
                    .scan(0.0, |prev, (&v, &c)| {
                        let w = c - *prev;
                        *prev = c;
                        Some((v, w))
                    })
                    .collect();
                crate::score::crps_atoms(&mut atoms, y)
            }
            Predictive::Sample { sorted } => crate::score::crps_fair(sorted, y),
            Predictive::Pool {
                weight,
                a,
                b,
                energy,
            } => weight * a.crps(y) + (1.0 - weight) * b.crps(y) - weight * (1.0 - weight) * energy,
        }
    }

    /// The pool `weight * a + (1 - weight) * b`; `None` unless `a` or `b` has
    /// finitely many atoms (`Atoms` or `Sample`; the pool's CRPS needs E|A - B| in
    /// closed form), or when `weight` is outside 0..=1.
    pub fn pool(weight: f64, a: Predictive, b: Predictive) -> Option<Predictive> {
        if !(0.0..=1.0).contains(&weight) {
            return None;
        }
        let energy = Predictive::energy(&a, &b)?;
        let (weight, a, b) = if a.atom_iter().is_some() {
            (weight, a, b)
        } else {
            (1.0 - weight, b, a)
        };
        Some(Predictive::Pool {
            weight,
            a: Box::new(a),
            b: Box::new(b),
            energy,
        })
    }

    /// `E|A - B| - E|A - A'| / 2 - E|B - B'| / 2` (half the energy distance: what a
    /// pool of the two gains on their weighted CRPS), where one of them is made of
    /// atoms; `None` where neither is.
    pub fn energy(a: &Predictive, b: &Predictive) -> Option<f64> {
        let (a, b) = match (a.atom_iter(), b.atom_iter()) {
            (Some(_), _) => (a, b),
            (None, Some(_)) => (b, a),
            (None, None) => return None,
        };
        // E|x - B| = CRPS_B(x) + E|B - B'| / 2, so the E|B - B'| / 2 terms cancel.
        let cross: f64 = a.atom_iter()?.map(|(x, p)| p * b.crps(x)).sum();
        Some((cross - a.half_spread()).max(0.0))
    }

    /// `(value, probability)` of each atom, for the distributions made of atoms.
    fn atom_iter(&self) -> Option<Box<dyn Iterator<Item = (f64, f64)> + '_>> {
        match self {
            Predictive::Atoms { values, cum } => Some(Box::new(values.iter().zip(cum).scan(
                0.0,
                |prev, (&v, &c)| {
                    let w = c - *prev;
                    *prev = c;
                    Some((v, w))
                },
            ))),
            Predictive::Sample { sorted } => {
                let w = 1.0 / sorted.len().max(1) as f64;
                Some(Box::new(sorted.iter().map(move |&x| (x, w))))
            }
            _ => None,
        }
    }

    /// `E|X - X'| / 2`: what CRPS subtracts from `E|X - y|`.
    pub fn half_spread(&self) -> f64 {
        match self {
            Predictive::Normal { sd, .. } => sd / std::f64::consts::PI.sqrt(),
            Predictive::Scaled { dist, scale, .. } => scale * dist.half_spread(),
            Predictive::Atoms { .. } | Predictive::Sample { .. } => {
                // E|X - X'| = 2 sum_i p_i x_i (2 P(X < x_i) + p_i - 1), atoms ascending.
                let mut below = 0.0;
                let mut acc = 0.0;
                for (x, p) in self.atom_iter().into_iter().flatten() {
                    acc += p * x * (2.0 * below + p - 1.0);
                    below += p;
                }
                acc
            }
            Predictive::Pool {
                weight,
                a,
                b,
                energy,
            } => {
                // E|Z - Z'| = w^2 E|A - A'| + (1 - w)^2 E|B - B'| + 2 w (1 - w) E|A - B|.
                let (ha, hb) = (a.half_spread(), b.half_spread());
                let w = *weight;
                w * w * ha + (1.0 - w) * (1.0 - w) * hb + w * (1.0 - w) * (energy + ha + hb)
            }
        }
    }

    /// Simulated draws (sorted here; non-finite ones dropped).
    pub fn sample(mut values: Vec<f64>) -> Predictive {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        Predictive::Sample { sorted: values }
    }

    /// A mixture from `(value, probability)` pairs (merged and sorted here).
    pub fn atoms(mut pairs: Vec<(f64, f64)>) -> Predictive {
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        let (mut values, mut cum) = (
            Vec::with_capacity(pairs.len()),
            Vec::with_capacity(pairs.len()),
        );
        let mut acc = 0.0;
        for (v, w) in pairs {
            acc += w / total;
            if values.last() == Some(&v) {
                if let Some(c) = cum.last_mut() {
                    *c = acc;
                }
            } else {
                values.push(v);
                cum.push(acc);
            }
        }
        Predictive::Atoms { values, cum }
    }

    /// Mean and variance of the distribution.
    pub fn moments(&self) -> (f64, f64) {
        let of = |xs: &mut dyn Iterator<Item = (f64, f64)>| {
            let (mut w, mut m1, mut m2) = (0.0, 0.0, 0.0);
            for (x, p) in xs {
                w += p;
                m1 += p * x;
                m2 += p * x * x;
            }
            let m = m1 / w;
            (m, (m2 / w - m * m).max(0.0))
        };
        match self {
            Predictive::Normal { mean, sd } => (*mean, sd * sd),
            Predictive::Scaled { dist, loc, scale } => {
                let (m, v) = of(&mut dist.sorted().iter().map(|&x| (x, 1.0)));
                (loc + scale * m, scale * scale * v)
            }
            Predictive::Atoms { values, cum } => {
                of(&mut values.iter().zip(cum).scan(0.0, |prev, (&v, &c)| {
                    let w = c - *prev;
                    *prev = c;
                    Some((v, w))
                }))
            }
            Predictive::Sample { sorted } => of(&mut sorted.iter().map(|&x| (x, 1.0))),
            Predictive::Pool { weight, a, b, .. } => {
                let ((ma, va), (mb, vb)) = (a.moments(), b.moments());
                let m = weight * ma + (1.0 - weight) * mb;
                let second = weight * (va + ma * ma) + (1.0 - weight) * (vb + mb * mb);
                (m, (second - m * m).max(0.0))
            }
        }
    }

    pub fn cdf(&self, y: f64) -> f64 {
        match self {
            Predictive::Normal { mean, sd } => norm_cdf((y - mean) / sd),
            Predictive::Scaled { dist, loc, scale } => dist.cdf(*loc, *scale, y),
            Predictive::Atoms { values, cum } => {
                let k = values.partition_point(|&v| v <= y);
                if k == 0 {
                    0.0
                } else {
                    cum[k - 1]
                }
            }
            Predictive::Sample { sorted } => {
                sorted.partition_point(|&v| v <= y) as f64 / sorted.len().max(1) as f64
            }
            Predictive::Pool { weight, a, b, .. } => weight * a.cdf(y) + (1.0 - weight) * b.cdf(y),
        }
    }

    pub fn quantile(&self, tau: f64) -> f64 {
        match self {
            Predictive::Normal { mean, sd } => mean + sd * norm_quantile(tau),
            Predictive::Scaled { dist, loc, scale } => dist.quantile(*loc, *scale, tau),
            // The smallest atom whose cumulative probability reaches tau.
            Predictive::Atoms { values, cum } => {
                let k = cum
                    .partition_point(|&c| c < tau - 1e-12)
                    .min(values.len() - 1);
                values[k]
            }
            // The same rule as `Atoms` with weights 1/m: the smallest draw x_(k)
            // with (k + 1) / m >= tau.
            Predictive::Sample { sorted } => {
                let m = sorted.len();
                let k = ((tau - 1e-12) * m as f64).ceil() - 1.0;
                let k = (k.max(0.0) as usize).min(m.saturating_sub(1));
                sorted.get(k).copied().unwrap_or(f64::NAN)
            }
            // Between the parts' own quantiles: bisection on the pooled CDF, to the
            // smallest x (within 1e-12 of the bracket) with CDF(x) >= tau.
            Predictive::Pool { a, b, .. } => {
                let (qa, qb) = (a.quantile(tau), b.quantile(tau));
                let (mut lo, mut hi) = (qa.min(qb), qa.max(qb));
                if self.cdf(lo) >= tau - 1e-12 {
                    return lo;
                }
                for _ in 0..100 {
                    let mid = 0.5 * (lo + hi);
                    if mid <= lo || mid >= hi || hi - lo <= 1e-12 * hi.abs().max(1e-300) {
                        break;
                    }
                    if self.cdf(mid) >= tau - 1e-12 {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                hi
            }
        }
    }
}

/// Inverse standard normal CDF (Acklam's approximation refined by one Halley step;
/// ~1e-15 relative).
pub fn norm_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let pl = 0.024_25;
    let x = if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Prices of one series and where its test part starts.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    /// Bar times (UTC ms), one per bar, for the intraday profile of `fhs-seasonal`;
    /// empty when unknown (the profile is then flat and `fhs-seasonal` is `fhs`).
    pub timestamps: &'a [Timestamp],
    /// Offset of the source's clock from UTC in ms (fixed-offset sources), so the
    /// time of day is the market's. Named zones are bucketed in UTC: their
    /// daylight-saving shifts smear the profile by an hour twice a year.
    pub utc_offset_ms: i64,
    /// Index of the first test bar `s`: training returns are `r_1 .. r_{s-1}`.
    pub split: usize,
}

impl<'a> History<'a> {
    /// A series' prices and bar times, split at bar `split`.
    pub fn of(series: &'a candlecast_data::Series, split: usize) -> History<'a> {
        let utc_offset_ms = match series.zone {
            candlecast_data::SourceZone::Offset(secs) => i64::from(secs) * 1000,
            _ => 0,
        };
        History {
            open: series.open(),
            high: series.high(),
            low: series.low(),
            close: series.close(),
            timestamps: series.timestamps(),
            utc_offset_ms,
            split,
        }
    }

    /// Prices alone (no bar times: no intraday profile), split at bar `split`.
    pub fn prices(
        open: &'a [f64],
        high: &'a [f64],
        low: &'a [f64],
        close: &'a [f64],
        split: usize,
    ) -> History<'a> {
        History {
            open,
            high,
            low,
            close,
            timestamps: &[],
            utc_offset_ms: 0,
            split,
        }
    }

    /// The first `bars` bars, split at `split`: the training part as a series of
    /// its own (validation).
    pub fn head(&self, bars: usize, split: usize) -> History<'a> {
        let cut = |x: &'a [f64]| &x[..bars.min(x.len())];
        History {
            open: cut(self.open),
            high: cut(self.high),
            low: cut(self.low),
            close: cut(self.close),
            timestamps: &self.timestamps[..bars.min(self.timestamps.len())],
            utc_offset_ms: self.utc_offset_ms,
            split,
        }
    }
}

/// One forecaster's predictions at every test origin and what happened.
#[derive(Debug, Clone)]
pub struct OneStep {
    pub name: &'static str,
    pub preds: Vec<Predictive>,
    /// `r_{o+1}` for each origin `o = s-1 .. n-2`.
    pub targets: Vec<f64>,
}

/// Why a baseline could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaselineError {
    #[error("need at least 10 training and 1 test returns, have {train} and {test}")]
    TooShort { train: usize, test: usize },
    #[error("training returns have zero variance")]
    Flat,
}

/// Close log-returns; `r[i]` is `r_{i+1}` in the module's notation.
pub fn log_returns(close: &[f64]) -> Vec<f64> {
    close.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
}

/// Garman-Klass variance of each bar.
pub fn garman_klass(h: &History<'_>) -> Vec<f64> {
    let c = 2.0 * std::f64::consts::LN_2 - 1.0;
    (0..h.close.len())
        .map(|i| {
            0.5 * (h.high[i] / h.low[i]).ln().powi(2) - c * (h.close[i] / h.open[i]).ln().powi(2)
        })
        .collect()
}

/// `v[0] = v0`, `v[i+1] = λ v[i] + (1-λ) d[i]`: the variance forecast for step `i`
/// from drivers strictly before it.
pub fn ewma_variance(drivers: &[f64], v0: f64, lambda: f64) -> Vec<f64> {
    let mut v = Vec::with_capacity(drivers.len());
    let mut cur = v0;
    for &d in drivers {
        v.push(cur);
        cur = lambda * cur + (1.0 - lambda) * d;
    }
    v
}

pub(super) struct Split {
    pub(super) r: Vec<f64>,
    /// Index in `r` of the first test return.
    pub(super) first: usize,
}

pub(super) fn split(h: &History<'_>) -> Result<Split, BaselineError> {
    let r = log_returns(h.close);
    let first = h.split.saturating_sub(1).min(r.len());
    if first < 10 || first >= r.len() {
        return Err(BaselineError::TooShort {
            train: first,
            test: r.len() - first,
        });
    }
    Ok(Split { r, first })
}

pub(super) fn mean_sq(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum::<f64>() / xs.len() as f64
}

pub(super) fn normal_preds(
    name: &'static str,
    s: &Split,
    sd: impl Fn(usize) -> f64,
    mean: f64,
) -> OneStep {
    let idx = s.first..s.r.len();
    OneStep {
        name,
        preds: idx
            .clone()
            .map(|i| Predictive::Normal { mean, sd: sd(i) })
            .collect(),
        targets: s.r[idx].to_vec(),
    }
}

/// Filtered historical simulation with the variance driven by `drivers` (one per
/// return, the variance information of the bar that return ends on).
pub(super) fn filtered(
    name: &'static str,
    s: &Split,
    drivers: &[f64],
) -> Result<OneStep, BaselineError> {
    let v0 = drivers[..s.first].iter().sum::<f64>() / s.first as f64;
    if v0 <= 0.0 {
        return Err(BaselineError::Flat);
    }
    let floor = v0 * 1e-6;
    let v: Vec<f64> = ewma_variance(drivers, v0, EWMA_LAMBDA)
        .into_iter()
        .map(|x| x.max(floor))
        .collect();
    rescaled(name, s, &v)
}

/// The FHS forecast from a variance forecast `v[i]` of every return: the training
/// returns standardised by it (`z_i = r_i / sqrt(v_i)`) rescaled by `sqrt(v_i)` at
/// each test origin.
pub(super) fn rescaled(name: &'static str, s: &Split, v: &[f64]) -> Result<OneStep, BaselineError> {
    let z = (0..s.first).map(|i| s.r[i] / v[i].sqrt());
    let dist = Arc::new(Empirical::new(z).ok_or(BaselineError::Flat)?);
    let idx = s.first..s.r.len();
    Ok(OneStep {
        name,
        preds: idx
            .clone()
            .map(|i| Predictive::Scaled {
                dist: dist.clone(),
                loc: 0.0,
                scale: v[i].sqrt(),
            })
            .collect(),
        targets: s.r[idx].to_vec(),
    })
}

/// Garman-Klass variance of the bar each return ends on (`r[i]` ends on bar
/// `i + 1`), floored at zero: the driver of `fhs-range` and `har`.
pub(super) fn range_drivers(h: &History<'_>, s: &Split) -> Vec<f64> {
    let gk = garman_klass(h);
    (0..s.r.len()).map(|i| gk[i + 1].max(0.0)).collect()
}

/// Mean CRPS and 80% central-interval coverage of a forecaster.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub crps: f64,
    pub coverage80: f64,
}

pub fn summarise(o: &OneStep) -> Summary {
    let n = o.targets.len();
    let crps = o
        .preds
        .iter()
        .zip(&o.targets)
        .map(|(p, &y)| p.crps(y))
        .sum::<f64>()
        / n as f64;
    let inside = o
        .preds
        .iter()
        .zip(&o.targets)
        .filter(|(p, &y)| y >= p.quantile(0.1) && y <= p.quantile(0.9))
        .count();
    Summary {
        n,
        crps,
        coverage80: inside as f64 / n as f64,
    }
}
