//! Proper scoring rules for probabilistic forecasts of one number (a log-return).
//!
//! CRPS comes in three exact forms, chosen by what the forecast is: a normal
//! distribution (closed form), a finite mixture of atoms (the sorted-atom formula,
//! exact for a histogram of bins or an empirical distribution) and a set of sample
//! paths (the same formula with equal weights; noisy only in that the samples are).
//!
//! A set of sample paths stands for the distribution it was drawn from, and the
//! plain ensemble CRPS of `m` draws overstates that distribution's CRPS by
//! `E|X - X'| / (2m)` on average (1% at 100 samples for a normal), which would
//! handicap the sampled forecasters against the closed forms. Sampled forecasts
//! are therefore scored with the fair estimator ([`crps_fair`]), unbiased for the
//! CRPS of the underlying distribution.

use std::f64::consts::PI;

/// Standard normal density.
pub fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// Standard normal CDF (erfc-based, |error| < 1.2e-7 relative; see `erfc`).
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function, W. J. Cody's rational approximations (as in
/// most libms), accurate to ~1e-15 relative.
#[allow(clippy::excessive_precision)] // the published constants, digit for digit
pub fn erfc(x: f64) -> f64 {
    // erfc via erf for small |x|, continued-fraction-like rational forms beyond.
    let ax = x.abs();
    let r = if ax < 0.5 {
        1.0 - erf_small(x)
    } else if ax < 4.0 {
        let y = erfc_mid(ax);
        if x < 0.0 {
            2.0 - y
        } else {
            y
        }
    } else {
        let y = erfc_large(ax);
        if x < 0.0 {
            2.0 - y
        } else {
            y
        }
    };
    r.clamp(0.0, 2.0)
}

#[allow(clippy::excessive_precision)]
fn erf_small(x: f64) -> f64 {
    const A: [f64; 5] = [
        3.161_123_743_870_565_6e0,
        1.138_641_541_510_501_6e2,
        3.774_852_376_853_020_2e2,
        3.209_377_589_138_469_5e3,
        1.857_777_061_846_031_5e-1,
    ];
    const B: [f64; 4] = [
        2.360_129_095_234_412_1e1,
        2.440_246_379_344_441_7e2,
        1.282_616_526_077_372_3e3,
        2.844_236_833_439_170_6e3,
    ];
    let z = x * x;
    let mut num = A[4] * z;
    let mut den = z;
    for i in 0..3 {
        num = (num + A[i]) * z;
        den = (den + B[i]) * z;
    }
    x * (num + A[3]) / (den + B[3])
}

#[allow(clippy::excessive_precision)]
fn erfc_mid(y: f64) -> f64 {
    const C: [f64; 9] = [
        5.641_884_969_886_700_9e-1,
        8.883_149_794_388_376e0,
        6.611_919_063_714_163e1,
        2.986_351_381_974_001_3e2,
        8.819_522_212_417_691e2,
        1.712_047_612_634_070_7e3,
        2.051_078_377_826_071_6e3,
        1.230_339_354_797_997_2e3,
        2.153_115_354_744_038_3e-8,
    ];
    const D: [f64; 8] = [
        1.574_492_611_070_983_5e1,
        1.176_939_508_913_125e2,
        5.371_811_018_620_098_6e2,
        1.621_389_574_566_690_3e3,
        3.290_799_235_733_459_7e3,
        4.362_619_090_143_247e3,
        3.439_367_674_143_721_6e3,
        1.230_339_354_803_749_5e3,
    ];
    let mut num = C[8] * y;
    let mut den = y;
    for i in 0..7 {
        num = (num + C[i]) * y;
        den = (den + D[i]) * y;
    }
    let r = (num + C[7]) / (den + D[7]);
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    (-ysq * ysq).exp() * (-del).exp() * r
}

