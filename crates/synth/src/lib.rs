//! Synthetic OHLCV markets for pretraining.
//!
//! Real data with a permissive licence is scarce (four files ship with candlecast),
//! and a model that has seen little data learns token frequencies, not dynamics.
//! Like Chronos' KernelSynth and TSMixup, this crate widens the corpus with series
//! drawn from a family of processes, one parameter set per series: GJR-GARCH,
//! EGARCH or stochastic volatility with leverage, Student-t tails, jumps, two
//! volatility regimes, intraday and weekday volatility profiles on the trading
//! hours of crypto, FX, equity and A-share venues, overnight gaps, price ticks
//! (unchanged bars), return autocorrelation, and volume that moves with volatility.
//!
//! Everything is a function of `(seed, series index)`: the same config gives the
//! same bars on every machine, and series `i` does not depend on how many others
//! are generated.

mod calendar;
mod params;
mod process;
mod random;

pub use calendar::Venue;
pub use params::{Params, VolModel};
pub use random::Draws;

use candlecast_data::{Series, SeriesError};
use serde::{Deserialize, Serialize};

/// The `[synthetic]` table of a run config, and `candlecast synth`'s flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthConfig {
    /// Number of series.
    pub series: usize,
    /// Bars per series.
    pub bars: usize,
    /// Seed of the whole corpus.
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("synthetic data needs at least {min} bars per series, got {got}")]
    TooFewBars { min: usize, got: usize },
    /// A generated bar broke an invariant: a bug in the generator, reported rather
    /// than written.
    #[error("synthetic series {index}: {source}")]
    Invalid {
        index: usize,
        #[source]
        source: SeriesError,
    },
}

/// Fewer bars than this leave nothing to split into train, validation and test.
pub const MIN_BARS: usize = 64;

/// One synthetic series with the parameters it was drawn with. Its symbol is
/// `syn-{index:05}`.
pub fn generate_one(seed: u64, index: usize, bars: usize) -> Result<(Params, Series), SynthError> {
    if bars < MIN_BARS {
        return Err(SynthError::TooFewBars {
            min: MIN_BARS,
            got: bars,
        });
    }
    // Mix the index into the seed through SplitMix64 so neighbouring indices (and
    // seeds) give unrelated streams.
    let mut mix = candlecast_tokenize::Rng::new(seed ^ 0x5EED_CA4D_1E00_0000);
    let base = mix.next_u64();
    let mut d = Draws::new(base ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let params = Params::draw(&mut d);
    let series = process::simulate(&params, bars, &symbol(index), &mut d)
        .map_err(|source| SynthError::Invalid { index, source })?;
    Ok((params, series))
}

/// The symbol of series `index`.
pub fn symbol(index: usize) -> String {
    format!("syn-{index:05}")
}

/// The whole corpus a config describes, in index order.
pub fn generate(cfg: &SynthConfig) -> Result<Vec<(Params, Series)>, SynthError> {
    (0..cfg.series)
        .map(|i| generate_one(cfg.seed, i, cfg.bars))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_returns(s: &Series) -> Vec<f64> {
        s.close().windows(2).map(|w| (w[1] / w[0]).ln()).collect()
    }

    #[test]
    fn same_seed_same_bars_and_index_is_independent_of_count() {
        let a = generate(&SynthConfig {
            series: 3,
            bars: 500,
            seed: 9,
        })
        .unwrap();
        let b = generate(&SynthConfig {
            series: 5,
            bars: 500,
            seed: 9,
        })
        .unwrap();
        for i in 0..3 {
            assert_eq!(a[i].1, b[i].1);
        }
        let c = generate(&SynthConfig {
            series: 3,
            bars: 500,
            seed: 10,
        })
        .unwrap();
        assert_ne!(a[0].1, c[0].1);
    }

    #[test]
    fn every_series_is_valid_and_heavy_tailed() {
        // Validity is checked by Series::from_bars inside generate: an invalid bar
        // fails here. Across the family, returns are fat-tailed (kurtosis > 3) and
        // volatility clusters (|r| autocorrelated).
        let all = generate(&SynthConfig {
            series: 40,
            bars: 3000,
            seed: 1,
        })
        .unwrap();
        let (mut fat, mut clustered) = (0, 0);
        for (p, s) in &all {
            assert_eq!(s.len(), 3000);
            let r = log_returns(s);
            assert!(r.iter().all(|x| x.is_finite()), "{p:?}");
            let n = r.len() as f64;
            let m = r.iter().sum::<f64>() / n;
            let v = r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
            let k = r.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n / (v * v);
            fat += usize::from(k > 3.5);
            let a: Vec<f64> = r.iter().map(|x| (x - m).abs()).collect();
            let am = a.iter().sum::<f64>() / n;
            let cov = a.windows(2).map(|w| (w[0] - am) * (w[1] - am)).sum::<f64>();
            let var = a.iter().map(|x| (x - am).powi(2)).sum::<f64>();
            clustered += usize::from(cov / var > 0.05);
        }
        assert!(fat >= 30, "fat-tailed: {fat}/40");
        assert!(clustered >= 25, "clustered: {clustered}/40");
    }

    #[test]
    fn the_family_covers_venues_ticks_and_missing_volume() {
        let all = generate(&SynthConfig {
            series: 60,
            bars: 300,
            seed: 2,
        })
        .unwrap();
        let venues: std::collections::HashSet<String> =
            all.iter().map(|(p, _)| format!("{:?}", p.venue)).collect();
        assert_eq!(venues.len(), 5, "{venues:?}");
        let zero_share = |s: &Series| {
            let r = log_returns(s);
            r.iter().filter(|x| **x == 0.0).count() as f64 / r.len() as f64
        };
        assert!(all.iter().any(|(p, s)| p.tick > 0.0 && zero_share(s) > 0.2));
        assert!(all
            .iter()
            .any(|(_, s)| s.volume().iter().all(|v| *v == 0.0)));
        assert!(all.iter().any(|(_, s)| s.gap_count() > 0));
    }

    #[test]
    fn too_few_bars_is_an_error() {
        assert!(matches!(
            generate_one(0, 0, 10),
            Err(SynthError::TooFewBars { .. })
        ));
    }
}
