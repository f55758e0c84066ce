//! `fhs-seasonal`: filtered historical simulation on returns with their intraday
//! variance profile divided out, put back bar by bar when forecasting.

use super::common::{
    ewma_variance, filtered, rescaled, split, BaselineError, History, OneStep, EWMA_LAMBDA,
};
use super::{BaselineFit, BaselineModel};
use candlecast_data::Timestamp;

/// The one spelling of the name: the forecasts carry it and the registry lists it.
const NAME: &str = "fhs-seasonal";

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
        return Ok((filtered(NAME, &s, &sq)?, None));
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
    Ok((rescaled(NAME, &s, &scaled)?, Some(season)))
}

pub struct FhsSeasonal;

impl BaselineModel for FhsSeasonal {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        let (one, seasonal) = fhs_seasonal(h)?;
        Ok(BaselineFit {
            seasonal,
            ..BaselineFit::plain(one)
        })
    }

    /// The profile of the bar `k` intervals after the origin, as the forecaster
    /// stamps it; flat without a profile or bar times.
    fn step_scales(
        &self,
        fit: &BaselineFit,
        h: &History<'_>,
        origin: usize,
        horizon: usize,
    ) -> Vec<f64> {
        match (&fit.seasonal, h.timestamps.get(origin)) {
            (Some(season), Some(ts)) => season.step_scales(ts.0, horizon),
            _ => vec![1.0; horizon],
        }
    }
}
