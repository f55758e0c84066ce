//! Reading the series a command works on: the files and folders named on the
//! command line, and the synthetic corpus a pretraining run adds. Every command
//! reads through here, so a folder, a resample or a panel means the same to all.

use anyhow::{bail, Context};
use candlecast_data::{read_path, resample, Series};
use candlecast_synth::SynthConfig;
use std::path::PathBuf;

/// The input paths with every directory replaced by the files in it the reader
/// takes (see [`candlecast_data::is_input_file`]), sorted by name (not recursive):
/// one order on every machine, which sharding relies on.
pub fn expand_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| p.display().to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && candlecast_data::is_input_file(f))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!(
                    "{}: no input files in this directory (read are {})",
                    p.display(),
                    candlecast_data::INPUT_EXTENSIONS.join(", ")
                );
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Every series of every file, resampled if asked.
pub fn load_series(
    files: &[PathBuf],
    input: &crate::args::InputArgs,
) -> anyhow::Result<Vec<(String, Series)>> {
    let opts = input.options();
    let mut out = Vec::new();
    for path in &expand_inputs(files)? {
        let name = path.display().to_string();
        let ds = read_path(path, &opts)?;
        for s in ds.panel.series {
            let s = match input.resample {
                Some(every) => resample(&s, every).with_context(|| name.clone())?,
                None => s,
            };
            out.push((name.clone(), s));
        }
    }
    Ok(out)
}

/// The source name of synthetic series in fingerprints and summaries.
pub const SYNTHETIC_SOURCE: &str = "synthetic";

/// The synthetic corpus as named series.
pub fn synthetic_series(cfg: &SynthConfig) -> anyhow::Result<Vec<(String, Series)>> {
    let bar = crate::progress::bar(cfg.series as u64, "synth");
    let mut out = Vec::with_capacity(cfg.series);
    for i in 0..cfg.series {
        let (_, s) = candlecast_synth::generate_one(cfg.seed, i, cfg.bars)?;
        out.push((SYNTHETIC_SOURCE.to_string(), s));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}
