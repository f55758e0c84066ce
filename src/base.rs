//! The shipped base model (`models/base/`, built into the binary) and loading a run
//! by name: `--model` left out or `--model base` means the base model, as Chronos
//! or Kronos users start from a downloaded checkpoint instead of training first.

use anyhow::Context;
use candlecast_gpt::checkpoint::{META_FILE, MODEL_FILE};
use std::path::{Path, PathBuf};

/// What `--model` / `--init` accept for the shipped model. A run folder that is
/// itself called `base` is reached as `./base`.
pub const BASE: &str = "base";

const BASE_META: &[u8] = include_bytes!("../models/base/meta.json");
const BASE_WEIGHTS: &[u8] = include_bytes!("../models/base/model.safetensors");

/// FNV-1a of the embedded files: names the folder they are written to, so two
/// builds with different base models never share one.
fn base_hash() -> u64 {
    let mut h = candlecast_rand::Fnv1a64::new();
    h.write(BASE_META);
    h.write(BASE_WEIGHTS);
    h.finish()
}

/// The base model as a run folder: the embedded files, written once under the
/// system's temporary directory (atomically, and rewritten if anything there differs
/// from the embedded bytes), so every loader reads it like any other run.
pub fn base_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "candlecast-base-{}-{:016x}",
        env!("CARGO_PKG_VERSION"),
        base_hash()
    ));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    for (name, bytes) in [(MODEL_FILE, BASE_WEIGHTS), (META_FILE, BASE_META)] {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(bytes) {
            // A temporary name per process: two first runs at once each rename a
            // whole file into place.
            let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes).with_context(|| tmp.display().to_string())?;
            std::fs::rename(&tmp, &path).with_context(|| path.display().to_string())?;
        }
    }
    Ok(dir)
}

/// The run folder `--model`/`--init` names: the base model when left out or `base`.
pub fn resolve(model: Option<&Path>) -> anyhow::Result<PathBuf> {
    match model {
        Some(p) if p.as_os_str() != BASE => Ok(p.to_path_buf()),
        _ => base_dir(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_dir::load_run;
    use candle_core::Device;
    use candlecast_gpt::checkpoint;

    #[test]
    fn the_embedded_base_model_loads_and_is_rewritten_when_damaged() {
        let dir = resolve(None).unwrap();
        assert_eq!(dir, resolve(Some(Path::new("base"))).unwrap());
        assert_eq!(
            resolve(Some(Path::new("./base"))).unwrap(),
            PathBuf::from("./base")
        );
        let run = load_run(&dir).unwrap();
        assert_eq!(run.model.config().vocab_size, run.tok.vocab_size());
        // A damaged copy on disk is replaced by the embedded bytes.
        std::fs::write(dir.join(MODEL_FILE), b"garbage").unwrap();
        let again = resolve(None).unwrap();
        assert_eq!(std::fs::read(again.join(MODEL_FILE)).unwrap(), BASE_WEIGHTS);
    }

    /// The fingerprint `train` gives a run: of its configs and its `extra` as `train`
    /// writes it, before bench/base_model.sh adds the calibrated temperature.
    fn train_fingerprint(meta: &checkpoint::Meta) -> String {
        let mut extra = meta.extra.clone();
        extra.as_object_mut().unwrap().remove("temperature");
        checkpoint::run_fingerprint(&meta.model, &meta.train, &extra).unwrap()
    }

    /// The shipped model carries the fingerprint a retrain by bench/base_model.sh
    /// writes (so `CHECK=1` still compares equal bytes), in meta.json and in the
    /// weights' header (else `load_run` above refuses it).
    #[test]
    fn the_base_model_carries_its_run_fingerprint() {
        let meta = checkpoint::load_meta(&base_dir().unwrap()).unwrap();
        assert_eq!(meta.fingerprint, Some(train_fingerprint(&meta)));
    }

    /// The one-off that stamped `models/base/` with its run fingerprint (issue 19)
    /// without retraining: re-saves the same tensors through
    /// `checkpoint::save_weights` with the fingerprint `train` would have written,
    /// and prints it; meta.json then gains `"fingerprint"` after `crate_version`
    /// (the order `train` writes), formatted by the same json.dumps(indent=2) as
    /// bench/base_model.sh. Kept to document the method; rerunning it rewrites the
    /// same bytes.
    #[test]
    #[ignore]
    fn stamp_the_base_model() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/base");
        let meta = checkpoint::load_meta(&dir).unwrap();
        let path = dir.join(MODEL_FILE);
        let (tensors, _) =
            checkpoint::read_weights(&path, meta.model.n_params(), &Device::Cpu).unwrap();
        let fingerprint = train_fingerprint(&meta);
        checkpoint::save_weights(&path, &tensors, &fingerprint).unwrap();
        println!("fingerprint {fingerprint}");
    }
}
