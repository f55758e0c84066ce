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
//!   training returns with the intercept variance-targeted (`omega = (1 - alpha -
//!   beta) var(r_train)`), variance started at arch's backcast (EWMA 0.94 of the
//!   first min(75, n) squared residuals);
//! - `hs`: the empirical distribution of the training returns;
//! - `fhs`: `z_t = r_t / sqrt(v_t)` (rw-ewma's variance) over training, rescaled by `sqrt(v_{o+1})`;
//! - `fhs-range`: the same with `v` driven by the Garman-Klass range variance
//!   `0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2` instead of `r^2`;
//! - `har`: the same with `v` the log-HAR forecast of that range variance from its
//!   values over the last 1, 5 and 22 bars (least squares on training, [`Har`]);
//! - `fhs-seasonal`: `fhs` on returns divided by an intraday (time of day times
//!   weekday) variance profile fitted on training, rescaled by the profile of the
//!   bar forecast ([`Seasonal`]); `fhs` itself on daily or longer bars.

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
    /// A finite mixture: `values` ascending, `cum[i]` = P(X <= values[i]).
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
    rescaled(name, s, &v)
}

/// The FHS forecast from a variance forecast `v[i]` of every return: the training
/// returns standardised by it (`z_i = r_i / sqrt(v_i)`) rescaled by `sqrt(v_i)` at
/// each test origin.
fn rescaled(name: &'static str, s: &Split, v: &[f64]) -> Result<OneStep, BaselineError> {
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
    let drivers = range_drivers(h, &s);
    filtered("fhs-range", &s, &drivers)
}

/// Garman-Klass variance of the bar each return ends on (`r[i]` ends on bar
/// `i + 1`), floored at zero: the driver of `fhs-range` and `har`.
fn range_drivers(h: &History<'_>, s: &Split) -> Vec<f64> {
    let gk = garman_klass(h);
    (0..s.r.len()).map(|i| gk[i + 1].max(0.0)).collect()
}

/// Floor of the HAR drivers as a share of their training mean, so that flat bars
/// (zero range) have a finite logarithm: below 1% of the average variance a bar's
/// range says nothing more than "quiet".
pub const HAR_FLOOR: f64 = 0.01;

/// A log-HAR model of the Garman-Klass range variance `d_t` (Corsi 2009, in logs):
/// `ln d_{t+1} = b0 + b1 ln d_t + b5 ln mean(d_{t-4..=t}) + b22 ln mean(d_{t-21..=t}) + e`,
/// least squares on the training part, every `d` and mean floored at
/// `HAR_FLOOR * mean(d_train)`. The variance forecast is `exp(fit) * mean(exp(e))`
/// (Duan's smearing: the mean of `d`, not its median).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Har {
    /// `[b0, b1, b5, b22]`.
    pub coef: [f64; 4],
    pub smear: f64,
    pub floor: f64,
    /// Training mean of the drivers: the forecast of the first return.
    #[serde(skip)]
    v0: f64,
    #[serde(skip)]
    drivers: Vec<f64>,
}

/// The regressors after driver `t` from the drivers `d[..=t]` (the windows hold the
/// drivers there are, fewer at the start).
fn har_x(d: &[f64], floor: f64) -> [f64; 4] {
    let n = d.len();
    let mean = |w: usize| {
        let part = &d[n - w.min(n)..];
        part.iter().sum::<f64>() / part.len() as f64
    };
    let ln = |x: f64| x.max(floor).ln();
    [1.0, ln(d[n - 1]), ln(mean(5)), ln(mean(22))]
}

impl Har {
    fn predict(&self, x: &[f64; 4]) -> f64 {
        let y: f64 = self.coef.iter().zip(x).map(|(b, x)| b * x).sum();
        (y.exp() * self.smear).max(self.floor)
    }

    /// The variance forecast of return `i` (from the drivers before it).
    fn one(&self, i: usize) -> f64 {
        if i == 0 {
            return self.v0.max(self.floor);
        }
        let lo = i.saturating_sub(22);
        self.predict(&har_x(&self.drivers[lo..i], self.floor))
    }

