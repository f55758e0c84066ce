use crate::util::{candlecast, fails_with, stderr, stdout, walk_csv, Dir};
use std::path::Path;
use std::process::{Command, Stdio};

/// A model small enough that a test run takes seconds.
const CONFIG: &str = r#"
[model]
d_model = 16
n_head = 2
n_layer = 2
max_ctx = 16

[train]
steps = 60
batch_size = 8
seq_len = 16
lr = 3e-3
min_lr = 3e-4
warmup_steps = 5
grad_clip = 1.0
eval_every = 10
eval_windows = 64
patience = 0
checkpoint_every = 10
seed = 7

[finetune]
steps = 40
batch_size = 8
seq_len = 16
lr = 1e-3
min_lr = 1e-4
warmup_steps = 2
grad_clip = 1.0
eval_every = 10
eval_windows = 64
patience = 0
checkpoint_every = 10
seed = 8
freeze_blocks = 1
"#;

fn setup() -> (Dir, String, String, String) {
    let dir = Dir::new();
    let cfg = dir.write("c.toml", CONFIG).display().to_string();
    let a = dir.write("a.csv", walk_csv(1, 1500)).display().to_string();
    let b = dir.write("b.csv", walk_csv(2, 1500)).display().to_string();
    (dir, cfg, a, b)
}

fn train(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["train", "--json"];
    all.extend_from_slice(args);
    let out = candlecast(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).unwrap()
}

fn weights(run: &Path) -> Vec<u8> {
    std::fs::read(run.join("model.safetensors")).unwrap()
}

#[test]
fn training_beats_the_unigram_baseline_and_is_reproducible() {
    let (dir, cfg, a, b) = setup();
    let (r1, r2) = (dir.path().join("r1"), dir.path().join("r2"));
    let s1 = train(&[
        "--config",
        &cfg,
        "--data",
        &a,
        &b,
        "--out",
        &r1.display().to_string(),
    ]);
    let s2 = train(&[
        "--config",
        &cfg,
        "--data",
        &a,
        &b,
        "--out",
        &r2.display().to_string(),
    ]);
    assert_eq!(weights(&r1), weights(&r2), "same seed, different weights");
    let (val, unigram) = (
        s1["val_bits"].as_f64().unwrap(),
        s1["unigram_bits"].as_f64().unwrap(),
    );
    assert!(
        val < unigram,
        "val {val} bits is not below the unigram baseline {unigram}"
    );
    assert_eq!(s2["steps"], 60);
    let curve = std::fs::read_to_string(r1.join("curve.csv")).unwrap();
    assert_eq!(curve.lines().count(), 61);
}

