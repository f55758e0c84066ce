//! Save and load: versioned JSON, written atomically.
//!
//! ```json
//! {"format": "candlecast-tokenizer", "version": 1, "tokenizer": {...}}
//! ```
//! The header is read first, so a file from another version gets a version error
//! rather than a confusing field error; the body is then checked like any untrusted
//! input before it is used.
//!
//! Files written before the `scale` option have no `tokenizer.config.scale` key;
//! they were fitted and trained with the plain EWMA scale, so they load as
//! `scale = "ewma"` (not as the config default, which is the reverting scale).

use crate::error::TokenizeError;
use crate::tokenizer::{State, Tokenizer};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

const FORMAT: &str = "candlecast-tokenizer";

/// The version `save` writes and `load` reads.
pub const FORMAT_VERSION: u64 = 1;

/// The scale of a saved tokenizer without a `scale` key: the only one there was.
const LEGACY_SCALE: &str = "ewma";

/// A saved tokenizer is a few kilobytes; anything far larger is not one.
const MAX_FILE_BYTES: u64 = 16 << 20;

#[derive(Serialize)]
struct SavedRef<'a> {
    format: &'static str,
    version: u64,
    tokenizer: &'a State,
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u64,
    tokenizer: State,
}

impl Tokenizer {
    /// The saved form as a JSON string.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(&SavedRef {
            format: FORMAT,
            version: FORMAT_VERSION,
            tokenizer: &self.state,
        })
    }

    /// A tokenizer from [`Tokenizer::to_json`] text; `path` only names the source
    /// in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Tokenizer, TokenizeError> {
        let format_err = |message: String| TokenizeError::Format {
            path: path.to_path_buf(),
            message,
        };
        let header: Header = serde_json::from_str(text).map_err(|e| format_err(e.to_string()))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(format_err(format!("\"format\" is not \"{FORMAT}\"")));
        }
        match header.version {
            Some(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(TokenizeError::Version {
                    path: path.to_path_buf(),
                    found,
                    expected: FORMAT_VERSION,
                })
            }
            None => return Err(format_err("no \"version\"".into())),
        }
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format_err(e.to_string()))?;
        if let Some(config) = value
            .get_mut("tokenizer")
            .and_then(|t| t.get_mut("config"))
            .and_then(|c| c.as_object_mut())
        {
            config
                .entry("scale")
                .or_insert_with(|| serde_json::Value::from(LEGACY_SCALE));
        }
        let saved: Saved = serde_json::from_value(value).map_err(|e| format_err(e.to_string()))?;
        Tokenizer::from_state(saved.tokenizer).map_err(format_err)
    }

    /// Writes the tokenizer to `path` atomically: a temporary file in the same
    /// folder, flushed to disk, then renamed over `path`.
    pub fn save(&self, path: &Path) -> Result<(), TokenizeError> {
        let io = |source| TokenizeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tokenizer.json".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(self.to_json().map_err(std::io::Error::other)?.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Reads a tokenizer written by [`Tokenizer::save`], checking the format,
    /// the version, the size and every field before use.
    pub fn load(path: &Path) -> Result<Tokenizer, TokenizeError> {
        let io = |source| TokenizeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE_BYTES {
            return Err(TokenizeError::Format {
                path: path.to_path_buf(),
                message: format!("{len} bytes; a saved tokenizer is far smaller"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Tokenizer::from_json(&text, path)
    }
}
