//! Issue 19, scale-out: deploy/slurm-forecast.sbatch run as Slurm would run its
//! array tasks (one rerun alone, N from CANDLECAST_SHARDS), deploy/merge-shards.sh
//! merging them byte for byte into the unsharded output and refusing what is not
//! one complete run, and the Kubernetes manifest's schema check.

use crate::util::{fails_with, manifest_dir, stderr, walk_csv, Dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `bash SCRIPT ARGS` in `cwd` with `env` added.
fn bash(cwd: &Path, script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(manifest_dir().join(script))
        .args(args)
        .current_dir(cwd);
    // Not the caller's: a test run inside a Slurm job must not see its own.
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "CANDLECAST_SHARDS",
        "CANDLECAST_FORCE",
        "SEED",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("bash {script}: {e}"))
}

/// A folder of three series and a model folder (a copy of the shipped base model), in
/// `dir`; paths relative to it, as a job script on a shared volume would give them.
fn setup(dir: &Dir) {
    let inputs = dir.path().join("csv");
    std::fs::create_dir(&inputs).unwrap();
    for i in 0..3u64 {
        std::fs::write(inputs.join(format!("s{i}.csv")), walk_csv(40 + i, 300)).unwrap();
    }
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for f in ["meta.json", "model.safetensors"] {
        std::fs::copy(manifest_dir().join("models/base").join(f), run.join(f)).unwrap();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_candlecast")
}

/// Runs array task `i` of the sbatch script (N from CANDLECAST_SHARDS), as
/// `sbatch --array=I` alone would.
fn task(dir: &Dir, i: usize, n: &str, extra: &[(&str, &str)]) -> Output {
    let i = i.to_string();
    let mut env = vec![
        ("SLURM_ARRAY_TASK_ID", i.as_str()),
        ("SLURM_ARRAY_TASK_COUNT", "1"),
        ("CANDLECAST_SHARDS", n),
        ("CANDLECAST_BIN", bin()),
        ("HORIZON", "3"),
        ("SAMPLES", "4"),
    ];
    env.extend_from_slice(extra);
    bash(
        dir.path(),
        "deploy/slurm-forecast.sbatch",
        &["csv", "run", "out/fc"],
        &env,
    )
}

fn merge(dir: &Dir, args: &[&str]) -> Output {
    bash(dir.path(), "deploy/merge-shards.sh", args, &[])
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn array_tasks_rerun_alone_and_merge_into_the_unsharded_output() {
    let dir = Dir::new();
    setup(&dir);
    // Relative paths: the command runs in the test's folder, as the tasks do.
    let whole = Command::new(bin())
        .args([
            "forecast",
            "--model",
            "run",
            "--input",
            "csv",
            "--horizon",
            "3",
            "--samples",
            "4",
            "--seed",
            "0",
            "--out",
            "whole.csv",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));

    // Task 2 first and alone (a rerun: the array holds one task), then 3 and 1.
    for i in [2, 3, 1] {
        let r = task(&dir, i, "3", &[]);
        assert_eq!(r.status.code(), Some(0), "task {i}: {}", stderr(&r));
    }
    let out = dir.path().join("out");
    let r = merge(&dir, &["out/fc", "3", "out/forecast.csv"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(
        read(&out.join("forecast.csv")),
        read(&dir.path().join("whole.csv"))
    );
    // The merged run header is the one the unsharded run wrote.
    assert_eq!(
        read(&out.join("forecast.run.json")),
        read(&dir.path().join("whole.run.json"))
    );

    // The merge never overwrites without --force.
    std::fs::write(out.join("forecast.csv"), "earlier").unwrap();
    let r = merge(&dir, &["out/fc", "3", "out/forecast.csv"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("--force"), "{}", stderr(&r));
    assert_eq!(read(&out.join("forecast.csv")), b"earlier");
    let r = merge(&dir, &["--force", "out/fc", "3", "out/forecast.csv"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert_eq!(
        read(&out.join("forecast.csv")),
        read(&dir.path().join("whole.csv"))
    );

    // Rerunning a finished task is refused unless CANDLECAST_FORCE=1; rerun with
    // another seed, its header names another run and the merge refuses.
    let shard2 = out.join("fc.2-of-3.csv");
    let before = read(&shard2);
    let r = task(&dir, 2, "3", &[("SEED", "5")]);
    fails_with(&r, "--force");
    assert_eq!(read(&shard2), before);
    let r = task(&dir, 2, "3", &[("SEED", "5"), ("CANDLECAST_FORCE", "1")]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let listing = names(&out);
    let r = merge(&dir, &["out/fc", "3", "out/other.csv"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        stderr(&r).contains("another run than shard 1"),
        "{}",
        stderr(&r)
    );
    assert!(stderr(&r).contains("\"seed\":5"), "{}", stderr(&r));
    assert_eq!(names(&out), listing, "nothing written, no temporary left");

    // A shard of another N, a missing shard, a missing header.
    std::fs::copy(out.join("fc.1-of-3.csv"), out.join("fc.1-of-2.csv")).unwrap();
    std::fs::copy(
        out.join("fc.1-of-3.run.json"),
        out.join("fc.1-of-2.run.json"),
    )
    .unwrap();
    std::fs::copy(out.join("fc.3-of-3.csv"), out.join("fc.2-of-2.csv")).unwrap();
    std::fs::copy(
        out.join("fc.3-of-3.run.json"),
        out.join("fc.2-of-2.run.json"),
    )
    .unwrap();
    let r = merge(&dir, &["out/fc", "2", "out/other.csv"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("is not shard 1 of 2"), "{}", stderr(&r));
    std::fs::remove_file(out.join("fc.3-of-3.run.json")).unwrap();
    std::fs::remove_file(out.join("fc.1-of-3.csv")).unwrap();
    let r = merge(&dir, &["out/fc", "3", "out/other.csv"]);
    assert_eq!(r.status.code(), Some(1));
    let err = stderr(&r);
    assert!(
        err.contains("missing out/fc.1-of-3.csv out/fc.3-of-3.run.json"),
        "{err}"
    );
    assert!(!out.join("other.csv").exists());

    // The task script: N is required, and the index must be a shard of it.
    let r = task(&dir, 2, "", &[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("CANDLECAST_SHARDS"), "{}", stderr(&r));
    let r = task(&dir, 4, "3", &[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("not a shard of 1..3"), "{}", stderr(&r));
    let r = task(&dir, 1, "3", &[("CANDLECAST_BIN", "no-such-candlecast")]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        stderr(&r).contains("cargo install --path ."),
        "{}",
        stderr(&r)
    );
}

/// deploy/check-k8s-job.py passes the shipped manifest and fails a broken one (it
/// needs python3 with PyYAML; .ci/run runs it too).
#[test]
fn the_kubernetes_manifest_passes_its_schema_check() {
    let has_yaml = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_yaml {
        eprintln!("python3 with PyYAML not found: skipping deploy/check-k8s-job.py");
        return;
    }
    let check = |path: &PathBuf| {
        Command::new("python3")
            .arg(manifest_dir().join("deploy/check-k8s-job.py"))
            .arg(path)
            .output()
            .unwrap()
    };
    let manifest = manifest_dir().join("deploy/k8s-forecast-job.yaml");
    let r = check(&manifest);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stdout)
    );
    let dir = Dir::new();
    let text = String::from_utf8(read(&manifest)).unwrap();
    let broken = text
        .replace("completions: 8", "completions: 4")
        .replace("restartPolicy: Never", "restartPolicy: Always");
    let bad = dir.write("bad.yaml", broken);
    let r = check(&bad);
    assert_eq!(r.status.code(), Some(1));
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(out.contains("restartPolicy"), "{out}");
    assert!(out.contains("CANDLECAST_SHARDS"), "{out}");
}
