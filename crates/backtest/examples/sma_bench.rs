//! One timed backtest for `bench/backtest.sh`: sma-cross 10/20 with every
//! statistic on the seeded random walk (`synthetic::random_walk`, the same bars
//! `bench/backtest_ref.py` gives backtesting.py and vectorbt). The walk is built
//! before the clock starts; the best and the median of five runs are reported, as JSON with the
//! peak resident memory while backtesting (the series' 48 MB included) and the
//! process' peak including the generator.
//!
//! `cargo run --release -p candlecast-backtest --example sma_bench -- 1000000 7`

use candlecast_backtest::{run, synthetic, BrokerConfig, Metrics, RunOptions, SmaCross};
use std::time::Instant;

/// Linux resets the peak (VmHWM) to the current resident size on "5" here.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(7), |a| a.parse())?;
    let series = synthetic::random_walk(n, seed)?;
    let broker = BrokerConfig {
        cash: 10_000.0,
        commission: 0.002,
        ..Default::default()
    };
    // The generator holds the bars twice (a Vec<Bar> and the columns); measure
    // the backtest's own peak from here, with the series resident.
    let peak_with_generation = peak_rss_mb();
    let reset = reset_peak_rss();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        let r = run(
            &series,
            &mut SmaCross::new(10, 20),
            &broker,
            &RunOptions::default(),
            &mut |_| {},
        )?;
        let m = Metrics::compute(&r, &series);
        times.push(t0.elapsed().as_secs_f64());
        last = Some(m);
    }
    let m = last.ok_or("no run")?;
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    println!(
        "{}",
        serde_json::json!({
            "engine": "candlecast",
            "bars": n,
            "seconds": best,
            "bars_per_s": n as f64 / best,
            "median_seconds": median,
            "median_bars_per_s": n as f64 / median,
            "trades": m.n_trades,
            "return_pct": m.return_pct,
            "peak_rss_mb": if reset { peak_rss_mb() } else { None },
            "peak_rss_with_generation_mb": peak_with_generation,
        })
    );
    Ok(())
}
