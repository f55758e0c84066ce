//! The `candlecast` command line: argument parsing and wiring; the work happens in
//! the library crates.

mod args;
mod backtest;
mod base;
mod demo;
mod evaluate;
mod forecast;
mod inputs;
mod inspect;
mod output;
mod progress;
mod refit;
mod run_dir;
mod synth;
mod tokenize;
mod train;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc keeps freed memory for reuse; glibc's malloc mmaps, zero-fills and unmaps
/// every large temporary tensor, which cost training 59% of its cycles in page faults
/// (BENCHMARKS.md, "GPT (issue 5)").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `purge_delay` (the same value in its v2 and v3 C headers, which
/// keep option numbers stable).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never return freed memory to the OS: a training step frees and reallocates the same
/// large tensors every few seconds, and mimalloc's default (purge after 1 s) made each
/// step page-fault them in again (5-8 s of system time per 8 steps, against 0.7 s).
fn keep_freed_memory() {
    // SAFETY: sets one integer option; called first thing in `main`, before any other
    // thread exists (`mi_option_set` is not thread-safe).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// candle's element-wise kernels on one thread unless `CANDLE_NUM_THREADS` says
/// otherwise (gemm keeps every rayon thread). Its pool busy-waits for its workers, and
/// the base model's activations are exactly its 65,536-element threshold: with one
/// other busy process on a 2-core machine, training the base model on 2 threads ran at
/// 10.7-13.1k tokens/s with two element-wise threads and 21k with one; quiet, one costs
/// 3-4% (BENCHMARKS.md, "Training at the shipped base config"). Results do not depend
/// on it.
fn element_wise_on_one_thread() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // Called first thing in `main`, before any other thread exists.
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    element_wise_on_one_thread();
    let cli = args::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`candlecast inspect ... | head`) is not a failure.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Command::Inspect(a) => inspect::run(&a),
        args::Command::Tokenize(a) => tokenize::run(&a),
        args::Command::Train(a) => train::run(&a),
        args::Command::Synth(a) => synth::run(&a),
        args::Command::Evaluate(a) => evaluate::run(&a),
        args::Command::Forecast(a) => forecast::run(&a),
        args::Command::Backtest(a) => backtest::run(&a),
        args::Command::Demo(a) => demo::run(&a),
    }
}
