//! Tokenizer throughput (issue 4): encode and decode of the EURUSD 1-minute
//! HistData file for 2017 H1 (186,348 bars), in bars per second.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench tokenize`. When the shared
//! data file is missing the bench prints a note and measures nothing.

use candlecast_data::{read_path, ReadOptions, Series};
use candlecast_tokenize::{DecodeMode, SplitMix64, Tokenizer, TokenizerConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/eurusd_1m_histdata_2017h1.csv"
);

fn load() -> Result<Series, String> {
    let ds = read_path(Path::new(DATA), &ReadOptions::default()).map_err(|e| e.to_string())?;
    ds.panel
        .series
        .into_iter()
        .next()
        .ok_or_else(|| "no series".into())
}

fn tokenize(c: &mut Criterion) {
    if !Path::new(DATA).is_file() {
        eprintln!("tokenize bench: {DATA} not found; nothing measured");
        return;
    }
    let series = match load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tokenize bench: reading {DATA}: {e}; nothing measured");
            return;
        }
    };
    let n = series.len();
    let tok = match Tokenizer::fit(&TokenizerConfig::default(), &[series.slice(0..n * 4 / 5)]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tokenize bench: fit failed: {e}; nothing measured");
            return;
        }
    };
    let enc = tok.encode(&series);
    let close = series.close();
    // (previous close, scale, token) of every bar token: decode from the true
    // previous close, as the reconstruction check does.
    let jobs: Vec<_> = enc
        .tokens
        .iter()
        .zip(&enc.scale)
        .zip(&enc.bar)
        .filter(|((t, _), _)| !t.is_special())
        .map(|((&t, &s), &b)| (close[b as usize - 1], s, t))
        .collect();

    let mut g = c.benchmark_group("tokenize");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("encode", |b| {
        b.iter(|| black_box(tok.encode(black_box(&series))))
    });
    g.throughput(Throughput::Elements(jobs.len() as u64));
    g.bench_function("decode_representative", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for &(p, s, t) in &jobs {
                if let Ok(bar) = tok.decode(p, s, t, DecodeMode::Representative) {
                    acc += bar.close;
                }
            }
            black_box(acc)
        })
    });
    g.bench_function("decode_sampled", |b| {
        let mut rng = SplitMix64::new(42);
        b.iter(|| {
            let mut acc = 0.0;
            for &(p, s, t) in &jobs {
                if let Ok(bar) = tok.decode(p, s, t, DecodeMode::Sampled(&mut rng)) {
                    acc += bar.close;
                }
            }
            black_box(acc)
        })
    });
    g.throughput(Throughput::Elements((n * 4 / 5) as u64));
    g.bench_function("fit_80pct", |b| {
        let train = [series.slice(0..n * 4 / 5)];
        b.iter(|| black_box(Tokenizer::fit(&TokenizerConfig::default(), &train).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, tokenize);
criterion_main!(benches);
