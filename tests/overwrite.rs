//! Issue 19: no command writes over its inputs, a model's files or an earlier output
//! without `--force` (src/output.rs); one test per writing command (the demo's is in
//! tests/demo.rs, beside its one full run). Each checks that the refused file's bytes
//! are unchanged and that `--force` does write.

use crate::util::{candlecast, manifest_dir, stderr, walk_csv, Dir};
use std::path::{Path, PathBuf};

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A copy of the bundled S&P 500 file (a test that failed to refuse would write over
/// the copy, never over the repository's file).
fn spx(dir: &Dir) -> PathBuf {
    dir.write("x.csv", read(&manifest_dir().join("data/spx_1d_arch.csv")))
}

/// A model folder: a copy of the shipped base model's files.
fn model(dir: &Dir) -> PathBuf {
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for f in ["meta.json", "model.safetensors"] {
        std::fs::copy(manifest_dir().join("models/base").join(f), run.join(f)).unwrap();
    }
    run
}

/// Asserts `r` failed with exit 2 and a message containing every one of `want`.
fn refused(r: &std::process::Output, want: &[&str]) {
    assert_eq!(r.status.code(), Some(2), "{}", stderr(r));
    for w in want {
        assert!(stderr(r).contains(w), "wanted {w:?} in: {}", stderr(r));
    }
}

#[test]
fn forecast_refuses_its_input_the_model_and_an_existing_output_without_force() {
    let dir = Dir::new();
    let x = spx(&dir);
    let run = model(&dir);
    let (x_bytes, meta_bytes) = (read(&x), read(&run.join("meta.json")));
    let fc = |extra: &[&str]| {
        let mut a = vec!["forecast", "--model", run.to_str().unwrap()];
        a.extend_from_slice(&["--input", x.to_str().unwrap(), "--horizon", "2"]);
        a.extend_from_slice(&["--samples", "4"]);
        a.extend_from_slice(extra);
        candlecast(a)
    };
    // The input under three spellings, and the model's meta.json: even --force.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for out in [
        s(&x),
        s(&dir.path().join("sub/../x.csv")),
        s(&dir.path().join("./x.csv")),
    ] {
        refused(
            &fc(&["--out", &out, "--force"]),
            &["would overwrite the input", "choose another --out"],
        );
    }
    refused(
        &fc(&["--out", &s(&run.join("meta.json")), "--force"]),
        &["lies in the model folder"],
    );
    assert_eq!(read(&x), x_bytes);
    assert_eq!(read(&run.join("meta.json")), meta_bytes);

    // An existing output (or its --paths file) needs --force; --force writes all three.
    let out = dir.write("fc.csv", "earlier\n");
    refused(
        &fc(&["--out", &s(&out)]),
        &["exists; pass --force to overwrite it"],
    );
    assert_eq!(read(&out), b"earlier\n");
    let paths = dir.path().join("fc.paths.csv");
    std::fs::remove_file(&out).unwrap();
    std::fs::write(&paths, "earlier\n").unwrap();
    refused(
        &fc(&["--out", &s(&out), "--paths"]),
        &["--force", "--paths"],
    );
    assert_eq!(read(&paths), b"earlier\n");
    assert!(!out.exists(), "nothing written on a refusal");
    std::fs::write(&out, "earlier\n").unwrap();
    let r = fc(&["--out", &s(&out), "--paths", "--force"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(String::from_utf8_lossy(&read(&out)).starts_with("series,origin,step"));
    assert!(String::from_utf8_lossy(&read(&paths)).starts_with("series,origin,step"));
    let header = String::from_utf8_lossy(&read(&dir.path().join("fc.run.json"))).into_owned();
    let v: serde_json::Value = serde_json::from_str(&header).unwrap();
    assert_eq!(v["run"]["horizon"], 2);
    assert_eq!(v["shard"]["count"], 1);
    // No temporary file left beside the outputs.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
}

#[test]
fn evaluate_refuses_a_non_empty_folder_without_force_and_never_replaces_an_input() {
    let dir = Dir::new();
    let x = spx(&dir);
    let card = dir.path().join("card");
    std::fs::create_dir(&card).unwrap();
    let notes = card.join("notes.txt");
    std::fs::write(&notes, "mine").unwrap();
    let ev = |input: &Path, extra: &[&str]| {
        let mut a = vec!["evaluate", "--no-model", "--input", input.to_str().unwrap()];
        a.extend_from_slice(&["--out", card.to_str().unwrap()]);
        a.extend_from_slice(extra);
        candlecast(a)
    };
    refused(&ev(&x, &[]), &["not empty; pass --force"]);
    assert!(!card.join("scorecard.json").exists());
    let r = ev(&x, &["--force"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(card.join("scorecard.json").is_file());
    assert_eq!(read(&notes), b"mine", "--force replaces only its own files");
    // An input named like one of its outputs, in the output folder: even --force.
    let cal = card.join("calibration.csv");
    std::fs::copy(&x, &cal).unwrap();
    let before = read(&cal);
    refused(&ev(&cal, &["--force"]), &["would overwrite the input"]);
    assert_eq!(read(&cal), before);
    // Into the model folder it reads: even --force.
    let run = model(&dir);
    let r = candlecast([
        "evaluate",
        "--model",
        &s(&run),
        "--input",
        &s(&x),
        "--out",
        &s(&run),
        "--force",
    ]);
    refused(&r, &["lies in the model folder"]);
    assert!(!run.join("scorecard.json").exists());
}

#[test]
fn backtest_replaces_only_an_earlier_report_and_only_with_force() {
    let dir = Dir::new();
    let x = spx(&dir);
    let bt = |input: &Path, out: &Path, extra: &[&str]| {
        let mut a = vec!["backtest", "--strategy", "buy-hold", "--no-compare"];
        a.extend_from_slice(&["--input", input.to_str().unwrap()]);
        a.extend_from_slice(&["--out", out.to_str().unwrap()]);
        a.extend_from_slice(extra);
        candlecast(a)
    };
    // A folder that is not a report is never replaced (that would delete it).
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    refused(
        &bt(&x, &other, &["--force"]),
        &["is not a backtest report folder", "even with --force"],
    );
    assert_eq!(read(&other.join("notes.txt")), b"mine");

    let rep = dir.path().join("rep");
    let r = bt(&x, &rep, &[]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let stats = read(&rep.join("stats.json"));
    std::fs::write(rep.join("stats.json"), "earlier").unwrap();
    refused(
        &bt(&x, &rep, &["--cash", "5000"]),
        &["holds an earlier report; pass --force"],
    );
    assert_eq!(read(&rep.join("stats.json")), b"earlier");
    let r = bt(&x, &rep, &["--force"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(read(&rep.join("stats.json")), stats);
    // The input inside the folder that would be replaced whole: even --force.
    let inside = rep.join("x.csv");
    std::fs::copy(&x, &inside).unwrap();
    refused(
        &bt(&inside, &rep, &["--force"]),
        &["which this command reads"],
    );
    assert_eq!(read(&inside), read(&x));
}

#[test]
fn train_refuses_an_earlier_run_without_force_and_resume_still_works() {
    let dir = Dir::new();
    let data = dir.write("d.csv", walk_csv(3, 400));
    let cfg = dir.write(
        "c.toml",
        "[model]\nd_model = 8\nn_head = 2\nn_layer = 1\nmax_ctx = 8\n\n[train]\nsteps = 6\n\
         batch_size = 4\nseq_len = 8\nlr = 3e-3\nmin_lr = 3e-4\nwarmup_steps = 1\ngrad_clip = 1.0\n\
         eval_every = 3\neval_windows = 8\npatience = 0\ncheckpoint_every = 3\nseed = 1\n\n\
         [finetune]\nsteps = 4\nbatch_size = 4\nseq_len = 8\nlr = 1e-3\nmin_lr = 1e-4\n\
         warmup_steps = 1\ngrad_clip = 1.0\neval_every = 2\neval_windows = 8\npatience = 0\n\
         checkpoint_every = 2\nseed = 2\n",
    );
    let run = dir.path().join("run");
    let train = |data: &Path, extra: &[&str]| {
        let mut a = vec!["train", "--config", cfg.to_str().unwrap()];
        a.extend_from_slice(&["--data", data.to_str().unwrap()]);
        a.extend_from_slice(extra);
        candlecast(a)
    };
    let r = train(&data, &["--out", &s(&run)]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let weights = read(&run.join("model.safetensors"));
    std::fs::write(run.join("model.safetensors"), "earlier").unwrap();
    refused(
        &train(&data, &["--out", &s(&run)]),
        &["holds a run already", "--resume", "--force"],
    );
    assert_eq!(read(&run.join("model.safetensors")), b"earlier");
    let r = train(&data, &["--out", &s(&run), "--force"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(read(&run.join("model.safetensors")), weights, "same seed");
    // --resume continues its own folder without --force (a finished run: no steps).
    let r = train(&data, &["--out", &s(&run), "--resume"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(read(&run.join("model.safetensors")), weights);
    // Fine-tuning into the run it starts from, or over a data file: even --force.
    let r = train(&data, &["--init", &s(&run), "--out", &s(&run), "--force"]);
    refused(&r, &["lies in the model folder"]);
    assert_eq!(read(&run.join("model.safetensors")), weights);
    let curve = run.join("curve.csv");
    let before = read(&curve);
    std::fs::write(&curve, walk_csv(4, 300)).unwrap();
    let as_data = read(&curve);
    refused(
        &train(&curve, &["--out", &s(&run), "--force"]),
        &["would overwrite the input"],
    );
    assert_eq!(read(&curve), as_data);
    assert_ne!(before, as_data);
}

#[test]
fn synth_refuses_a_non_empty_folder_without_force() {
    let dir = Dir::new();
    let out = dir.path().join("corpus");
    let synth = |seed: &str, extra: &[&str]| {
        let mut a = vec!["synth", "--out", out.to_str().unwrap()];
        a.extend_from_slice(&["--series", "2", "--bars", "80", "--seed", seed]);
        a.extend_from_slice(extra);
        candlecast(a)
    };
    let r = synth("1", &[]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let first = read(&out.join("params.json"));
    refused(&synth("2", &[]), &["not empty; pass --force"]);
    assert_eq!(read(&out.join("params.json")), first);
    let r = synth("2", &["--force"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_ne!(read(&out.join("params.json")), first);
}
