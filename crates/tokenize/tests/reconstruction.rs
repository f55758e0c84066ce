#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Must-show 3: representative decoding from the true previous close gives the close
//! log-return back with RMSE < 0.2 and |bias| < 0.01 scale units per bar, on every
//! real file. Each series is fitted on its first 80% (as `candlecast tokenize` does)
//! and measured on all its bars and on the held-out last 20%.

use candlecast_data::{read_path, ReadOptions};
use candlecast_tokenize::stats::{reconstruction, Reconstruction};
use candlecast_tokenize::{Tokenizer, TokenizerConfig};
use std::path::{Path, PathBuf};

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

const MAX_RMSE: f64 = 0.2;
const MAX_BIAS: f64 = 0.01;

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    v.sort();
    v
}

/// One row per series: (name, bars, all bars, test bars).
fn measure(path: &Path) -> Vec<(String, usize, Reconstruction, Reconstruction)> {
    let ds = read_path(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut rows = vec![];
    for s in &ds.panel.series {
        let n = s.len();
        let split = n * 4 / 5;
        let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..split)]).unwrap();
        let enc = tok.encode(s);
        let name = match &s.symbol {
            Some(sym) => format!("{file}:{sym}"),
            None => file.clone(),
        };
        rows.push((
            name,
            n,
            reconstruction(&tok, s, &enc, 0..n),
            reconstruction(&tok, s, &enc, split..n),
        ));
    }
    rows
}

fn check(dirs: &[PathBuf]) {
    let mut failures = vec![];
    println!(
        "{:<48} {:>7} {:>8} {:>9} {:>7} {:>9} {:>9} {:>7}",
        "file", "bars", "rmse", "bias", "tail%", "rmse_test", "bias_test", "tail%"
    );
    for dir in dirs {
        for path in csv_files(dir) {
            for (name, bars, all, test) in measure(&path) {
                println!(
                    "{name:<48} {bars:>7} {:>8.4} {:>+9.5} {:>7.3} {:>9.4} {:>+9.5} {:>7.3}",
                    all.rmse,
                    all.bias,
                    100.0 * all.tail_share,
                    test.rmse,
                    test.bias,
                    100.0 * test.tail_share
                );
                if !(all.rmse < MAX_RMSE && all.bias.abs() < MAX_BIAS) {
                    failures.push(format!("{name}: rmse {} bias {}", all.rmse, all.bias));
                }
            }
        }
    }
    assert!(failures.is_empty(), "over the bounds: {failures:#?}");
}

fn repo_data() -> PathBuf {
    manifest_dir().join("../../data")
}

#[test]
fn bundled_data_reconstructs_close_returns() {
    check(&[repo_data()]);
}

#[test]
#[ignore = "needs ../shared"]
fn shared_data_reconstructs_close_returns() {
    let shared = manifest_dir().join("../../../shared/data");
    check(&[repo_data(), shared]);
}
