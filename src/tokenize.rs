//! `candlecast tokenize`: fit a tokenizer per file on the first part of each series
//! and report how the tokens look on the rest.

use crate::args::TokenizeArgs;
use anyhow::Context;
use candlecast_data::{read_path, resample, Series};
use candlecast_tokenize::stats::{entropy_bits, reconstruction, unigram_cross_entropy_bits};
use candlecast_tokenize::{Encoded, Tokenizer, TokenizerConfig};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

/// What one file tokenizes to. "Test" is the last part of every series (20% by
/// default), which the tokenizer was not fitted on.
#[derive(Serialize)]
struct FileReport {
    file: String,
    series: usize,
    bars: usize,
    train_bars: usize,
    test_bars: usize,
    vocab_size: usize,
    /// Distinct ids among all the file's tokens.
    tokens_used: usize,
    /// Distinct ids among the test tokens.
    tokens_used_test: usize,
    /// Gap tokens in the file.
    gaps: usize,
    /// Entropy of the test tokens' empirical distribution, bits per token.
    test_entropy_bits: f64,
    /// Cross-entropy of the test tokens under the training token frequencies with
    /// add-one (Laplace) smoothing over the whole vocabulary, bits per token: the
    /// unigram baseline a sequence model has to beat.
    unigram_cross_entropy_bits: f64,
    /// RMSE of the representative-decoded close log-return (from the true previous
    /// close) minus the true one, over the test bars, in scale units.
    return_rmse: f64,
    /// Mean of the same error.
    return_bias: f64,
    /// Share of test bars whose return fell in a tail bin.
    tail_share: f64,
}

pub fn run(args: &TokenizeArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => TokenizerConfig::from_toml_file(path)?,
        None => TokenizerConfig::default(),
    };
    let opts = args.read.options();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !args.json {
        writeln!(
            out,
            "{:<40} {:>7} {:>6} {:>6} {:>5} {:>8} {:>8} {:>7} {:>8} {:>6}",
            "file", "bars", "test", "vocab", "used", "entropy", "unigram", "rmse", "bias", "tail%"
        )?;
    }
    for path in &crate::inputs::expand_inputs(&args.input)? {
        let name = path.display().to_string();
        let ds = read_path(path, &opts).map_err(|e| anyhow::anyhow!(e))?;
        let mut series = ds.panel.series;
        if let Some(every) = args.read.resample {
            series = series
                .iter()
                .map(|s| resample(s, every))
                .collect::<Result<_, _>>()
                .with_context(|| name.clone())?;
        }
        let report = tokenize_file(&name, &series, &config, args.train_fraction)?;
        if args.json {
            serde_json::to_writer(&mut out, &report).context("writing JSON")?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:<40} {:>7} {:>6} {:>6} {:>5} {:>8.3} {:>8.3} {:>7.4} {:>+8.4} {:>6.3}",
                report.file,
                report.bars,
                report.test_bars,
                report.vocab_size,
                report.tokens_used,
                report.test_entropy_bits,
                report.unigram_cross_entropy_bits,
                report.return_rmse,
                report.return_bias,
                100.0 * report.tail_share
            )?;
        }
    }
    if !args.json {
        let pct = (100.0 * (1.0 - args.train_fraction)).round();
        writeln!(
            out,
            "  fitted on the first {}% of each series; test = the last {pct}%.\n  \
             used: distinct token ids in the file. entropy: of the test tokens, bits/token. \
             unigram: cross-entropy of the test tokens\n  under the training token \
             frequencies, add-one (Laplace) smoothed, bits/token (the baseline a model must \
             beat).\n  rmse, bias: representative-decoded minus true close log-return of the \
             test bars, in scale units.\n  tail%: test bars in the two tail return bins.",
            100.0 - pct
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn tokenize_file(
    name: &str,
    series: &[Series],
    config: &TokenizerConfig,
    train_fraction: f64,
) -> anyhow::Result<FileReport> {
    let split = |s: &Series| ((s.len() as f64) * train_fraction).floor() as usize;
    let train: Vec<Series> = series.iter().map(|s| s.slice(0..split(s))).collect();
    let tok = Tokenizer::fit(config, &train).with_context(|| name.to_string())?;
    let vocab = tok.vocab_size();
    let encoded: Vec<Encoded> = series.iter().map(|s| tok.encode(s)).collect();

    let (mut train_counts, mut test_counts, mut all_counts) =
        (vec![0u64; vocab], vec![0u64; vocab], vec![0u64; vocab]);
    let (mut n, mut sum_sq, mut sum, mut tails) = (0usize, 0.0f64, 0.0f64, 0.0f64);
    let mut gaps = 0;
    for (s, enc) in series.iter().zip(&encoded) {
        let cut = split(s);
        for (t, &bar) in enc.tokens.iter().zip(&enc.bar) {
            let counts = if (bar as usize) < cut {
                &mut train_counts
            } else {
                &mut test_counts
            };
            for c in [counts, &mut all_counts] {
                if let Some(c) = c.get_mut(t.0 as usize) {
                    *c += 1;
                }
            }
            gaps += usize::from(*t == candlecast_tokenize::TokenId::GAP);
        }
        let r = reconstruction(&tok, s, enc, cut..s.len());
        let k = r.bars as f64;
        n += r.bars;
        sum_sq += k * r.rmse * r.rmse;
        sum += k * r.bias;
        tails += k * r.tail_share;
    }
    let used = |c: &[u64]| c.iter().filter(|&&x| x > 0).count();
    let nf = (n as f64).max(1.0);
    Ok(FileReport {
        file: name.to_string(),
        series: series.len(),
        bars: series.iter().map(Series::len).sum(),
        train_bars: series.iter().map(split).sum(),
        test_bars: series.iter().map(|s| s.len() - split(s)).sum(),
        vocab_size: vocab,
        tokens_used: used(&all_counts),
        tokens_used_test: used(&test_counts),
        gaps,
        test_entropy_bits: entropy_bits(&test_counts),
        unigram_cross_entropy_bits: unigram_cross_entropy_bits(&train_counts, &test_counts),
        return_rmse: (sum_sq / nf).sqrt(),
        return_bias: sum / nf,
        tail_share: tails / nf,
    })
}
