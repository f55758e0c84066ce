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
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, GptError>;
