#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The baselines on the real series of `../shared/data`: sane calibration and the
//! ordering the literature leads one to expect.

use candlecast_data::{read_path, ReadOptions};
use candlecast_forecast::{markdown, score_series, split_index, History};

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

#[test]
#[ignore = "needs ../shared"]
fn baselines_on_every_shared_series() {
    let dir = manifest_dir().join("../../../shared/data");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut cards = Vec::new();
    for f in files {
        let ds = read_path(&f, &ReadOptions::default()).unwrap();
        let s = &ds.panel.series[0];
        let h = History::of(s, split_index(s.len()));
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let card =
            score_series(&name, &h, vec![], "rw-ewma").unwrap_or_else(|e| panic!("{name}: {e}"));
        for sc in &card.scores {
            assert!(
                sc.crps.is_finite() && sc.crps > 0.0,
                "{name} {}",
                sc.forecaster
            );
            assert!(sc.pit.iter().sum::<usize>() == sc.n);
        }
        cards.push(card);
    }
    println!("{}", markdown(&cards));
}
