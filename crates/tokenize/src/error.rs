//! The tokenizer's typed errors.

use std::path::PathBuf;

/// Everything the tokenize crate can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TokenizeError {
    /// A configuration value outside its allowed range.
    #[error("tokenizer config: {field} = {value}: {reason}")]
    Config {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A TOML config file that does not parse or has unknown keys in `[tokenizer]`.
    #[error("{}: {message}", path.display())]
    ConfigFile { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A saved tokenizer that is not valid JSON of the expected layout.
    #[error("{}: not a saved tokenizer: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// A saved tokenizer written by another format version.
    #[error("{}: tokenizer format version {found}; this build reads version {expected}", path.display())]
    Version {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    /// `fit` was given no close-to-close return to learn from.
    #[error("cannot fit a tokenizer: {0}")]
    NoTrainingData(&'static str),
    /// Fitting built a tokenizer that fails its own checks (a bug; please report).
    #[error("fitting produced an inconsistent tokenizer: {0}")]
    Inconsistent(String),
    /// A token id outside `0..vocab_size`.
    #[error("token {token} is outside the vocabulary (size {vocab_size})")]
    UnknownToken { token: u32, vocab_size: usize },
    /// `decode` needs a previous close and a scale that are finite and > 0.
    #[error("cannot decode from prev_close = {prev_close}, scale = {scale}: both must be finite and > 0")]
    DecodeInput { prev_close: f64, scale: f64 },
    /// A series in a named zone chrono-tz does not know (calendar inputs need its
    /// local time).
    #[error("unknown time zone '{0}' (the calendar inputs need the series' local time)")]
    UnknownZone(String),
    /// `encode_with_scale` was given a scale sequence that does not fit the series.
    #[error("scale sequence does not fit the series: {0}")]
    ScaleSequence(String),
}
