//! Classical one-step forecasters of the next close log-return, the yardstick for
//! the GPT. Each is fitted on the training part of one series only and then rolled
//! forward through every origin using data up to that origin.
//!
//! Conventions (mirrored exactly by `bench/baselines_ref.py`):
//! - returns `r_t = ln(C_t / C_{t-1})`, `t = 1..n-1`; training returns are `r_1 .. r_{s-1}`
//!   where `s` is the first test bar; origin `o` forecasts `r_{o+1}`;
//! - `rw-const`: N(0, v) with `v = mean(r_train^2)`;
//! - `rw-ewma`: N(0, v_{t+1}), `v_{t+1} = λ v_t + (1-λ) r_t^2`, λ = 0.94, `v_1 = mean(r_train^2)`;
//! - `garch`: constant mean, GARCH(1,1), normal errors, maximum likelihood on the
//!   training returns, variance started at arch's backcast (EWMA 0.94 of the first
//!   min(75, n) squared residuals);
//! - `hs`: the empirical distribution of the training returns;
//! - `fhs`: `z_t = r_t / sqrt(v_t)` (rw-ewma's variance) over training, rescaled by `sqrt(v_{o+1})`;
//! - `fhs-range`: the same with `v` driven by the Garman-Klass range variance
//!   `0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2` instead of `r^2`.

use crate::empirical::Empirical;
use crate::score::{crps_normal, norm_cdf};
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
    /// A finite mixture: `values` ascending, `cum[i]` = P(X <= values[i]).
    Atoms {
        values: Vec<f64>,
        cum: Vec<f64>,
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
        }
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
    /// Index of the first test bar `s`: training returns are `r_1 .. r_{s-1}`.
    pub split: usize,
}

