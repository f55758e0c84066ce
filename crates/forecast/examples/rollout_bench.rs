//! Issue 6's forecasting benchmark: S sample paths x H steps for N series with the
//! `small.toml` model (d_model 128, 4 heads, 4 layers, max_ctx 64; random weights,
//! seeded: throughput does not depend on what the weights learned), once through
//! the KV cache and once re-running the whole window at every step, same work,
//! same process. Prints bar-steps/s (series x samples x steps per second).
//!
//!   cargo run --release -p candlecast-forecast --example rollout_bench -- \
//!       [--series 100] [--samples 64] [--horizon 24] [--context 40] [--chunk 10]
//!       [--skip-uncached]
//!
//! The context defaults to max_ctx - horizon so that neither mode slides its window.
//! `--chunk` series go through one `rollout` call (one batch of chunk x samples
//! rows), in both modes: the uncached mode materialises attention over the whole
//! window for every row at every step, and 6,400 rows at once exhausted 24 GB.

use candle_core::{Device, Tensor};
use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_forecast::{origin_at_end, rollout, ForecastParams};
use candlecast_gpt::{Gpt, GptConfig, Rng, Sampling};
use candlecast_tokenize::stats::token_counts;
use candlecast_tokenize::{Tokenizer, TokenizerConfig};
use std::time::Instant;

fn walk(seed: u64, n: usize) -> Series {
    let mut rng = Rng::new(seed);
    let mut c = 100.0f64;
    let bars: Vec<Bar> = (0..n)
        .map(|i| {
            let o = c;
            c = o * (0.01 * rng.normal()).exp();
            Bar {
                ts: Timestamp(1_600_000_000_000 + i as i64 * 3_600_000),
                open: o,
                high: o.max(c) * (1.0 + 0.002 * rng.uniform()),
                low: o.min(c) * (1.0 - 0.002 * rng.uniform()),
                close: c,
                volume: 1.0,
            }
        })
        .collect();
    match Series::from_bars(None, SourceZone::Utc, &bars) {
        Ok(s) => s,
        Err(e) => unreachable!("generated bars are valid: {e}"),
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, samples, horizon) = (
        arg("--series", 100),
        arg("--samples", 64),
        arg("--horizon", 24),
    );
    let series: Vec<Series> = (0..n as u64).map(|i| walk(i + 1, 400)).collect();
    let tok = Tokenizer::fit(&TokenizerConfig::default(), &series)?;
    // small.toml's [model]: tiny's block, twice as wide and deep.
    let cfg = GptConfig {
        d_model: 128,
        n_layer: 4,
        ..GptConfig::tiny(tok.vocab_size())
    };
    let context = arg("--context", cfg.max_ctx.saturating_sub(horizon).max(1));
    let (model, vars) = Gpt::init(&cfg, 42, &Device::Cpu)?;
    // Random weights give near-uniform logits, which sample the tail bins every
    // ~30 steps, and vol-scaled feedback then explodes the path. The head bias set
    // to log unigram frequencies makes the model a plausible forecaster.
    let mut counts = vec![0u64; tok.vocab_size()];
    for s in &series {
        let c = token_counts(tok.encode(s).tokens.iter(), tok.vocab_size());
        counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
    }
    let bias: Vec<f32> = counts.iter().map(|&c| ((c as f32) + 0.01).ln()).collect();
    for (name, v) in vars.data().lock().map_err(|e| e.to_string())?.iter() {
        if name == "head.bias" {
            v.set(&Tensor::from_vec(bias.clone(), bias.len(), &Device::Cpu)?)?;
        }
    }
    let origins = series
        .iter()
        .enumerate()
        .map(|(i, s)| origin_at_end(&model, &tok, &format!("s{i}"), s, context, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let p = ForecastParams {
        context_length: context,
        horizon,
        num_samples: samples,
        sampling: Sampling::default(),
        seed: 0,
    };
    let work = (n * samples * horizon) as f64;
    let chunk = arg("--chunk", 10).max(1);
    println!(
        "{n} series x {samples} samples x {horizon} steps, context {context}, {chunk} series per batch, threads {}",
        std::env::var("CANDLE_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    let mut modes = vec![("cached", false)];
    if !std::env::args().any(|a| a == "--skip-uncached") {
        modes.push(("uncached", true));
    }
    let mut first = None;
    for (label, uncached) in modes {
        let t = Instant::now();
        let mut paths = Vec::with_capacity(origins.len());
        for part in origins.chunks(chunk) {
            paths.extend(rollout(&model, &tok, part, &p, uncached)?);
        }
        let secs = t.elapsed().as_secs_f64();
        let checksum: f64 = paths
            .iter()
            .flat_map(|p| p.paths.iter().filter_map(|x| x.last()))
            .map(|b| b.close)
            .sum();
        println!(
            "{label:>9}: {secs:8.2} s  {:10.0} bar-steps/s  (checksum {checksum:.6})",
            work / secs
        );
        match first {
            None => first = Some(secs),
            Some(c) => println!("cache speed-up: {:.1}x", secs / c),
        }
    }
    Ok(())
}
