//! Helpers: a temporary directory per test and a runner for the built binary.

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.tmp.path()
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {name}: {e}"));
        p
    }
}

/// Runs `candlecast` with `args`.
pub fn candlecast<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_candlecast"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running candlecast: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

/// The shared data folder beside the checkout.
pub fn shared_data() -> PathBuf {
    manifest_dir().join("../shared/data")
}

/// An hourly random walk with volatility clustering, as a normalised CSV.
pub fn walk_csv(seed: u64, n: usize) -> String {
    let mut s = seed;
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut out = String::from("timestamp,open,high,low,close,volume\n");
    let (mut c, mut vol) = (100.0f64, 0.01f64);
    for i in 0..n {
        vol = (0.9 * vol + 0.1 * 0.01 * (1.0 + 3.0 * u())).max(1e-4);
        let o = c;
        c = o * (vol * (u() - 0.5) * 3.0).exp();
        let (h, l) = (o.max(c) * (1.0 + vol * u()), o.min(c) * (1.0 - vol * u()));
        out.push_str(&format!(
            "{},{o},{h},{l},{c},1\n",
            1_600_000_000 + i as i64 * 3600
        ));
    }
    out
}

/// Asserts that a run failed as bad input does (exit status 2) with `needle` in its
/// message.
pub fn fails_with(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert!(stderr(o).contains(needle), "{}", stderr(o));
}