/// `target_smoothing` in [train]: the run trains against the tokenizer's HL-Gauss
/// rows (other weights than the one-hot run's, still reproducible and still below
/// the unigram baseline on the plain validation loss) and records it, and a bad
/// value is refused before any data is read.
#[test]
fn smoothed_targets_train_from_the_config() {
    let (dir, _, a, b) = setup();
    let smooth = CONFIG.replace("seed = 7\n", "seed = 7\ntarget_smoothing = 0.75\n");
    assert_ne!(smooth, CONFIG);
    let cfg = dir.write("s.toml", &smooth).display().to_string();
    let plain = dir.write("p.toml", CONFIG).display().to_string();
    let runs: Vec<_> = ["s1", "s2", "p"]
        .iter()
        .map(|r| dir.path().join(r))
        .collect();
    let mut summaries = vec![];
    for (run, cfg) in runs.iter().zip([&cfg, &cfg, &plain]) {
        let out = run.display().to_string();
        summaries.push(train(&["--config", cfg, "--data", &a, &b, "--out", &out]));
    }
    assert_eq!(
        weights(&runs[0]),
        weights(&runs[1]),
        "same seed, different weights"
    );
    assert_ne!(
        weights(&runs[0]),
        weights(&runs[2]),
        "smoothing changed nothing"
    );
    let s = &summaries[0];
    assert!(s["val_bits"].as_f64().unwrap() < s["unigram_bits"].as_f64().unwrap());
    let meta = std::fs::read_to_string(runs[0].join("meta.json")).unwrap();
    assert!(meta.contains("\"target_smoothing\": 0.75"), "{meta}");
    let bad = dir.write("bad.toml", smooth.replace("= 0.75", "= -1.0"));
    let out = candlecast([
        "train",
        "--config",
        &bad.display().to_string(),
        "--data",
        &a,
        "--out",
        &dir.path().join("bad").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("target_smoothing"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fine_tuning_lowers_the_target_series_loss() {
    let (dir, cfg, a, b) = setup();
    let (pre, ft) = (dir.path().join("pre"), dir.path().join("ft"));
    train(&[
        "--config",
        &cfg,
        "--data",
        &a,
        &b,
        "--out",
        &pre.display().to_string(),
    ]);
    let s = train(&[
        "--config",
        &cfg,
        "--data",
        &b,
        "--out",
        &ft.display().to_string(),
        "--init",
        &pre.display().to_string(),
    ]);
    let (start, end) = (
        s["start_val_bits"].as_f64().unwrap(),
        s["val_bits"].as_f64().unwrap(),
    );
    assert!(
        end < start,
        "fine-tuning on b: val {start} -> {end} bits/token"
    );
    assert_eq!(s["mode"], "finetune");
}

#[test]
fn a_killed_run_resumes_to_the_same_bytes() {
    let (dir, cfg, a, b) = setup();
    let (full, cut) = (dir.path().join("full"), dir.path().join("cut"));
    train(&[
        "--config",
        &cfg,
        "--data",
        &a,
        &b,
        "--out",
        &full.display().to_string(),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_candlecast"))
        .args([
            "train",
            "--config",
            &cfg,
            "--data",
            &a,
            &b,
            "--out",
            &cut.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a checkpoint past the first, then SIGKILL mid-run.
    let started = std::time::Instant::now();
    loop {
        let step = std::fs::read_to_string(cut.join("meta.json"))
            .ok()
            .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
            .and_then(|m| m["state"]["step"].as_u64())
            .unwrap_or(0);
        if step >= 20 || started.elapsed().as_secs() > 120 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let done = std::fs::read_to_string(cut.join("meta.json")).unwrap();
    let step = serde_json::from_str::<serde_json::Value>(&done).unwrap()["state"]["step"]
        .as_u64()
        .unwrap();
    assert!(!status.success(), "the run finished before it was killed");
    assert!(step < 60, "killed too late (step {step})");
    let s = train(&[
        "--data",
        &a,
        &b,
        "--out",
        &cut.display().to_string(),
        "--resume",
    ]);
    assert_eq!(s["mode"], "resume");
    assert_eq!(
        weights(&full),
        weights(&cut),
        "resumed from step {step}: different weights"
    );
    // Resuming on other data is refused.
    let out = candlecast([
        "train",
        "--data",
        &a,
        "--out",
        &cut.display().to_string(),
        "--resume",
    ]);
    fails_with(&out, "--resume needs the data the run started with");
}

#[test]
fn bad_configs_are_clear_errors() {
    let (dir, _, a, _) = setup();
    let bad = dir
        .write("bad.toml", CONFIG.replace("n_head = 2", "n_head = 3"))
        .display()
        .to_string();
    let out = candlecast([
        "train",
        "--config",
        &bad,
        "--data",
        &a,
        "--out",
        &dir.path().join("x").display().to_string(),
    ]);
    fails_with(&out, "n_head = 3 does not divide d_model = 16");
    let typo = dir
        .write("typo.toml", CONFIG.replace("d_model = 16", "d_modle = 16"))
        .display()
        .to_string();
    let out = candlecast([
        "train",
        "--config",
        &typo,
        "--data",
        &a,
        "--out",
        &dir.path().join("y").display().to_string(),
    ]);
    fails_with(&out, "unknown field `d_modle`");
}

/// Issue 16: the calendar and relative-volume inputs switched on in `[tokenizer]`
/// reach the model's config in `meta.json`, train reproducibly, survive `--init`
/// (which keeps the init's channels) and serve `forecast` and multi-step
/// `evaluate`; a run whose model and tokenizer disagree on them is refused.
#[test]
fn r16_extra_inputs_train_finetune_and_forecast() {
    let (dir, cfg, a, b) = setup();
    let with = format!("[tokenizer]\ncalendar = true\nvolume_input_bins = 4\n{CONFIG}");
    let cfg_in = dir.write("inputs.toml", with).display().to_string();
    let (r1, r2, ft) = (
        dir.path().join("i1"),
        dir.path().join("i2"),
        dir.path().join("ift"),
    );
    for r in [&r1, &r2] {
        train(&[
            "--config",
            &cfg_in,
            "--data",
            &a,
            &b,
            "--out",
            &r.display().to_string(),
        ]);
    }
    assert_eq!(weights(&r1), weights(&r2), "same seed, different weights");
    let meta = |r: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(r.join("meta.json")).unwrap()).unwrap()
    };
    let channels = |r: &Path| -> Vec<(String, u64)> {
        meta(r)["model"]["inputs"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap().to_string(),
                            c["size"].as_u64().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let want = vec![
        ("time_of_day".to_string(), 49),
        ("day_of_week".to_string(), 8),
        ("volume".to_string(), 5),
    ];
    assert_eq!(channels(&r1), want);
    // Fine-tuning with a config whose [tokenizer] has no inputs keeps the init's.
    let s = train(&[
        "--config",
        &cfg,
        "--data",
        &b,
        "--out",
        &ft.display().to_string(),
        "--init",
        &r1.display().to_string(),
    ]);
    assert_eq!(s["mode"], "finetune");
    assert_eq!(channels(&ft), want);
    // Forecast and multi-step evaluate run with the inputs.
    let fc = dir.path().join("fc.csv").display().to_string();
    let run = ft.display().to_string();
    let out = candlecast([
        "forecast",
        "--model",
        &run,
        "--input",
        &b,
        "--horizon",
        "3",
        "--samples",
        "20",
        "--out",
        &fc,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&fc).unwrap().lines().count(), 4);
    let ev = dir.path().join("ev").display().to_string();
    let out = candlecast([
        "evaluate",
        "--model",
        &run,
        "--input",
        &b,
        "--out",
        &ev,
        "--horizon",
        "2",
        "--samples",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A tokenizer that lost its calendar no longer matches the model.
    let text = std::fs::read_to_string(ft.join("meta.json")).unwrap();
    assert!(text.contains("\"calendar\": true"));
    std::fs::write(
        ft.join("meta.json"),
        text.replace("\"calendar\": true", "\"calendar\": false"),
    )
    .unwrap();
    let out = candlecast([
        "forecast",
        "--model",
        &run,
        "--input",
        &b,
        "--horizon",
        "3",
        "--samples",
        "20",
        "--out",
        &fc,
        "--force",
    ]);
    fails_with(&out, "input channels (time_of_day:49, day_of_week:8, volume:5) do not match the tokenizer's (volume:5)");
}

/// `--init base` fine-tunes the shipped base model (its tokenizer and inputs) on the
/// user's series, and the result forecasts like any run.
#[test]
fn fine_tune_from_the_base_model() {
    let (dir, cfg, a, _) = setup();
    let ft = dir.path().join("ft").display().to_string();
    let s = train(&[
        "--config", &cfg, "--init", "base", "--data", &a, "--out", &ft,
    ]);
    assert_eq!(s["mode"], "finetune");
    assert_eq!(s["vocab_size"], 1026);
    assert!(s["best_val_bits"].as_f64().unwrap() <= s["start_val_bits"].as_f64().unwrap());
    let out = dir.path().join("fc.csv").display().to_string();
    let r = candlecast([
        "forecast",
        "--model",
        &ft,
        "--input",
        &a,
        "--horizon",
        "3",
        "--out",
        &out,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
}

/// A series too short for a validation window of its own (150 bars: 12 of
/// validation) is validated after the end of its training part, so its fine-tune
/// reports a validation loss and can stop early instead of training blind.
#[test]
fn a_short_series_fine_tune_still_validates() {
    let (dir, cfg, _, _) = setup();
    let short = dir
        .write("short.csv", walk_csv(3, 150))
        .display()
        .to_string();
    let ft = dir.path().join("ft").display().to_string();
    let s = train(&[
        "--config", &cfg, "--init", "base", "--data", &short, "--out", &ft,
    ]);
    let val_tokens = s["val_tokens"].as_u64().unwrap();
    assert!(val_tokens > 0 && val_tokens < 17, "{s}");
    let (start, best) = (
        s["start_val_bits"].as_f64().unwrap(),
        s["best_val_bits"].as_f64().unwrap(),
    );
    assert!(best <= start && best > 0.0, "{s}");
    assert!(s["sources"][0]["val_bits"].as_f64().is_some(), "{s}");
}