impl<'a> History<'a> {
    /// A series' prices, split at bar `split`.
    pub fn of(series: &'a candlecast_data::Series, split: usize) -> History<'a> {
        History {
            open: series.open(),
            high: series.high(),
            low: series.low(),
            close: series.close(),
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

struct Split {
    r: Vec<f64>,
    /// Index in `r` of the first test return.
    first: usize,
}

fn split(h: &History<'_>) -> Result<Split, BaselineError> {
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

fn mean_sq(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum::<f64>() / xs.len() as f64
}

fn normal_preds(name: &'static str, s: &Split, sd: impl Fn(usize) -> f64, mean: f64) -> OneStep {
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

pub fn rw_const(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let v = mean_sq(&s.r[..s.first]);
    if v <= 0.0 {
        return Err(BaselineError::Flat);
    }
    Ok(normal_preds("rw-const", &s, |_| v.sqrt(), 0.0))
}

pub fn rw_ewma(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let v0 = mean_sq(&s.r[..s.first]);
    if v0 <= 0.0 {
        return Err(BaselineError::Flat);
    }
    let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
    let v = ewma_variance(&sq, v0, EWMA_LAMBDA);
    Ok(normal_preds("rw-ewma", &s, |i| v[i].sqrt(), 0.0))
}

pub fn historical(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let dist = Arc::new(Empirical::new(s.r[..s.first].iter().copied()).ok_or(BaselineError::Flat)?);
    let idx = s.first..s.r.len();
    Ok(OneStep {
        name: "hs",
        preds: idx
            .clone()
            .map(|_| Predictive::Scaled {
                dist: dist.clone(),
                loc: 0.0,
                scale: 1.0,
            })
            .collect(),
        targets: s.r[idx].to_vec(),
    })
}

/// Filtered historical simulation with the variance driven by `drivers` (one per
/// return, the variance information of the bar that return ends on).
fn filtered(name: &'static str, s: &Split, drivers: &[f64]) -> Result<OneStep, BaselineError> {
    let v0 = drivers[..s.first].iter().sum::<f64>() / s.first as f64;
    if v0 <= 0.0 {
        return Err(BaselineError::Flat);
    }
    let floor = v0 * 1e-6;
    let v: Vec<f64> = ewma_variance(drivers, v0, EWMA_LAMBDA)
        .into_iter()
        .map(|x| x.max(floor))
        .collect();
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

pub fn fhs(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
    filtered("fhs", &s, &sq)
}

pub fn fhs_range(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    // r[i] ends on bar i+1: its range variance drives the forecast of r[i+1].
    let gk = garman_klass(h);
    let drivers: Vec<f64> = (0..s.r.len()).map(|i| gk[i + 1].max(0.0)).collect();
    filtered("fhs-range", &s, &drivers)
}

/// Fitted GARCH(1,1) parameters, in return units.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Garch {
    pub mu: f64,
    pub omega: f64,
    pub alpha: f64,
    pub beta: f64,
    pub loglik: f64,
}

fn backcast(resid: &[f64]) -> f64 {
    let tau = resid.len().min(75);
    let w: Vec<f64> = (0..tau).map(|i| 0.94f64.powi(i as i32)).collect();
    let sw: f64 = w.iter().sum();
    resid[..tau]
        .iter()
        .zip(&w)
        .map(|(e, w)| e * e * w)
        .sum::<f64>()
        / sw
}

/// Negative Gaussian log-likelihood (without the 2π constant, halved) of GARCH(1,1).
fn garch_nll(x: &[f64], mu: f64, omega: f64, alpha: f64, beta: f64, bc: f64) -> f64 {
    let mut s2 = omega + (alpha + beta) * bc;
    let mut nll = 0.0;
    for &r in x {
        let e = r - mu;
        nll += s2.ln() + e * e / s2;
        s2 = omega + alpha * e * e + beta * s2;
    }
    0.5 * nll
}

fn unpack(p: &[f64; 4]) -> (f64, f64, f64, f64) {
    let sig = |u: f64| 1.0 / (1.0 + (-u).exp());
    let persistence = sig(p[2]);
    let alpha = persistence * sig(p[3]);
    (p[0], p[1].exp(), alpha, persistence - alpha)
}

/// Maximum-likelihood GARCH(1,1) with a constant mean on `train`, by Nelder-Mead in
/// an unconstrained parameterisation (omega > 0, alpha, beta >= 0, alpha + beta < 1),
/// fitted on returns standardised by their standard deviation for conditioning.
pub fn fit_garch(train: &[f64]) -> Result<Garch, BaselineError> {
    let n = train.len() as f64;
    let m = train.iter().sum::<f64>() / n;
    let sd = (train.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
    if sd <= 0.0 || train.len() < 10 {
        return Err(BaselineError::Flat);
    }
    let x: Vec<f64> = train.iter().map(|r| r / sd).collect();
    let resid: Vec<f64> = x.iter().map(|r| r - m / sd).collect();
    let bc = backcast(&resid);
    let f = |p: &[f64; 4]| {
        let (mu, omega, alpha, beta) = unpack(p);
        let v = garch_nll(&x, mu, omega, alpha, beta, bc);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    // Start near typical daily-equity values: persistence 0.95, alpha 0.1 of it.
    let start = [
        m / sd,
        (0.05f64).ln(),
        (0.95f64 / 0.05).ln(),
        (0.1f64 / 0.9).ln(),
    ];
    let best = nelder_mead(f, start, 4000);
    let (mu, omega, alpha, beta) = unpack(&best);
    Ok(Garch {
        mu: mu * sd,
        omega: omega * sd * sd,
        alpha,
        beta,
        loglik: -f(&best) - 0.5 * n * (2.0 * std::f64::consts::PI).ln() + n * -(sd.ln()),
    })
}

pub fn garch(h: &History<'_>) -> Result<(OneStep, Garch), BaselineError> {
    let s = split(h)?;
    let g = fit_garch(&s.r[..s.first])?;
    let resid: Vec<f64> = s.r[..s.first].iter().map(|r| r - g.mu).collect();
    let bc = backcast(&resid);
    let mut s2 = g.omega + (g.alpha + g.beta) * bc;
    let mut var = Vec::with_capacity(s.r.len());
    for &r in &s.r {
        var.push(s2);
        let e = r - g.mu;
        s2 = g.omega + g.alpha * e * e + g.beta * s2;
    }
    Ok((normal_preds("garch", &s, |i| var[i].sqrt(), g.mu), g))
}

/// Nelder-Mead minimisation (standard coefficients), from a simplex of 10% steps.
fn nelder_mead(f: impl Fn(&[f64; 4]) -> f64, start: [f64; 4], max_iter: usize) -> [f64; 4] {
    let mut simplex: Vec<([f64; 4], f64)> = Vec::with_capacity(5);
    simplex.push((start, f(&start)));
    for i in 0..4 {
        let mut p = start;
        p[i] += if p[i].abs() > 1e-3 {
            0.1 * p[i].abs()
        } else {
            0.1
        };
        simplex.push((p, f(&p)));
    }
    for _ in 0..max_iter {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[4].1);
        if (worst - best).abs() <= 1e-12 * (1.0 + best.abs()) {
            break;
        }
        let mut c = [0.0; 4];
        for (p, _) in &simplex[..4] {
            for k in 0..4 {
                c[k] += p[k] / 4.0;
            }
        }
        let along = |t: f64| -> [f64; 4] {
            let mut p = [0.0; 4];
            for k in 0..4 {
                p[k] = c[k] + t * (simplex[4].0[k] - c[k]);
            }
            p
        };
        let r = along(-1.0);
        let fr = f(&r);
        if fr < simplex[0].1 {
            let e = along(-2.0);
            let fe = f(&e);
            simplex[4] = if fe < fr { (e, fe) } else { (r, fr) };
        } else if fr < simplex[3].1 {
            simplex[4] = (r, fr);
        } else {
            let (t, bound) = if fr < simplex[4].1 {
                (-0.5, fr)
            } else {
                (0.5, simplex[4].1)
            };
            let k = along(t);
            let fk = f(&k);
            if fk < bound {
                simplex[4] = (k, fk);
            } else {
                let b = simplex[0].0;
                for s in simplex.iter_mut().skip(1) {
                    for (x, &bk) in s.0.iter_mut().zip(&b) {
                        *x = bk + 0.5 * (*x - bk);
                    }
                    s.1 = f(&s.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        for p in [1e-9, 0.001, 0.1, 0.5, 0.9, 0.975, 1.0 - 1e-7] {
            assert!(
                (norm_cdf(norm_quantile(p)) - p).abs() < 1e-14 + 1e-12 * p,
                "{p}"
            );
        }
        assert!((norm_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
    }

    /// A simulated GARCH path is fitted back close to its parameters.
    #[test]
    fn garch_recovers_simulated_parameters() {
        let (omega, alpha, beta) = (1e-6, 0.08, 0.9);
        let mut s2: f64 = omega / (1.0 - alpha - beta);
        let mut state = 12345u64;
        let mut normal = || {
            let mut u = || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
            };
            let (a, b) = (u(), u());
            (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
        };
        let r: Vec<f64> = (0..6000)
            .map(|_| {
                let e = s2.sqrt() * normal();
                s2 = omega + alpha * e * e + beta * s2;
                e
            })
            .collect();
        let g = fit_garch(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            (g.alpha - alpha).abs() < 0.03 && (g.beta - beta).abs() < 0.04,
            "{g:?}"
        );
    }
}
