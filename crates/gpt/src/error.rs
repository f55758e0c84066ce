//! Errors of the GPT crate.

/// Everything building, running, training or loading the model can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GptError {
    #[error("invalid model config: {0}")]
    Config(String),
    #[error("token id {token} is outside the vocabulary (size {vocab})")]
    TokenOutOfRange { token: u32, vocab: usize },
    #[error("input id {id} of channel {channel} ('{name}') is outside its table (size {size})")]
    InputOutOfRange {
        channel: usize,
        name: String,
        id: u32,
        size: usize,
    },
    #[error("{len} positions exceed the model's context of {max}")]
    ContextOverflow { len: usize, max: usize },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    /// Weights and `meta.json` written by two different runs: see [`RunMismatch`].
    /// Boxed to keep `GptError` (and the errors that wrap it) small.
    #[error(transparent)]
    RunMismatch(Box<RunMismatch>),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Weights and `meta.json` written by two different runs (a weights file copied
/// from another run folder): the tokenizer in `meta.json` would read the weights'
/// tokens with other meanings, a wrong forecast rather than an error, so it is
/// refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "{weights} and {meta} come from different runs: the weights carry run fingerprint {}, \
     {meta} records {meta_run}; copy a run's weights and its meta.json together \
     (or retrain)",
    weights_run.as_deref().unwrap_or("none")
)]
pub struct RunMismatch {
    /// The weights file.
    pub weights: String,
    /// The run's `meta.json`.
    pub meta: String,
    /// The fingerprint in the weights' header; `None` for weights written before
    /// runs carried fingerprints.
    pub weights_run: Option<String>,
    /// The fingerprint `meta.json` records.
    pub meta_run: String,
}

pub type Result<T> = std::result::Result<T, GptError>;
