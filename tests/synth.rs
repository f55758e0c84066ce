use crate::util::{candlecast, fails_with, stderr, stdout, Dir};

/// `candlecast synth` writes one valid file per series (every file passes
/// `inspect`) and the same seed writes the same bytes.
#[test]
fn synth_files_pass_inspect_and_are_reproducible() {
    let dir = Dir::new();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let r = candlecast([
            "synth",
            "--out",
            &out.display().to_string(),
            "--series",
            "12",
            "--bars",
            "600",
            "--seed",
            "5",
        ]);
        assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    }
    let mut files: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12);
    for f in &files {
        let name = f.file_name().unwrap();
        assert_eq!(
            std::fs::read(f).unwrap(),
            std::fs::read(b.join(name)).unwrap()
        );
    }
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("params.json")).unwrap()).unwrap();
    assert_eq!(params["per_series"].as_array().unwrap().len(), 12);
    let mut args = vec!["inspect".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let r = candlecast(&args);
    assert_eq!(r.status.code(), Some(0), "{}{}", stdout(&r), stderr(&r));
    assert_eq!(stdout(&r).matches(": ok").count(), 12, "{}", stdout(&r));

    let r = candlecast(["synth", "--out", "x", "--series", "1", "--bars", "10"]);
    fails_with(&r, "at least 64 bars");
}

/// `train` takes the synthetic corpus from the config's [synthetic] table, with or
/// without files, reports tokens per source, and resumes it bit for bit.
#[test]
fn train_on_synthetic_data_without_files() {
    let dir = Dir::new();
    let cfg = dir.write(
        "c.toml",
        r#"
[model]
d_model = 16
n_head = 2
n_layer = 1
max_ctx = 16

[train]
steps = 20
batch_size = 8
seq_len = 16
lr = 3e-3
min_lr = 3e-4
warmup_steps = 2
grad_clip = 1.0
eval_every = 10
eval_windows = 32
patience = 0
checkpoint_every = 10
seed = 7

[synthetic]
series = 4
bars = 800
seed = 11
"#,
    );
    let run = dir.path().join("run");
    let r = candlecast([
        "train",
        "--json",
        "--config",
        &cfg.display().to_string(),
        "--out",
        &run.display().to_string(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let s: serde_json::Value = serde_json::from_str(stdout(&r).trim()).unwrap();
    let sources = s["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["source"], "synthetic");
    assert_eq!(sources[0]["series"], 4);
    // 20 steps x 8 windows x 16 tokens, all from the one source.
    assert!((sources[0]["tokens_seen"].as_f64().unwrap() - 2560.0).abs() < 1e-6);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["extra"]["synthetic"]["seed"], 11);
    // A resumed finished run regenerates the same corpus (else: "needs the data").
    let r = candlecast(["train", "--resume", "--out", &run.display().to_string()]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
}