    /// Variance forecasts of returns `i, i+1, ..., i+horizon-1` made with the
    /// drivers before `i`: the recursion iterated on its own forecasts. A future
    /// driver enters the window means at its expected level (the variance
    /// forecast) but the one-bar regressor `ln d` at its expected logarithm (the
    /// fitted value, below the log of the mean by `ln smear`): plugging the mean
    /// level into the log would add `b1 ln smear` at every step, a drift that made
    /// 24-bar BTC hourly forecasts far too wide (80% coverage 0.97).
    pub fn term(&self, i: usize, horizon: usize) -> Vec<f64> {
        let lo = i.saturating_sub(22).min(self.drivers.len());
        let mut d: Vec<f64> = self.drivers[lo..i.min(self.drivers.len())].to_vec();
        let mut last_log: Option<f64> = None;
        let mut out = Vec::with_capacity(horizon);
        for _ in 0..horizon {
            let v = if d.is_empty() {
                self.v0.max(self.floor)
            } else {
                let mut x = har_x(&d[d.len().saturating_sub(22)..], self.floor);
                if let Some(y) = last_log {
                    x[1] = y;
                }
                let y: f64 = self.coef.iter().zip(&x).map(|(b, x)| b * x).sum();
                last_log = Some(y);
                (y.exp() * self.smear).max(self.floor)
            };
            out.push(v);
            d.push(v);
        }
        out
    }
}

/// Least squares of `y` on `x` (each row `[1, x1, x2, x3]`) by the normal equations
/// of the centred regressors, which keeps them well conditioned; `None` when the
/// regressors are collinear.
fn least_squares(x: &[[f64; 4]], y: &[f64]) -> Option<[f64; 4]> {
    let n = y.len() as f64;
    let mut mx = [0.0; 3];
    for row in x {
        for k in 0..3 {
            mx[k] += row[k + 1] / n;
        }
    }
    let my = y.iter().sum::<f64>() / n;
    let mut a = [[0.0; 4]; 3]; // [X'X | X'y], centred
    for (row, &yy) in x.iter().zip(y) {
        let c = [row[1] - mx[0], row[2] - mx[1], row[3] - mx[2]];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += c[i] * c[j];
            }
            a[i][3] += c[i] * (yy - my);
        }
    }
    let scale = (0..3).map(|i| a[i][i]).fold(0.0f64, f64::max);
    // Gaussian elimination with partial pivoting.
    for col in 0..3 {
        let p = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        let pivot = a[p][col].abs();
        if pivot.is_nan() || pivot <= 1e-12 * scale {
            return None;
        }
        a.swap(col, p);
        let pivot_row = a[col];
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= f * p;
            }
        }
    }
    let mut b = [0.0; 3];
    for i in (0..3).rev() {
        let tail: f64 = (i + 1..3).map(|k| a[i][k] * b[k]).sum();
        b[i] = (a[i][3] - tail) / a[i][i];
    }
    let b0 = my - (0..3).map(|k| b[k] * mx[k]).sum::<f64>();
    Some([b0, b[0], b[1], b[2]])
}

/// `har`: filtered historical simulation with the log-HAR range-variance forecast
/// ([`Har`]) in place of the EWMA. Log rather than levels: least squares on levels
/// is dominated by the most volatile stretch of training and then overshoots a
/// calmer test part, and logs keep every forecast positive. Degenerate
/// regressors (collinear: a very short or constant series) leave the intercept
/// alone, a constant variance.
pub fn har(h: &History<'_>) -> Result<(OneStep, Har), BaselineError> {
    let s = split(h)?;
    let drivers = range_drivers(h, &s);
    let v0 = drivers[..s.first].iter().sum::<f64>() / s.first as f64;
    if v0 <= 0.0 {
        return Err(BaselineError::Flat);
    }
    let floor = HAR_FLOOR * v0;
    // Pairs (regressors after driver t, ln d_{t+1}) inside training: t + 1 < first.
    let x: Vec<[f64; 4]> = (0..s.first - 1)
        .map(|t| har_x(&drivers[t.saturating_sub(21)..=t], floor))
        .collect();
    let y: Vec<f64> = (1..s.first).map(|t| drivers[t].max(floor).ln()).collect();
    let coef = least_squares(&x, &y).unwrap_or_else(|| {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        [mean, 0.0, 0.0, 0.0]
    });
    let resid_exp: f64 = x
        .iter()
        .zip(&y)
        .map(|(row, yy)| (yy - coef.iter().zip(row).map(|(b, x)| b * x).sum::<f64>()).exp())
        .sum::<f64>()
        / y.len() as f64;
    let fit = Har {
        coef,
        smear: resid_exp,
        floor,
        v0,
        drivers,
    };
    let v: Vec<f64> = (0..s.r.len()).map(|i| fit.one(i)).collect();
    Ok((rescaled("har", &s, &v)?, fit))
}

