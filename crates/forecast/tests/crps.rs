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
