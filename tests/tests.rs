//! End-to-end tests of the `candlecast` binary, one module per command.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly

mod util;

mod backtest;
mod demo;
mod evaluate;
mod forecast;
mod ingest;
mod inspect;
mod overflow;
mod overwrite;
mod scaleout;
mod signal;
mod synth;
mod tokenize;
mod train;