/// Pseudo-observations (of mean 1) each bucket of the seasonal profile is shrunk
/// with: a bucket seen 30 times in training keeps half its own estimate.
pub const SEASONAL_SHRINK: f64 = 30.0;
/// Passes of the profile fit: the EWMA that standardises the returns is itself run
/// on deseasonalised returns, so the profile and the EWMA are refitted in turn
/// (from a flat profile; three passes settle it to within a few percent).
pub const SEASONAL_PASSES: usize = 3;

const DAY_MS: i64 = 86_400_000;

/// A multiplicative intraday variance profile: time of day (slots one bar interval
/// wide, in the source's clock) times weekday, each normalised to mean 1 over the
/// training returns.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Seasonal {
    pub interval_ms: i64,
    pub utc_offset_ms: i64,
    /// Per slot of the day, from midnight.
    pub time_of_day: Vec<f64>,
    /// Monday first.
    pub weekday: [f64; 7],
}

impl Seasonal {
    fn bucket(&self, ts_ms: i64) -> (usize, usize) {
        let local = ts_ms + self.utc_offset_ms;
        let slot = (local.rem_euclid(DAY_MS) / self.interval_ms) as usize;
        // 1970-01-01 was a Thursday.
        let wd = (local.div_euclid(DAY_MS) + 3).rem_euclid(7) as usize;
        (slot.min(self.time_of_day.len() - 1), wd)
    }

    /// The variance factor of the bar stamped `ts_ms`.
    pub fn factor(&self, ts_ms: i64) -> f64 {
        let (slot, wd) = self.bucket(ts_ms);
        self.time_of_day[slot] * self.weekday[wd]
    }

    /// The scale of step `k = 1..=horizon` after the bar stamped `origin_ms` over
    /// step 1's: the bars are stamped `origin + k * interval`, as the forecaster
    /// stamps them.
    pub fn step_scales(&self, origin_ms: i64, horizon: usize) -> Vec<f64> {
        let at = |k: usize| self.factor(origin_ms + k as i64 * self.interval_ms);
        (1..=horizon).map(|k| (at(k) / at(1)).sqrt()).collect()
    }
}

/// Profile of `u` over buckets `idx`: the bucket means of `u / mean(u)` shrunk
/// towards 1 with `SEASONAL_SHRINK` pseudo-observations, then normalised to mean 1
/// over the observations.
fn profile(u: &[f64], idx: &[usize], buckets: usize) -> Vec<f64> {
    let m = u.iter().sum::<f64>() / u.len() as f64;
    let (mut sum, mut count) = (vec![0.0; buckets], vec![0.0; buckets]);
    for (&x, &b) in u.iter().zip(idx) {
        sum[b] += x / m;
        count[b] += 1.0;
    }
    let mut p: Vec<f64> = sum
        .iter()
        .zip(&count)
        .map(|(s, c)| (s + SEASONAL_SHRINK) / (c + SEASONAL_SHRINK))
        .collect();
    let norm = idx.iter().map(|&b| p[b]).sum::<f64>() / idx.len() as f64;
    for x in &mut p {
        *x /= norm;
    }
    p
}

