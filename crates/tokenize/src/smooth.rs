//! Training targets that know the return bins are ordered (HL-Gauss).
//!
//! Cross-entropy against the one-hot next token counts a draw one return bin off as
//! wrong as one thirty bins off, while CRPS, what the forecasts are scored on,
//! rewards near misses. The "histogram loss with Gaussian targets" of Imani & White
//! (2018) and Farebrother et al. (2024, value heads in RL) trains against the
//! target smeared by a Gaussian over neighbouring bins instead. Here the Gaussian
//! lives on the bin index: the inner return bins are equal-frequency, so a step of
//! one bin is a step of equal probability, and `sigma = 0.75` bins is the ratio
//! of smoothing to bin width those papers found best. The wick, shape and volume
//! factors are kept: only the return bin is spread.
//!
//! Two kinds of bin neither spread nor receive mass: the two tails (outside
//! `+-return_clip`: a bin spanning everything out to infinity is not "next to" the
//! outermost inner bin in probability, and decoding draws far out in it) and the
//! exact-zero bin (an unchanged price is its own event, not a small return). Inner
//! bins on either side of the zero bin count as neighbours of each other.

use crate::quantize::SMALLEST_POSITIVE;
use crate::{Factors, TokenId, Tokenizer};

/// How far the Gaussian reaches, in standard deviations; mass beyond is dropped
/// (and the rest renormalised): 3 sigma keeps 99.7% of it.
const REACH_SIGMAS: f64 = 3.0;

impl Tokenizer {
    /// For every token id, the distribution a next-token target of that id is
    /// spread over: `(id, weight)` pairs summing to 1, the id itself included.
    /// Specials, tail bars and zero-return bars keep all their weight; other bar
    /// tokens share it with the tokens of the same wick, shape and volume bins
    /// whose return bin is up to `3 sigma` inner bins away, in proportion to
    /// `exp(-d^2 / (2 sigma^2))`. `sigma < 1/3` (no neighbour within reach), or
    /// not finite, gives one-hot rows.
    pub fn smoothed_targets(&self, sigma: f64) -> Vec<Vec<(u32, f32)>> {
        let smoothable: Vec<usize> = (0..self.return_bins())
            .filter(|&k| self.smoothable_return_bin(k))
            .collect();
        let reach = if sigma > 0.0 && sigma.is_finite() {
            (REACH_SIGMAS * sigma).floor() as usize
        } else {
            0
        };
        (0..self.vocab_size() as u32)
            .map(|id| {
                let token = TokenId(id);
                let Some(f) = self.factors(token) else {
                    return vec![(id, 1.0)];
                };
                let pos = smoothable.iter().position(|&k| k == f.return_bin);
                let Some(pos) = pos.filter(|_| reach > 0) else {
                    return vec![(id, 1.0)];
                };
                let lo = pos.saturating_sub(reach);
                let hi = (pos + reach).min(smoothable.len() - 1);
                let mut row: Vec<(u32, f64)> = (lo..=hi)
                    .filter_map(|j| {
                        let d = j.abs_diff(pos) as f64;
                        let neighbour = Factors {
                            return_bin: smoothable[j],
                            ..f
                        };
                        let w = (-d * d / (2.0 * sigma * sigma)).exp();
                        self.token(neighbour).map(|t| (t.0, w))
                    })
                    .collect();
                let total: f64 = row.iter().map(|&(_, w)| w).sum();
                row.iter_mut().for_each(|(_, w)| *w /= total);
                row.into_iter().map(|(t, w)| (t, w as f32)).collect()
            })
            .collect()
    }

