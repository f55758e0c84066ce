//! Errors of the GPT crate.

/// Everything building, running, training or loading the model can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GptError {
    /// A model, training or sampling setting out of range (a user's TOML or flag).
    #[error("invalid model config: {0}")]
    Config(String),
    /// Weights or optimiser state that do not fit the config they are loaded with.
    #[error("weights do not fit the model: {0}")]
    Weights(String),
    /// Training data the trainer cannot use (too short, or inputs of the wrong size).
    #[error("training data: {0}")]
    Data(String),
    /// A call whose arguments do not fit the model or its cache (shapes, positions,
    /// batch sizes): a caller's bug rather than a user's input.
    #[error("invalid call: {0}")]
    Call(String),
    /// The training loss stopped being finite; a lower learning rate usually helps.
    #[error("training diverged at step {step} (loss {loss}); lower lr")]
    Diverged { step: u64, loss: f64 },
    /// A variable with no gradient after the backward pass: the graph was cut (an op
    /// without backward, see NOTES.md), so training would silently freeze it.
    #[error("no gradient reached '{0}'")]
    NoGradient(String),
    /// Another thread panicked while holding the variables' lock.
    #[error("the variable map's lock is poisoned (a thread panicked while training)")]
    LockPoisoned,
    /// A training callback asked to stop (the CLI's time limits, tests).
    #[error("stopped: {0}")]
    Stopped(String),
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