/// The median spacing of the training bars' times.
fn training_interval(ts: &[Timestamp]) -> Option<i64> {
    let mut d: Vec<i64> = ts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    if d.is_empty() {
        return None;
    }
    let mid = d.len() / 2;
    let (_, m, _) = d.select_nth_unstable(mid);
    Some(*m)
}

/// `fhs-seasonal`: filtered historical simulation on deseasonalised returns. For
/// an intraday series (training bar interval under a day, bar times known) return
/// `r_i` (origin bar `i`) belongs to the bucket of `t_i + interval`, the time the
/// forecaster stamps the next bar with (the same rule several steps ahead, and
/// nothing about the next bar's actual time, so a gap is not foreseen). With the
/// profile `s` fitted on training (see [`Seasonal`], `SEASONAL_PASSES`), the EWMA
/// runs on `r^2 / s` and the forecast scale is `sqrt(s * v)`: the standardised
/// training residuals `r / sqrt(s v)` rescaled by it. Daily or longer series have no
/// profile: `fhs-seasonal` is `fhs` there (the profile is `None`).
pub fn fhs_seasonal(h: &History<'_>) -> Result<(OneStep, Option<Seasonal>), BaselineError> {
    let s = split(h)?;
    let ts = h.timestamps;
    let interval = if ts.len() == h.close.len() {
        training_interval(&ts[..h.split.min(ts.len())])
    } else {
        None
    };
    let Some(interval) = interval.filter(|&iv| iv > 0 && iv < DAY_MS) else {
        let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
        return Ok((filtered("fhs-seasonal", &s, &sq)?, None));
    };
    let slots = (DAY_MS + interval - 1) / interval;
    let mut season = Seasonal {
        interval_ms: interval,
        utc_offset_ms: h.utc_offset_ms,
        time_of_day: vec![1.0; slots as usize],
        weekday: [1.0; 7],
    };
    let buckets: Vec<(usize, usize)> = (0..s.r.len())
        .map(|i| season.bucket(ts[i].0 + interval))
        .collect();
    let (slot, wd): (Vec<usize>, Vec<usize>) = buckets[..s.first].iter().copied().unzip();
    let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
    let ewma_on = |season: &Seasonal| -> Result<(Vec<f64>, Vec<f64>), BaselineError> {
        let f: Vec<f64> = buckets
            .iter()
            .map(|&(a, b)| season.time_of_day[a] * season.weekday[b])
            .collect();
        let x: Vec<f64> = sq.iter().zip(&f).map(|(q, f)| q / f).collect();
        let v0 = x[..s.first].iter().sum::<f64>() / s.first as f64;
        if v0.is_nan() || v0 <= 0.0 {
            return Err(BaselineError::Flat);
        }
        let v = ewma_variance(&x, v0, EWMA_LAMBDA)
            .into_iter()
            .map(|v| v.max(v0 * 1e-6))
            .collect();
        Ok((v, f))
    };
    for _ in 0..SEASONAL_PASSES {
        let (v, _) = ewma_on(&season)?;
        let u: Vec<f64> = (0..s.first).map(|i| sq[i] / v[i]).collect();
        let by_time: Vec<f64> = u
            .iter()
            .zip(&wd)
            .map(|(u, &b)| u / season.weekday[b])
            .collect();
        season.time_of_day = profile(&by_time, &slot, slots as usize);
        let by_day: Vec<f64> = u
            .iter()
            .zip(&slot)
            .map(|(u, &a)| u / season.time_of_day[a])
            .collect();
        let p = profile(&by_day, &wd, 7);
        season.weekday.copy_from_slice(&p);
    }
    let (v, f) = ewma_on(&season)?;
    let scaled: Vec<f64> = v.iter().zip(&f).map(|(v, f)| v * f).collect();
    Ok((rescaled("fhs-seasonal", &s, &scaled)?, Some(season)))
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

/// `(mu, omega, alpha, beta)` from the unconstrained parameters `[mu, logit
/// persistence, logit alpha share]` (data standardised to unit variance), omega by
/// variance targeting.
fn unpack(p: &[f64; 3]) -> (f64, f64, f64, f64) {
    let sig = |u: f64| 1.0 / (1.0 + (-u).exp());
    let persistence = sig(p[1]);
    let alpha = persistence * sig(p[2]);
    (p[0], 1.0 - persistence, alpha, persistence - alpha)
}

/// Maximum-likelihood GARCH(1,1) with a constant mean on `train`, by Nelder-Mead in
/// an unconstrained parameterisation (alpha, beta >= 0, alpha + beta < 1), fitted on
/// returns standardised by their standard deviation for conditioning.
///
/// The intercept is variance-targeted (Engle & Mezrich 1996): `omega = (1 - alpha -
/// beta) * var(train)`, so the long-run variance is the training variance rather
/// than a free parameter. Why: on intraday series (one-minute EURUSD, five-minute
/// ADA/BTC) the free intercept went to persistence 1.0000 with a large omega, an
/// integrated GARCH with drift whose variance cannot fall below `omega / (1 -
/// beta)`, so every forecast is too wide once the test part is calmer than
/// training. Targeted, omega vanishes as persistence nears 1 (the model becomes an
/// EWMA of fitted decay); the fitted persistence is 0.993 and 0.970 there, and the
/// one-step CRPS is as good or better on 9 of the 11 shared series. (ADA/BTC stays
/// too wide, coverage 0.92: its test part is 7 times calmer than training, and any
/// stationary GARCH reverts to the training level.) Nelder-Mead is restarted from
/// its result until a restart no longer improves the likelihood, as a single
/// simplex can stall short of the optimum.
pub fn fit_garch(train: &[f64]) -> Result<Garch, BaselineError> {
    let n = train.len() as f64;
    let m = train.iter().sum::<f64>() / n;
    let sd = (train.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
    if sd.is_nan() || sd <= 0.0 || train.len() < 10 {
        return Err(BaselineError::Flat);
    }
    let x: Vec<f64> = train.iter().map(|r| r / sd).collect();
    let resid: Vec<f64> = x.iter().map(|r| r - m / sd).collect();
    let bc = backcast(&resid);
    let f = |p: &[f64; 3]| {
        let (mu, omega, alpha, beta) = unpack(p);
        let v = garch_nll(&x, mu, omega, alpha, beta, bc);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    // Start near typical daily-equity values: persistence 0.95, alpha 0.1 of it.
    let mut best = [m / sd, (0.95f64 / 0.05).ln(), (0.1f64 / 0.9).ln()];
    let mut fbest = f(&best);
    for _ in 0..10 {
        let next = nelder_mead(f, best, 4000);
        let fnext = f(&next);
        let gain = fbest - fnext;
        if fnext < fbest {
            (best, fbest) = (next, fnext);
        }
        if gain.is_nan() || gain <= 1e-9 * (1.0 + fbest.abs()) {
            break;
        }
    }
    let (mu, omega, alpha, beta) = unpack(&best);
    Ok(Garch {
        mu: mu * sd,
        omega: omega * sd * sd,
        alpha,
        beta,
        loglik: -fbest - 0.5 * n * (2.0 * std::f64::consts::PI).ln() + n * -(sd.ln()),
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
fn nelder_mead<const N: usize>(
    f: impl Fn(&[f64; N]) -> f64,
    start: [f64; N],
    max_iter: usize,
) -> [f64; N] {
    let mut simplex: Vec<([f64; N], f64)> = Vec::with_capacity(N + 1);
    simplex.push((start, f(&start)));
    for i in 0..N {
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
        let (best, worst) = (simplex[0].1, simplex[N].1);
        if (worst - best).abs() <= 1e-12 * (1.0 + best.abs()) {
            break;
        }
        let mut c = [0.0; N];
        for (p, _) in &simplex[..N] {
            for k in 0..N {
                c[k] += p[k] / N as f64;
            }
        }
        let along = |t: f64| -> [f64; N] {
            let mut p = [0.0; N];
            for k in 0..N {
                p[k] = c[k] + t * (simplex[N].0[k] - c[k]);
            }
            p
        };
        let r = along(-1.0);
        let fr = f(&r);
        if fr < simplex[0].1 {
            let e = along(-2.0);
            let fe = f(&e);
            simplex[N] = if fe < fr { (e, fe) } else { (r, fr) };
        } else if fr < simplex[N - 1].1 {
            simplex[N] = (r, fr);
        } else {
            let (t, bound) = if fr < simplex[N].1 {
                (-0.5, fr)
            } else {
                (0.5, simplex[N].1)
            };
            let k = along(t);
            let fk = f(&k);
            if fk < bound {
                simplex[N] = (k, fk);
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
    fn moments_of_every_kind() {
        let close = |a: (f64, f64), b: (f64, f64)| {
            assert!(
                (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12,
                "{a:?} vs {b:?}"
            )
        };
        close(
            Predictive::Normal { mean: 0.1, sd: 0.5 }.moments(),
            (0.1, 0.25),
        );
        // Atoms -1 (p 0.25) and 3 (p 0.75): mean 2, E[X^2] = 7, variance 3.
        close(
            Predictive::atoms(vec![(3.0, 0.75), (-1.0, 0.25)]).moments(),
            (2.0, 3.0),
        );
        close(
            Predictive::sample(vec![1.0, 2.0, 3.0, 6.0]).moments(),
            (3.0, 3.5),
        );
        let dist = Arc::new(Empirical::new([1.0, 2.0, 3.0, 6.0]).unwrap());
        close(
            Predictive::Scaled {
                dist,
                loc: 1.0,
                scale: 2.0,
            }
            .moments(),
            (7.0, 14.0),
        );
    }

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

    /// Hourly bars with a known intraday profile (variance 4x from 08:00 to 16:00
    /// UTC) and slowly changing volatility.
    /// Open, high, low, close and bar times.
    type Bars = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<Timestamp>);

    fn intraday(n: usize, seed: u64) -> Bars {
        let mut rng = candlecast_rand::Rng::new(seed);
        let (mut o, mut hi, mut lo, mut c, mut ts) = (vec![], vec![], vec![], vec![], vec![]);
        let mut close = 100.0f64;
        for i in 0..n {
            let t = 1_500_000_000_000i64 + i as i64 * 3_600_000;
            let hour = (t / 3_600_000) % 24;
            let season = if (8..16).contains(&hour) { 2.0 } else { 1.0 };
            let level = 0.002 * (1.0 + 0.5 * (i as f64 / 500.0).sin());
            let open = close;
            close = open * (season * level * rng.normal()).exp();
            let wick = 1.0 + season * level * rng.normal().abs() * 0.5;
            o.push(open);
            c.push(close);
            hi.push(open.max(close) * wick);
            lo.push(open.min(close) / wick);
            ts.push(Timestamp(t));
        }
        (o, hi, lo, c, ts)
    }

    #[test]
    fn least_squares_recovers_exact_coefficients() {
        let x: Vec<[f64; 4]> = (0..50)
            .map(|i| {
                let t = i as f64;
                [1.0, t.sin(), (0.3 * t).cos(), t / 50.0]
            })
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| 0.5 + 0.3 * r[1] - 0.2 * r[2] + 1.5 * r[3])
            .collect();
        let b = least_squares(&x, &y).unwrap_or_else(|| panic!("singular"));
        for (got, want) in b.iter().zip([0.5, 0.3, -0.2, 1.5]) {
            assert!((got - want).abs() < 1e-10, "{b:?}");
        }
        // Collinear regressors: no solution, and `har` then keeps the intercept.
        let flat: Vec<[f64; 4]> = (0..20).map(|_| [1.0, 0.1, 0.2, 0.3]).collect();
        assert!(least_squares(&flat, &[1.0; 20]).is_none());
    }

    /// HAR forecasts use only the bars before the forecast; its term structure
    /// starts at the one-step forecast and persistent volatility is found.
    #[test]
    fn har_is_causal_and_its_term_structure_starts_at_one_step() {
        let (o, hi, lo, c, _) = intraday(3000, 1);
        let h = History::prices(&o, &hi, &lo, &c, 2400);
        let (one, fit) = har(&h).unwrap_or_else(|e| panic!("{e}"));
        let b = fit.coef;
        assert!(
            b[1] + b[2] + b[3] > 0.3 && b[1] + b[2] + b[3] < 1.05,
            "{b:?}"
        );
        // Origin bar 2600: change every bar after it.
        let cut = 2601;
        let mut c2 = c.clone();
        let mut hi2 = hi.clone();
        for i in cut..c2.len() {
            c2[i] *= 1.05;
            hi2[i] = hi2[i].max(c2[i]) * 1.01;
        }
        let (one2, _) =
            har(&History::prices(&o, &hi2, &lo, &c2, 2400)).unwrap_or_else(|e| panic!("{e}"));
        let j = 2600 - 2399;
        let scale = |p: &Predictive| match p {
            Predictive::Scaled { scale, .. } => *scale,
            _ => f64::NAN,
        };
        assert_eq!(scale(&one.preds[j]), scale(&one2.preds[j]));
        let term = fit.term(2600, 30);
        assert!((term[0].sqrt() / scale(&one.preds[j]) - 1.0).abs() < 1e-12);
        assert!(term.iter().all(|v| v.is_finite() && *v > 0.0));
        // Far ahead it settles at a fixed point of the order of the training mean
        // of the drivers instead of drifting away.
        let far = fit.term(2600, 2000);
        assert!((far[999] / far[1999] - 1.0).abs() < 1e-9, "not settled");
        assert!(far[1999] > fit.v0 / 2.0 && far[1999] < 2.0 * fit.v0);
    }

    /// The profile finds the 4x daytime variance, and the seasonal forecast beats
    /// plain fhs on such a series; without bar times it is fhs.
    #[test]
    fn seasonal_profile_recovers_a_known_intraday_pattern() {
        let (o, hi, lo, c, ts) = intraday(6000, 2);
        let mut h = History::prices(&o, &hi, &lo, &c, 4800);
        h.timestamps = &ts;
        let (one, season) = fhs_seasonal(&h).unwrap_or_else(|e| panic!("{e}"));
        let season = season.unwrap_or_else(|| panic!("hourly bars have a profile"));
        assert_eq!(season.time_of_day.len(), 24);
        let day: f64 = season.time_of_day[8..16].iter().sum::<f64>() / 8.0;
        let night: f64 = (season.time_of_day[..8].iter().sum::<f64>()
            + season.time_of_day[16..].iter().sum::<f64>())
            / 16.0;
        assert!(day / night > 2.8 && day / night < 4.5, "{day} / {night}");
        let plain = fhs(&h).unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (summarise(&one).crps, summarise(&plain).crps);
        assert!(a < 0.99 * b, "seasonal {a} vs fhs {b}");
        // No bar times (or daily bars): exactly fhs.
        let bare = History::prices(&o, &hi, &lo, &c, 4800);
        let (same, none) = fhs_seasonal(&bare).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_none());
        assert_eq!(summarise(&same).crps, b);
    }

    #[test]
    fn seasonal_steps_follow_the_stamped_bars() {
        let mut tod = vec![1.0; 24];
        for x in &mut tod[8..16] {
            *x = 4.0;
        }
        let season = Seasonal {
            interval_ms: 3_600_000,
            utc_offset_ms: 0,
            time_of_day: tod,
            weekday: [1.0; 7],
        };
        // Origin 06:00 UTC on 2020-01-06 (a Monday): steps at 07:00, 08:00, ...
        let origin = 1_578_290_400_000;
        let s = season.step_scales(origin, 10);
        assert_eq!(&s[..2], &[1.0, 2.0]);
        // 15:00 is day, 16:00 night again.
        assert_eq!(s[8], 2.0);
        assert_eq!(s[9], 1.0);
        // A fixed offset moves the day: +02:00 makes 06:00 UTC 08:00 local.
        let east = Seasonal {
            utc_offset_ms: 7_200_000,
            ..season
        };
        assert_eq!(east.factor(origin), 4.0);
    }
}
