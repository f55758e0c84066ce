//! `candlecast tokenize`: the per-file report, as a table and as JSON.

use crate::util::{candlecast, manifest_dir, stderr, stdout, Dir};

fn repo(rel: &str) -> String {
    manifest_dir().join(rel).display().to_string()
}

#[test]
fn json_report_per_file() {
    let out = candlecast([
        "tokenize",
        "--config",
        &repo("configs/tiny.toml"),
        "--input",
        &repo("data/spx_1d_arch.csv"),
        &repo("data/sh600977_5m_kronos.csv"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let spx = &lines[0];
    assert!(spx["file"].as_str().unwrap().ends_with("spx_1d_arch.csv"));
    assert_eq!(spx["bars"], 5031);
    assert_eq!(spx["train_bars"], 4024);
    assert_eq!(spx["test_bars"], 1007);
    assert_eq!(spx["vocab_size"], 1026);
    assert_eq!(spx["gaps"], 0);
    let used = spx["tokens_used"].as_u64().unwrap();
    assert!(used > 100 && used <= 1026, "{used}");
    let entropy = spx["test_entropy_bits"].as_f64().unwrap();
    let unigram = spx["unigram_cross_entropy_bits"].as_f64().unwrap();
    // cross-entropy under train frequencies >= entropy of the test distribution
    assert!(
        entropy > 5.0 && unigram >= entropy && unigram < 10.01,
        "{entropy} {unigram}"
    );
    assert!(spx["return_rmse"].as_f64().unwrap() < 0.2);
    assert!(spx["return_bias"].as_f64().unwrap().abs() < 0.01);
    // the 5-minute A-share file has lunch breaks and nights: gaps
    assert!(lines[1]["gaps"].as_u64().unwrap() > 50);
}

#[test]
fn table_report_and_defaults() {
    let out = candlecast([
        "tokenize",
        "--input",
        &repo("data/eurusd_1h_ask_gymanytrading.csv"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["file", "bars", "test", "vocab", "used", "entropy", "unigram", "rmse", "bias", "tail%"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert!(row[0].ends_with("eurusd_1h_ask_gymanytrading.csv"));
    assert_eq!(row[1..4], ["6225", "1245", "1026"]);
    assert!(text.contains("add-one (Laplace) smoothed"), "{text}");
}

#[test]
fn bad_config_is_a_usage_error() {
    let dir = Dir::new();
    let cfg = dir.write("c.toml", "[tokenizer]\nreturn_bins = 64\nvocab = 1\n");
    let out = candlecast([
        "tokenize",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        &repo("data/spx_1d_arch.csv"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("c.toml") && err.contains("unknown field `vocab`"),
        "{err}"
    );
}

#[test]
fn too_short_a_file_says_why() {
    let dir = Dir::new();
    let f = dir.write(
        "one.csv",
        "timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,1,0\n",
    );
    let out = candlecast(["tokenize", "--input", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("one.csv") && err.contains("cannot fit a tokenizer"),
        "{err}"
    );
}
