//! A seeded geometric random walk of one-minute bars, for benchmarks and tests
//! that need many bars without a data file. `bench/backtest_ref.py` generates
//! the same walk (counter-based SplitMix64 and Box-Muller vectorise in numpy),
//! so every engine in `bench/backtest.sh` gets the same bars.

use candlecast_data::{Bar, Series, SeriesError, SourceZone, Timestamp};

fn uniform(seed: u64, k: u64) -> f64 {
    let mut z = seed.wrapping_add(k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// `n` one-minute bars from 2020-01-01 UTC: log-returns normal with sd 0.1%,
/// open at the previous close, wicks up to 0.05%.
pub fn random_walk(n: usize, seed: u64) -> Result<Series, SeriesError> {
    let mut close = 100.0f64;
    let mut log_c = 0.0f64;
    let mut bars = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let u = |j: u64| uniform(seed, 4 * i + j);
        let r = 0.001 * (-2.0 * u(0).ln()).sqrt() * (2.0 * std::f64::consts::PI * u(1)).cos();
        let open = close;
        log_c += r;
        close = 100.0 * log_c.exp();
        bars.push(Bar {
            ts: Timestamp(1_577_836_800_000 + 60_000 * i as i64),
            open,
            high: open.max(close) * (1.0 + 0.0005 * u(2)),
            low: open.min(close) * (1.0 - 0.0005 * u(3)),
            close,
            volume: 1.0,
        });
    }
    Series::from_bars(None, SourceZone::Utc, &bars)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_walk_is_the_one_numpy_generates() {
        // bench/backtest_ref.py's walk(5, 7), printed by pandas.
        let s = super::random_walk(5, 7).unwrap();
        let want = [100.136592, 100.137043, 99.965666, 99.994225, 99.970849];
        for (c, w) in s.close().iter().zip(want) {
            assert!((c - w).abs() < 5e-7, "{c} vs {w}");
        }
        assert!((s.high()[0] - 100.181692).abs() < 5e-7);
    }
}
