//! The baselines' unit tests, in one place because several share the simulated
//! intraday bars of `intraday`.

use super::common::{norm_quantile, summarise, History, Predictive};
use super::fhs::fhs;
use super::fhs_seasonal::{fhs_seasonal, Seasonal};
use super::garch::fit_garch;
use super::har::{har, least_squares};
use crate::empirical::Empirical;
use crate::score::norm_cdf;
use candlecast_data::Timestamp;
use std::sync::Arc;

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
