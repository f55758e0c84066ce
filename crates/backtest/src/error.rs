//! Errors of the backtest crate.

use std::path::PathBuf;

/// An error of a refitter (the trainer's, or a test's own), kept whole as the
/// source of [`BacktestError::Refit`]; here rather than beside the refitters so
/// that this module names nothing of the strategies that return it.
pub type RefitError = Box<dyn std::error::Error + Send + Sync>;

/// Everything configuring, running or reporting a backtest can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A strategy spec (`--strategy`) that does not parse; `spec` is what was typed.
    #[error("strategy '{spec}': {message}")]
    Spec { spec: String, message: String },
    /// A broker setting out of range (negative cash, commission of 10% or more, ...).
    #[error("{0}")]
    Config(String),
    #[error("the backtest window has no bars: {0}")]
    EmptyWindow(String),
    #[error(
        "the model's vocabulary ({model} tokens) does not match its tokenizer's \
         ({tokenizer} tokens): the model was trained with another tokenizer"
    )]
    ModelTokenizerMismatch { model: usize, tokenizer: usize },
    #[error("forecast at bar {bar} ({ts}): {source}")]
    Forecast {
        bar: usize,
        ts: String,
        #[source]
        source: candlecast_forecast::ForecastError,
    },
    /// A walk-forward refit failed (see [`crate::Refitting`]).
    #[error("refit at bar {bar} ({ts}): {source}")]
    Refit {
        bar: usize,
        ts: String,
        #[source]
        source: RefitError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Output { path: PathBuf, message: String },
    #[error("drawing the report: {0}")]
    Plot(String),
}

impl BacktestError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BacktestError {
        let path = path.into();
        move |source| BacktestError::Io { path, source }
    }
}
