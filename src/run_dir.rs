//! A run folder (`train --out`): its weights, its `meta.json` (model and training
//! configs, the tokenizer, the data it saw) and the checks that they belong
//! together. Every command that reads a run goes through here, so a run that
//! does not hold together is refused the same way everywhere.

use anyhow::{bail, Context};
use candle_core::Device;
use candlecast_data::Series;
use candlecast_gpt::checkpoint::{self, META_FILE, MODEL_FILE};
use candlecast_gpt::{Gpt, TrainConfig, Trainer};
use candlecast_synth::SynthConfig;
use candlecast_tokenize::Tokenizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How each series is divided in time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSplit {
    /// Share of each series (its first bars) training may see.
    pub fit_fraction: f64,
    /// Share of that part (its last bars) held out for validation.
    pub val_fraction: f64,
}

impl Default for DataSplit {
    fn default() -> Self {
        DataSplit {
            fit_fraction: 0.8,
            val_fraction: 0.1,
        }
    }
}

/// What `meta.json`'s `extra` holds for a candlecast run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunExtra {
    pub tokenizer: serde_json::Value,
    pub split: DataSplit,
    pub data: Vec<Fingerprint>,
    /// The synthetic corpus a pretraining run added to its files (regenerated on
    /// `--resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SynthConfig>,
    /// The sampling temperature forecasts use when none is asked for: a calibration
    /// of the shipped base model on its own validation split (bench/base_model.sh
    /// writes it); `train` records none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// Identifies the data a run was trained on, so `--resume` refuses other data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub file: String,
    pub symbol: Option<String>,
    pub bars: usize,
    /// FNV-1a over the timestamps and OHLC bits.
    pub hash: String,
}

pub fn fingerprint(file: &str, s: &Series) -> Fingerprint {
    let mut h = candlecast_rand::Fnv1a64::new();
    for i in 0..s.len() {
        h.write_u64(s.timestamps()[i].0 as u64);
        for col in [s.open(), s.high(), s.low(), s.close()] {
            h.write_u64(col[i].to_bits());
        }
    }
    let h = h.finish();
    Fingerprint {
        file: file.to_string(),
        symbol: s.symbol.clone(),
        bars: s.len(),
        hash: format!("{h:016x}"),
    }
}

/// A trained model with its tokenizer and the run's records, checked to agree.
pub struct LoadedRun {
    pub dir: PathBuf,
    pub model: Gpt,
    pub tok: Tokenizer,
    pub extra: RunExtra,
}

impl LoadedRun {
    /// The sampling temperature the run was calibrated to, 1 when it records none.
    pub fn temperature(&self) -> f64 {
        self.extra.temperature.unwrap_or(1.0)
    }
}

/// Loads the run in `dir` for inference.
pub fn load_run(dir: &Path) -> anyhow::Result<LoadedRun> {
    // Said before loading: the checkpoint reader's own error is the bare OS text
    // ("No such file or directory"), twice, with no hint of what --model wants.
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is a file, not a model folder"
        } else {
            "no such model folder"
        };
        bail!(
            "{}: {what}: give --model a folder written by 'candlecast train --out DIR', or leave --model out to use the built-in base model",
            dir.display()
        );
    }
    if !dir.join(META_FILE).is_file() || !dir.join(MODEL_FILE).is_file() {
        bail!(
            "{}: not a model folder: it has no {META_FILE} and {MODEL_FILE}; give --model a folder written by 'candlecast train --out DIR', or leave --model out to use the built-in base model",
            dir.display()
        );
    }
    let (model, meta) = checkpoint::load_model(dir, &Device::Cpu)?;
    let extra: RunExtra = serde_json::from_value(meta.extra)
        .with_context(|| format!("{}: meta.json is not a candlecast run", dir.display()))?;
    let tok = Tokenizer::from_json(&extra.tokenizer.to_string(), &dir.join(META_FILE))?;
    if model.config().vocab_size != tok.vocab_size() {
        bail!(
            "{}: the model's vocabulary ({}) does not match the tokenizer's ({}): \
             the model was trained with another tokenizer",
            dir.display(),
            model.config().vocab_size,
            tok.vocab_size()
        );
    }
    candlecast_forecast::check_inputs(&model, &tok).with_context(|| dir.display().to_string())?;
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        model,
        tok,
        extra,
    })
}

/// The `extra` of the run in `dir` (read before its weights: `--resume` needs the
/// synthetic corpus and the data fingerprints first).
pub fn read_extra(dir: &Path) -> anyhow::Result<RunExtra> {
    let meta = checkpoint::load_meta(dir)?;
    serde_json::from_value(meta.extra).context("meta.json: not a candlecast run")
}

/// The run in `dir` as a trainer with its tokenizer, to continue (`schedule`
/// `None`: its own saved state) or to fine-tune (`Some`: a new schedule).
pub fn load_trainer(
    dir: &Path,
    extra: &RunExtra,
    schedule: Option<TrainConfig>,
) -> anyhow::Result<(Trainer, Tokenizer)> {
    let tok = Tokenizer::from_json(&extra.tokenizer.to_string(), &dir.join(META_FILE))?;
    let (trainer, _) = checkpoint::load_trainer(dir, schedule, &Device::Cpu)?;
    Ok((trainer, tok))
}

/// The model and tokenizer `train` is about to train agree (vocabulary, extra
/// inputs); worded for the run being written to `out`, which is what the user
/// named, whichever folder the weights came from.
pub fn check_trainable(model: &Gpt, tok: &Tokenizer, out: &Path) -> anyhow::Result<()> {
    if model.config().vocab_size != tok.vocab_size() {
        bail!(
            "the model's vocabulary ({}) does not match its tokenizer's ({})",
            model.config().vocab_size,
            tok.vocab_size()
        );
    }
    candlecast_forecast::check_inputs(model, tok).with_context(|| {
        format!(
            "{}: the model and its tokenizer disagree on the extra inputs",
            out.display()
        )
    })
}
