#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! candlecast's baselines against an independent implementation (numpy/scipy, in
//! `bench/baselines_ref.py`). Run by `bench/baselines_check.sh`,
//! which builds the Python side and passes its JSON in `CANDLECAST_BASELINES_REF`.

use candlecast_data::{read_path, ReadOptions};
use candlecast_forecast::{score_series, split_index, History};

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

#[test]
#[ignore = "needs bench/baselines_check.sh (Python venv with arch) and ../shared"]
fn baselines_match_the_reference_implementation() {
    let path = std::env::var("CANDLECAST_BASELINES_REF").unwrap_or_else(|_| {
        panic!("run bench/baselines_check.sh, which sets CANDLECAST_BASELINES_REF")
    });
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let dir = manifest_dir().join("../../../shared/data");
    let files = reference.as_object().unwrap();
    assert!(files.len() >= 11, "reference covers {} files", files.len());
    let mut worst: Vec<(String, f64)> = Vec::new();
    for (file, want) in files {
        let ds = read_path(&dir.join(file), &ReadOptions::default()).unwrap();
        let s = &ds.panel.series[0];
        let h = History::of(s, split_index(s.len()));
        let card = score_series(file, &h, vec![], "rw-ewma").unwrap();
        for (name, crps_tol) in [
            ("rw-const", 1e-6),
            ("rw-ewma", 1e-6),
            ("fhs", 1e-6),
            ("fhs-range", 1e-6),
            ("har", 1e-6),
            ("fhs-seasonal", 1e-6),
            ("garch", 1e-5),
        ] {
            let got = card.scores.iter().find(|x| x.forecaster == name).unwrap();
            let w = want[name].as_array().unwrap();
            let (crps, cover) = (w[0].as_f64().unwrap(), w[1].as_f64().unwrap());
            let rel = (got.crps - crps).abs() / crps;
            println!("{file:40} {name:10} crps {:.6e} ref {crps:.6e} rel {rel:.1e}  cover {:.4} ref {cover:.4}", got.crps, got.coverage80);
            assert!(
                rel <= crps_tol,
                "{file} {name}: CRPS {} vs {crps} (rel {rel:e})",
                got.crps
            );
            // Coverage counts targets; exact agreement except for a target lying on a bound.
            assert!(
                (got.coverage80 - cover).abs() <= 1.0 / got.n as f64 + 1e-12,
                "{file} {name}: coverage {} vs {cover}",
                got.coverage80
            );
            worst.push((name.to_string(), rel));
        }
        if let Some(g) = card.garch {
            let p = &want["garch_params"];
            println!(
                "{file:40} garch alpha {:.5} ref {:.5}, beta {:.5} ref {:.5}",
                g.alpha,
                p["alpha"].as_f64().unwrap(),
                g.beta,
                p["beta"].as_f64().unwrap()
            );
        }
    }
    let mut names: Vec<&str> = worst.iter().map(|w| w.0.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let max = worst
            .iter()
            .filter(|w| w.0 == name)
            .map(|w| w.1)
            .fold(0.0, f64::max);
        println!("{name:12} largest relative CRPS difference {max:.1e}");
    }
}
