//! Values at the edge of f64 (issue 19): a bar at 1.7e308 passed validation and made
//! `backtest` spin until killed. Every command that reads prices must refuse such a
//! file promptly with the bound in the message. Each run is killed after 60 s: a
//! hang guard, not a timing assertion (a refusal takes milliseconds).

use crate::util::{stderr, walk_csv, Dir};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary; `None` when it had to be killed after `limit`.
fn run_guarded(args: &[&str], limit: Duration) -> Option<std::process::Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_candlecast"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running candlecast: {e}"));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("waiting for candlecast: {e}"),
        }
    }
}

#[test]
fn huge_values_are_refused_by_every_command() {
    let dir = Dir::new();
    for huge in ["1.7e308", "1e308", "1e16"] {
        // A usable series with one bar whose prices are all `huge`.
        let mut text = walk_csv(3, 400);
        let last = text.lines().last().unwrap_or_default().to_string();
        let ts: i64 = last.split(',').next().unwrap().parse().unwrap();
        text.push_str(&format!("{},{huge},{huge},{huge},{huge},1\n", ts + 3600));
        let f = dir.write(&format!("huge-{huge}.csv"), text);
        let f = f.display().to_string();
        let out_dir = |cmd: &str| {
            dir.path()
                .join(format!("{cmd}-{huge}"))
                .display()
                .to_string()
        };
        let (ev, bt, tr) = (out_dir("ev"), out_dir("bt"), out_dir("tr"));
        let fc = format!("{}.csv", out_dir("fc"));
        let cases: Vec<Vec<&str>> = vec![
            vec!["inspect", &f],
            vec!["tokenize", "--input", &f],
            vec!["train", "--data", &f, "--out", &tr],
            vec!["forecast", "--input", &f, "--horizon", "2", "--out", &fc],
            vec!["evaluate", "--input", &f, "--out", &ev, "--no-model"],
            vec![
                "backtest",
                "--input",
                &f,
                "--strategy",
                "buy-hold",
                "--out",
                &bt,
            ],
        ];
        for args in cases {
            let Some(out) = run_guarded(&args, Duration::from_secs(60)) else {
                panic!("{args:?}: still running after 60 s");
            };
            let msg = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
            assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}: {msg}");
            assert!(
                msg.contains("where arithmetic on it could overflow"),
                "{args:?}: {msg}"
            );
            assert!(
                msg.contains(&format!(":{}:", 402)),
                "{args:?} names no line: {msg}"
            );
        }
        for d in [&ev, &bt, &tr, &fc] {
            assert!(
                !std::path::Path::new(d).exists(),
                "{d} written for a refused input"
            );
        }
    }
    // Nothing else either (the hang left a hidden temporary folder behind).
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["huge-1.7e308.csv", "huge-1e16.csv", "huge-1e308.csv"]
    );
}