#[allow(clippy::excessive_precision)]
fn erfc_large(y: f64) -> f64 {
    const P: [f64; 6] = [
        3.053_266_349_612_323_4e-1,
        3.603_448_999_498_044_4e-1,
        1.257_817_261_112_292_5e-1,
        1.608_378_514_874_227_7e-2,
        6.587_491_615_298_378_5e-4,
        1.631_538_713_730_709_7e-2,
    ];
    const Q: [f64; 5] = [
        2.568_520_192_289_822_4e0,
        1.872_952_849_923_460_4e0,
        5.279_051_029_514_284e-1,
        6.051_834_131_244_132e-2,
        2.335_204_976_268_691_8e-3,
    ];
    let z = 1.0 / (y * y);
    let mut num = P[5] * z;
    let mut den = z;
    for i in 0..4 {
        num = (num + P[i]) * z;
        den = (den + Q[i]) * z;
    }
    let r = z * (num + P[4]) / (den + Q[4]);
    let r = (1.0 / PI.sqrt() - r) / y;
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    (-ysq * ysq).exp() * (-del).exp() * r
}

/// CRPS of N(mu, sigma^2) at y (Gneiting & Raftery 2007, closed form).
pub fn crps_normal(mu: f64, sigma: f64, y: f64) -> f64 {
    let z = (y - mu) / sigma;
    sigma * (z * (2.0 * norm_cdf(z) - 1.0) + 2.0 * norm_pdf(z) - 1.0 / PI.sqrt())
}

/// Exact CRPS at `y` of a finite mixture of atoms `(value, weight)`:
/// `E|X - y| - E|X - X'| / 2`, the second term from the sorted atoms in
/// O(n log n) as `sum_i w_i x_i (2 F(x_i-) + w_i - 1)` (weights normalised).
pub fn crps_atoms(atoms: &mut [(f64, f64)], y: f64) -> f64 {
    atoms.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = atoms.iter().map(|a| a.1).sum();
    let mut e_abs = 0.0;
    let mut spread = 0.0;
    let mut below = 0.0; // F(x_i-) times total
    for &(x, w) in atoms.iter() {
        e_abs += w * (x - y).abs();
        spread += w * x * (2.0 * below + w - total);
        below += w;
    }
    // E|X - X'| = 2 * sum_i w_i x_i (2F(x_i-) + w_i - 1) for normalised weights.
    e_abs / total - spread / (total * total)
}

/// CRPS from equally weighted samples (an ensemble), exact for that ensemble.
pub fn crps_samples(samples: &[f64], y: f64) -> f64 {
    let mut atoms: Vec<(f64, f64)> = samples.iter().map(|&x| (x, 1.0)).collect();
    crps_atoms(&mut atoms, y)
}

/// Fair (unbiased) ensemble CRPS of `m` equally likely draws, sorted ascending:
/// `mean|x_i - y| - sum_ij |x_i - x_j| / (2 m (m - 1))` (Ferro 2014). Its mean over
/// outcomes is the CRPS of the distribution the draws came from, where the plain
/// estimator (`m^2` in the denominator, [`crps_samples`]) adds `E|X - X'| / (2m)`.
/// One draw has no spread term: `|x - y|`. NaN for no draws.
pub fn crps_fair(sorted: &[f64], y: f64) -> f64 {
    let m = sorted.len();
    if m == 0 {
        return f64::NAN;
    }
    let e_abs = sorted.iter().map(|x| (x - y).abs()).sum::<f64>() / m as f64;
    if m == 1 {
        return e_abs;
    }
    // sum_ij |x_i - x_j| = 2 sum_i x_(i) (2i - m + 1) for sorted draws.
    let pairs: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| x * (2.0 * i as f64 - m as f64 + 1.0))
        .sum::<f64>()
        * 2.0;
    e_abs - pairs / (2.0 * m as f64 * (m - 1) as f64)
}

/// Pinball (quantile) loss of forecasting `q` as the `tau`-quantile when `y` happened.
pub fn pinball(q: f64, tau: f64, y: f64) -> f64 {
    if y >= q {
        tau * (y - q)
    } else {
        (1.0 - tau) * (q - y)
    }
}