    /// An inner return bin that is not the exact-zero one.
    fn smoothable_return_bin(&self, k: usize) -> bool {
        let (lo, hi) = self.state.returns.bounds(k);
        lo.is_finite() && hi.is_finite() && !(lo == 0.0 && hi == SMALLEST_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use crate::{TokenId, Tokenizer, TokenizerConfig};
    use candlecast_data::{Bar, Series, SourceZone, Timestamp};

    fn tokenizer(zeros: bool) -> Tokenizer {
        let mut rng = crate::Rng::new(5);
        let mut c = 100.0;
        let bars: Vec<Bar> = (0..2000)
            .map(|i| {
                let prev = c;
                if !(zeros && i % 4 == 0) {
                    c *= (0.01 * rng.normal()).exp();
                }
                let (hi, lo) = (prev.max(c) * 1.001, prev.min(c) * 0.999);
                Bar {
                    ts: Timestamp(i * 60_000),
                    open: prev,
                    high: hi,
                    low: lo,
                    close: c,
                    volume: 1.0,
                }
            })
            .collect();
        let s = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
        Tokenizer::fit(&TokenizerConfig::default(), &[s]).unwrap()
    }

    #[test]
    fn rows_are_distributions_over_same_factor_neighbours() {
        let tok = tokenizer(true);
        let rows = tok.smoothed_targets(0.75);
        assert_eq!(rows.len(), tok.vocab_size());
        let zero_bins: Vec<usize> = (0..tok.return_bins())
            .filter(|&k| !tok.smoothable_return_bin(k))
            .collect();
        // The two tails and the zero bin.
        assert_eq!(zero_bins.len(), 3, "{zero_bins:?}");
        let mut spread = 0;
        for (id, row) in rows.iter().enumerate() {
            let sum: f32 = row.iter().map(|&(_, w)| w).sum();
            assert!((sum - 1.0).abs() < 1e-5, "{id}: {sum}");
            let own = row.iter().find(|&&(t, _)| t == id as u32).map(|&(_, w)| w);
            assert!(
                own.is_some_and(|w| row.iter().all(|&(_, v)| v <= w)),
                "{id}"
            );
            let Some(f) = tok.factors(TokenId(id as u32)) else {
                assert_eq!(row, &[(id as u32, 1.0)]);
                continue;
            };
            if zero_bins.contains(&f.return_bin) {
                assert_eq!(row, &[(id as u32, 1.0)]);
                continue;
            }
            spread += 1;
            // 0.75 sigma reaches 2 bins: at most 5 entries, same wick, shape, volume.
            assert!(row.len() > 1 && row.len() <= 5, "{id}: {row:?}");
            for &(t, _) in row {
                let g = tok.factors(TokenId(t)).unwrap();
                assert_eq!(
                    (g.wick_bin, g.shape, g.volume_bin),
                    (f.wick_bin, f.shape, f.volume_bin)
                );
                assert!(!zero_bins.contains(&g.return_bin));
            }
        }
        assert!(spread > tok.vocab_size() / 2);
    }

    #[test]
    fn no_sigma_is_one_hot() {
        let tok = tokenizer(false);
        for sigma in [0.0, -1.0, f64::NAN] {
            let rows = tok.smoothed_targets(sigma);
            assert!(rows
                .iter()
                .enumerate()
                .all(|(id, r)| r == &[(id as u32, 1.0)]));
        }
    }

    #[test]
    fn weights_follow_the_gaussian() {
        let tok = tokenizer(false);
        let rows = tok.smoothed_targets(1.0);
        // A bar token among the negative inner bins, 3 away from the tail and far from
        // the zero bin: weights e^0, e^-1/2, e^-2, e^-4.5 either side.
        let mid = 10;
        let f = crate::Factors {
            return_bin: mid,
            wick_bin: 1,
            shape: 2,
            volume_bin: 0,
        };
        let id = tok.token(f).unwrap().0 as usize;
        let row = &rows[id];
        assert_eq!(row.len(), 7);
        let z: f64 = (-3i32..=3).map(|d| (-(d * d) as f64 / 2.0).exp()).sum();
        for (i, &(t, w)) in row.iter().enumerate() {
            let d = i as i32 - 3;
            assert_eq!(
                tok.factors(TokenId(t)).unwrap().return_bin as i32,
                mid as i32 + d
            );
            let want = (-(d * d) as f64 / 2.0).exp() / z;
            assert!((w as f64 - want).abs() < 1e-6, "{d}: {w} vs {want}");
        }
    }
}
