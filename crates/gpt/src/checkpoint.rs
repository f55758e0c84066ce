//! Checkpoints: `model.safetensors` (weights), `optimizer.safetensors` (moments)
//! and `meta.json` (configs, training state, whatever the caller adds: tokenizer,
//! data fingerprints). Each file is written to a temporary name and renamed, and
//! `meta.json` goes last, so a reader never sees a half-written file.

use crate::config::GptConfig;
use crate::error::{GptError, Result};
use crate::model::Gpt;
use crate::train::{TrainConfig, TrainState, Trainer};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const META_FILE: &str = "meta.json";
/// The best-validation weights of an unfinished run (a finished run's model file
/// holds them, and this file is removed).
pub const BEST_FILE: &str = "best.safetensors";
/// Bumped when the layout of a checkpoint changes.
pub const CHECKPOINT_VERSION: u32 = 1;

/// `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub version: u32,
    pub crate_version: String,
    pub model: GptConfig,
    pub train: TrainConfig,
    pub state: TrainState,
    /// The caller's own sections (tokenizer state, data fingerprints, ...).
    pub extra: serde_json::Value,
}

fn ck_err(path: &Path, message: impl Into<String>) -> GptError {
    GptError::Checkpoint {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let io = |source| GptError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

fn save_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let tmp = tmp_path(path);
    candle_core::safetensors::save(tensors, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|source| GptError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Saves a trainer's complete state into `dir`.
pub fn save(dir: &Path, trainer: &Trainer, extra: &serde_json::Value) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| GptError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let weights: HashMap<String, Tensor> = {
        let data = trainer
            .varmap
            .data()
            .lock()
            .map_err(|_| ck_err(dir, "variable map lock poisoned"))?;
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    save_tensors(&dir.join(MODEL_FILE), &weights)?;
    save_tensors(&dir.join(OPTIMIZER_FILE), &trainer.opt.state())?;
    let best_path = dir.join(BEST_FILE);
    match &trainer.best {
        Some(best) if !trainer.state.finished(&trainer.cfg) => save_tensors(&best_path, best)?,
        _ => {
            if best_path.exists() {
                std::fs::remove_file(&best_path).map_err(|source| GptError::Io {
                    path: best_path.display().to_string(),
                    source,
                })?;
            }
        }
    }
    let meta = Meta {
        version: CHECKPOINT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        model: trainer.model.config().clone(),
        train: trainer.cfg.clone(),
        state: trainer.state.clone(),
        extra: extra.clone(),
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| ck_err(dir, e.to_string()))?;
    write_atomic(&dir.join(META_FILE), &json)
}

/// Reads and checks `meta.json`.
pub fn load_meta(dir: &Path) -> Result<Meta> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| GptError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let meta: Meta = serde_json::from_str(&text)
        .map_err(|e| ck_err(&path, format!("not a candlecast checkpoint: {e}")))?;
    if meta.version != CHECKPOINT_VERSION {
        return Err(ck_err(
            &path,
            format!(
                "checkpoint version {} (this build reads {CHECKPOINT_VERSION})",
                meta.version
            ),
        ));
    }
    meta.model.validate()?;
    Ok(meta)
}

/// Loads a safetensors file after checking its size against what `cfg` needs, so a
/// hostile or corrupt file cannot make us allocate more than the model's size.
fn load_tensors(
    path: &Path,
    expected_floats: usize,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let len = std::fs::metadata(path)
        .map_err(|source| GptError::Io {
            path: path.display().to_string(),
            source,
        })?
        .len();
    let max = expected_floats as u64 * 4 + (1 << 20);
    if len > max {
        return Err(ck_err(
            path,
            format!("{len} bytes, more than the {max} this model can need"),
        ));
    }
    candle_core::safetensors::load(path, device)
        .map_err(|e| ck_err(path, format!("unreadable weights: {e}")))
}

/// Loads a model for inference.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Gpt, Meta)> {
    let meta = load_meta(dir)?;
    let path = dir.join(MODEL_FILE);
    let tensors = load_tensors(&path, meta.model.n_params(), device)?;
    let model = Gpt::from_tensors(&meta.model, tensors, device)
        .map_err(|e| ck_err(&path, e.to_string()))?;
    Ok((model, meta))
}

/// Restores a trainer to continue (`--resume`) or to fine-tune from (`--init`, with
/// a new `train` config and a fresh optimiser and state).
pub fn load_trainer(
    dir: &Path,
    train: Option<TrainConfig>,
    device: &Device,
) -> Result<(Trainer, Meta)> {
    let meta = load_meta(dir)?;
    let path = dir.join(MODEL_FILE);
    let tensors = load_tensors(&path, meta.model.n_params(), device)?;
    // Build the variables from the fresh init, then overwrite every one of them.
    let (_, varmap) = Gpt::init(&meta.model, 0, device)?;
    {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| ck_err(dir, "variable map lock poisoned"))?;
        for (name, shape) in meta.model.param_shapes() {
            let t = tensors
                .get(&name)
                .ok_or_else(|| ck_err(&path, format!("lacks tensor '{name}'")))?;
            if t.dims() != shape.as_slice() {
                return Err(ck_err(
                    &path,
                    format!(
                        "tensor '{name}' has shape {:?}, expected {shape:?}",
                        t.dims()
                    ),
                ));
            }
            let var = data
                .get(&name)
                .ok_or_else(|| ck_err(&path, format!("no variable '{name}'")))?;
            var.set(t)?;
        }
    }
    let model = Gpt::new(
        &meta.model,
        candle_nn::VarBuilder::from_varmap(&varmap, candle_core::DType::F32, device),
    )?;
    match train {
        Some(cfg) => Ok((Trainer::new(model, varmap, cfg)?, meta)),
        None => {
            let mut trainer = Trainer::new(model, varmap, meta.train.clone())?;
            let opt_path = dir.join(OPTIMIZER_FILE);
            let state = load_tensors(&opt_path, 2 * meta.model.n_params(), device)?;
            trainer
                .opt
                .load_state(state, meta.state.step)
                .map_err(|e| ck_err(&opt_path, e.to_string()))?;
            trainer.state = meta.state.clone();
            let best_path = dir.join(BEST_FILE);
            if best_path.exists() {
                trainer.best = Some(load_tensors(&best_path, meta.model.n_params(), device)?);
            }
            Ok((trainer, meta))
        }
    }
}
