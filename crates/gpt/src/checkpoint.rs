//! Checkpoints: `model.safetensors` (weights), `optimizer.safetensors` (moments)
//! and `meta.json` (configs, training state, whatever the caller adds: tokenizer,
//! data fingerprints). Each file is written to a temporary name and renamed, and
//! `meta.json` goes last, so a reader never sees a half-written file.
//!
//! A run's files carry one fingerprint (`Meta::fingerprint`, and the same string
//! under [`RUN_KEY`] in each weights file's safetensors header), so weights copied in
//! from another run are refused at load instead of being read with a tokenizer they
//! were not trained with.

use crate::config::GptConfig;
use crate::error::{GptError, Result, RunMismatch};
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

/// The weights' moving average of an unfinished run with `ema` on (a finished
/// run's model file holds the average it kept).
pub const EMA_FILE: &str = "ema.safetensors";
/// Bumped when the layout of a checkpoint changes. The run fingerprint did not bump
/// it: it is an optional field, and a version 1 checkpoint without one still loads.
pub const CHECKPOINT_VERSION: u32 = 1;
/// The key of the run fingerprint in a weights file's safetensors `__metadata__`.
pub const RUN_KEY: &str = "candlecast.run";

/// `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub version: u32,
    pub crate_version: String,
    /// Names the run (`run_fingerprint`); every weights file the run writes carries
    /// the same string in its header, and loading compares the two, so a
    /// `model.safetensors` from another run (even one with the same vocabulary size)
    /// is refused. An identity rather than a hash of the weights' bytes: a save cut
    /// short between the weights and this file leaves weights of the same run, which
    /// `--resume` should take as it always has. `None` in checkpoints written before
    /// fingerprints existed: they load unchecked (there is nothing to compare, and
    /// refusing them would strand every earlier run; the vocabulary and shape checks
    /// still apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
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

/// The fingerprint of a new run: 64-bit FNV-1a (hex) of its model config, training
/// config and the caller's `extra` (tokenizer, data fingerprints), as JSON with sorted
/// keys. Derived rather than random so the same command writes the same bytes
/// (bench/base_model.sh checks the shipped model that way); two runs that differ in
/// tokenizer, data, config or seed get different fingerprints, and identical runs
/// train identical weights. `checkpoint_every` is left out: how often a run is saved
/// changes nothing in its weights, and a run cut short and resumed must end with the
/// bytes of an uninterrupted one.
pub fn run_fingerprint(
    model: &GptConfig,
    train: &TrainConfig,
    extra: &serde_json::Value,
) -> Result<String> {
    let to_value = |v: serde_json::Result<serde_json::Value>| {
        v.map_err(|e| GptError::Config(format!("run fingerprint: {e}")))
    };
    let mut text = String::new();
    canonical_json(&to_value(serde_json::to_value(model))?, &mut text);
    let mut train = to_value(serde_json::to_value(train))?;
    if let Some(fields) = train.as_object_mut() {
        fields.remove("checkpoint_every");
    }
    canonical_json(&train, &mut text);
    canonical_json(extra, &mut text);
    Ok(format!(
        "{:016x}",
        candlecast_rand::fnv1a64(text.as_bytes())
    ))
}

