#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The exact mixture CRPS equals the brute-force pairwise computation.

use candlecast_forecast::{crps_atoms, crps_samples};
use proptest::prelude::*;

fn brute(atoms: &[(f64, f64)], y: f64) -> f64 {
    let total: f64 = atoms.iter().map(|a| a.1).sum();
    let e1: f64 = atoms.iter().map(|&(x, w)| w * (x - y).abs()).sum::<f64>() / total;
    let e2: f64 = atoms
        .iter()
        .flat_map(|&(x, w)| atoms.iter().map(move |&(x2, w2)| w * w2 * (x - x2).abs()))
        .sum::<f64>()
        / (total * total);
    e1 - 0.5 * e2
}

proptest! {
    #[test]
    fn sorted_atom_formula_equals_pairwise(atoms in prop::collection::vec((-5.0f64..5.0, 0.001f64..3.0), 1..40), y in -6.0f64..6.0) {
        let mut a = atoms.clone();
        let fast = crps_atoms(&mut a, y);
        let slow = brute(&atoms, y);
        prop_assert!((fast - slow).abs() <= 1e-12 * (1.0 + slow.abs()), "{} vs {}", fast, slow);
        prop_assert!(fast >= -1e-12);
    }

    #[test]
    fn ties_and_samples(xs in prop::collection::vec(prop::sample::select(vec![-1.0, 0.0, 0.5, 2.0]), 1..30), y in -3.0f64..3.0) {
        let atoms: Vec<(f64, f64)> = xs.iter().map(|&x| (x, 1.0)).collect();
        prop_assert!((crps_samples(&xs, y) - brute(&atoms, y)).abs() < 1e-12);
    }
}

#[test]
fn a_point_mass_scores_its_absolute_error() {
    assert_eq!(crps_samples(&[1.5], 0.5), 1.0);
}

/// The multi-step machinery on a Gaussian random walk: `horizon::extend` carries an
/// (almost exactly) normal one-step shape to 100 sampled paths per origin, scored
/// against outcomes of the same walk. The mean fair CRPS matches the closed form of
/// the normal random walk (what the normal baselines are scored with) within noise;
/// the plain ensemble CRPS of the same paths is biased up by 1/m = 1%, so this test
/// fails with the plain estimator.
#[test]
fn fair_crps_of_a_sampled_random_walk_matches_its_closed_form() {
    use candlecast_forecast::{
        crps_normal, horizon, norm_quantile, Empirical, OneStep, Predictive,
    };
    use candlecast_gpt::Rng;
    use std::sync::Arc;
    let (n, m, k, sigma) = (20_000usize, 100usize, 4usize, 0.01);
    // N(0, 1) to four decimals: its quantiles at 200k midpoints.
    let q = 200_000;
    let z = Empirical::new((0..q).map(|i| norm_quantile((i as f64 + 0.5) / q as f64))).unwrap();
    let fit = OneStep {
        name: "walk",
        preds: vec![
            Predictive::Scaled {
                dist: Arc::new(z),
                loc: 0.0,
                scale: sigma,
            };
            n
        ],
        targets: vec![0.0; n],
    };
    let origins: Vec<usize> = (0..n).collect();
    let multi = horizon::extend(&fit, None, &horizon::flat, 1, &origins, k, m, 7).unwrap();
    let mut rng = Rng::new(3);
    let sd = sigma * (k as f64).sqrt();
    let (mut fair, mut plain, mut exact) = (0.0, 0.0, 0.0);
    let mut diffs = Vec::with_capacity(n);
    for p in &multi.preds[k - 1] {
        let Predictive::Sample { sorted } = p else {
            panic!("sampled forecasts are samples")
        };
        assert_eq!(sorted.len(), m);
        let y = sd * rng.normal();
        let (f, e) = (p.crps(y), crps_normal(0.0, sd, y));
        fair += f;
        exact += e;
        plain += crps_samples(sorted, y);
        diffs.push(f - e);
    }
    let mean_d = diffs.iter().sum::<f64>() / n as f64;
    let se =
        (diffs.iter().map(|d| (d - mean_d).powi(2)).sum::<f64>() / (n * (n - 1)) as f64).sqrt();
    let (fair_rel, plain_rel) = (fair / exact - 1.0, plain / exact - 1.0);
    println!(
        "fair {fair_rel:+.5} (se {:.5}), plain {plain_rel:+.5}",
        se / (exact / n as f64)
    );
    assert!(
        mean_d.abs() < 4.0 * se,
        "fair CRPS off by {mean_d} (se {se})"
    );
    assert!(fair_rel.abs() < 0.003, "fair CRPS off by {fair_rel}");
    assert!(
        (0.007..0.013).contains(&plain_rel),
        "plain CRPS bias {plain_rel}"
    );
}
