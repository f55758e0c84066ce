//! Backtest throughput (issue 7): sma-cross 10/20 with every statistic on a
//! seeded one-minute random walk of 1,000,000 bars (built before timing; no CSV
//! parse). `bench/backtest.sh` compares the same work with backtesting.py and
//! vectorbt; this bench tracks regressions.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench backtest`.

use candlecast_backtest::{run, synthetic, BrokerConfig, Metrics, RunOptions, SmaCross};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn backtest(c: &mut Criterion) {
    let n = 1_000_000;
    let Ok(series) = synthetic::random_walk(n, 7) else {
        eprintln!("the synthetic walk is invalid; nothing measured");
        return;
    };
    let broker = BrokerConfig {
        cash: 10_000.0,
        commission: 0.002,
        ..Default::default()
    };
    let mut g = c.benchmark_group("backtest");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("sma_cross_10_20_with_stats_1m_bars", |b| {
        b.iter(|| {
            let r = run(
                black_box(&series),
                &mut SmaCross::new(10, 20),
                &broker,
                &RunOptions::default(),
                &mut |_| {},
            );
            r.map(|r| Metrics::compute(&r, &series).sharpe)
        })
    });
    g.finish();
}

criterion_group!(benches, backtest);
criterion_main!(benches);