/// JSON with every object's keys sorted, whatever order the value was built or read
/// in (serde_json keeps insertion order when a dependency turns on `preserve_order`).
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = map.get(k) {
                    canonical_json(x, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(x, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Writes `tensors` as safetensors with the run `fingerprint` in the header,
/// atomically. The tensors' bytes are those candle's own `save` writes; only the
/// header gains the `__metadata__` entry.
pub fn save_weights(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    fingerprint: &str,
) -> Result<()> {
    let info = HashMap::from([(RUN_KEY.to_string(), fingerprint.to_string())]);
    let bytes = safetensors::serialize(tensors, Some(info))
        .map_err(|e| ck_err(path, format!("cannot write weights: {e}")))?;
    write_atomic(path, &bytes)
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
    let fingerprint = match &trainer.fingerprint {
        Some(f) => f.clone(),
        None => run_fingerprint(trainer.model.config(), &trainer.cfg, extra)?,
    };
    save_weights(&dir.join(MODEL_FILE), &weights, &fingerprint)?;
    save_weights(
        &dir.join(OPTIMIZER_FILE),
        &trainer.opt.state(),
        &fingerprint,
    )?;
    let best_path = dir.join(BEST_FILE);
    match &trainer.best {
        Some(best) if !trainer.state.finished(&trainer.cfg) => {
            save_weights(&best_path, best, &fingerprint)?
        }
        _ => remove_if_there(&best_path)?,
    }
    let ema_path = dir.join(EMA_FILE);
    match &trainer.ema {
        Some(e) if !trainer.state.finished(&trainer.cfg) => {
            save_weights(&ema_path, e.weights(), &fingerprint)?
        }
        _ => remove_if_there(&ema_path)?,
    }
    let meta = Meta {
        version: CHECKPOINT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        fingerprint: Some(fingerprint),
        model: trainer.model.config().clone(),
        train: trainer.cfg.clone(),
        state: trainer.state.clone(),
        extra: extra.clone(),
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| ck_err(dir, e.to_string()))?;
    write_atomic(&dir.join(META_FILE), &json)
}

fn remove_if_there(path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_file(path).map_err(|source| GptError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
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

/// Loads a weights file (`read_weights`) and checks that it comes from the run
/// `meta` (in `dir`) describes.
fn load_tensors(
    dir: &Path,
    meta: &Meta,
    path: &Path,
    expected_floats: usize,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let (tensors, fingerprint) = read_weights(path, expected_floats, device)?;
    match &meta.fingerprint {
        // Written before fingerprints: nothing to compare (see `Meta::fingerprint`).
        None => Ok(tensors),
        Some(f) if fingerprint.as_deref() == Some(f.as_str()) => Ok(tensors),
        Some(f) => Err(GptError::RunMismatch(Box::new(RunMismatch {
            weights: path.display().to_string(),
            meta: dir.join(META_FILE).display().to_string(),
            weights_run: fingerprint,
            meta_run: f.clone(),
        }))),
    }
}

/// A weights file's tensors and the run fingerprint in its header (`None` for files
/// written before fingerprints). Its size is checked first against `expected_floats`
/// (4 bytes each, plus 1 MiB of header), so a hostile or corrupt file cannot make us
/// allocate more than the model's size.
pub fn read_weights(
    path: &Path,
    expected_floats: usize,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, Option<String>)> {
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
    let bytes = std::fs::read(path).map_err(|source| GptError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| ck_err(path, format!("unreadable weights: {e}")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| ck_err(path, format!("unreadable weights: {e}")))?;
    let fingerprint = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(RUN_KEY))
        .cloned();
    Ok((tensors, fingerprint))
}

/// Loads a model for inference.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Gpt, Meta)> {
    let meta = load_meta(dir)?;
    let path = dir.join(MODEL_FILE);
    let tensors = load_tensors(dir, &meta, &path, meta.model.n_params(), device)?;
    let model = Gpt::from_tensors(&meta.model, tensors, device)
        .map_err(|e| ck_err(&path, e.to_string()))?;
    Ok((model, meta))
}

/// Restores a trainer to continue (`--resume`) or to fine-tune from (`--init`, with
/// a new `train` config and a fresh optimiser and state). Every weights file read
/// must carry the run's fingerprint; a fine-tune is a new run and gets its own.
pub fn load_trainer(
    dir: &Path,
    train: Option<TrainConfig>,
    device: &Device,
) -> Result<(Trainer, Meta)> {
    let meta = load_meta(dir)?;
    let path = dir.join(MODEL_FILE);
    let tensors = load_tensors(dir, &meta, &path, meta.model.n_params(), device)?;
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
            // The same run continues: its later checkpoints keep its fingerprint.
            trainer.fingerprint = meta.fingerprint.clone();
            let opt_path = dir.join(OPTIMIZER_FILE);
            let state = load_tensors(dir, &meta, &opt_path, 2 * meta.model.n_params(), device)?;
            trainer
                .opt
                .load_state(state, meta.state.step)
                .map_err(|e| ck_err(&opt_path, e.to_string()))?;
            trainer.state = meta.state.clone();
            let best_path = dir.join(BEST_FILE);
            if best_path.exists() {
                trainer.best = Some(load_tensors(
                    dir,
                    &meta,
                    &best_path,
                    meta.model.n_params(),
                    device,
                )?);
            }
            if let Some(e) = &mut trainer.ema {
                let ema_path = dir.join(EMA_FILE);
                if !ema_path.exists() && meta.state.step > 0 {
                    return Err(ck_err(
                        dir,
                        format!("the run averages its weights (ema) but has no {EMA_FILE}"),
                    ));
                }
                if ema_path.exists() {
                    let w = load_tensors(dir, &meta, &ema_path, meta.model.n_params(), device)?;
                    *e = crate::ema::Ema::from_weights(w, meta.train.ema);
                }
            }
            Ok((trainer, meta))
        }
    }
}