/// The `tau`-quantile of a sorted sample (linear interpolation between order
/// statistics, numpy's default).
pub fn quantile_sorted(sorted: &[f64], tau: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = tau.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Diebold-Mariano test of equal accuracy from per-origin loss differences
/// `d_t = loss_a - loss_b`, with a Newey-West (Bartlett) long-run variance.
/// The lag is `floor(4 (n/100)^(2/9))` (Newey & West 1994's rule), or `h - 1` if
/// larger, for `h`-step forecasts whose errors overlap. Negative statistics favour `a`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DieboldMariano {
    pub mean_diff: f64,
    pub statistic: f64,
    pub lag: usize,
    pub n: usize,
}

pub fn diebold_mariano(d: &[f64], horizon: usize) -> Option<DieboldMariano> {
    let n = d.len();
    if n < 2 {
        return None;
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let rule = (4.0 * (n as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize;
    let lag = rule.max(horizon.saturating_sub(1)).min(n - 1);
    let gamma = |k: usize| {
        d[k..]
            .iter()
            .zip(d)
            .map(|(a, b)| (a - mean) * (b - mean))
            .sum::<f64>()
            / n as f64
    };
    let mut lrv = gamma(0);
    for k in 1..=lag {
        lrv += 2.0 * (1.0 - k as f64 / (lag + 1) as f64) * gamma(k);
    }
    if lrv.is_nan() || lrv <= 0.0 {
        return None;
    }
    Some(DieboldMariano {
        mean_diff: mean,
        statistic: mean / (lrv / n as f64).sqrt(),
        lag,
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_against_known_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (-1.96, 0.024_997_895_148_220_4),
            (3.5, 0.999_767_370_920_964),
            (-6.0, 9.865_876_450_376_98e-10),
        ] {
            assert!(
                (norm_cdf(z) - p).abs() < 1e-13 * p.max(1e-3),
                "{z}: {} vs {p}",
                norm_cdf(z)
            );
        }
    }

    #[test]
    fn normal_crps_matches_its_definition_numerically() {
        // CRPS = integral (F(x) - 1{x >= y})^2 dx
        let (mu, s, y) = (0.3, 1.7, -0.4);
        let (a, b, n) = (-20.0, 20.0, 400_000);
        let h = (b - a) / n as f64;
        let num: f64 = (0..n)
            .map(|i| {
                let x = a + (i as f64 + 0.5) * h;
                let f = norm_cdf((x - mu) / s);
                let step = if x >= y { 1.0 } else { 0.0 };
                (f - step).powi(2) * h
            })
            .sum();
        assert!(
            (crps_normal(mu, s, y) - num).abs() < 1e-6,
            "{} vs {num}",
            crps_normal(mu, s, y)
        );
    }

    #[test]
    fn fair_crps_is_the_plain_one_less_its_small_sample_spread() {
        let xs: [f64; 4] = [-1.0, 0.5, 0.5, 2.0];
        let (m, y) = (xs.len() as f64, 0.3f64);
        let e_abs: f64 = xs.iter().map(|x| (x - y).abs()).sum::<f64>() / m;
        let pairs: f64 = xs
            .iter()
            .flat_map(|a| xs.iter().map(move |b| (a - b).abs()))
            .sum();
        let want = e_abs - pairs / (2.0 * m * (m - 1.0));
        assert!((crps_fair(&xs, y) - want).abs() < 1e-14);
        assert!((crps_samples(&xs, y) - (e_abs - pairs / (2.0 * m * m))).abs() < 1e-14);
        assert_eq!(crps_fair(&[1.5], 0.5), 1.0);
        assert!(crps_fair(&[], 0.0).is_nan());
    }

    #[test]
    fn pinball_and_quantiles() {
        assert_eq!(pinball(1.0, 0.9, 2.0), 0.9);
        assert!((pinball(1.0, 0.9, 0.0) - 0.1).abs() < 1e-15);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 1.0), 3.0);
    }

    #[test]
    fn dm_sign_and_size() {
        let d: Vec<f64> = (0..500)
            .map(|i| -0.1 + if i % 2 == 0 { 0.05 } else { -0.05 })
            .collect();
        let dm = diebold_mariano(&d, 1).map(|x| x.statistic).unwrap_or(0.0);
        assert!(dm < -10.0, "{dm}");
        assert!(diebold_mariano(&[1.0; 10], 1).is_none()); // no variance: no test
    }
}
