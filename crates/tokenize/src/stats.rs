//! Numbers that describe a tokenization: how well representative decoding gives the
//! close return back, how spread the tokens are, and the unigram baseline a
//! sequence model must beat.

use crate::tokenizer::{DecodeMode, Encoded, TokenId, Tokenizer};
use candlecast_data::Series;
use std::ops::Range;

/// Close-return reconstruction of representative decoding from the true previous
/// close, in scale units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reconstruction {
    /// Bar tokens measured.
    pub bars: usize,
    /// Root mean square of decoded minus true log-return, over the scale.
    pub rmse: f64,
    /// Mean of the same error (a decoded path drifts by about this per bar).
    pub bias: f64,
    /// Share of the bars whose return fell in a tail bin.
    pub tail_share: f64,
}

/// [`Reconstruction`] over the bar tokens of `enc` (the encoding of `series`) that
/// describe bars in `bars`.
pub fn reconstruction(
    tok: &Tokenizer,
    series: &Series,
    enc: &Encoded,
    bars: Range<usize>,
) -> Reconstruction {
    let close = series.close();
    let (mut n, mut sum, mut sum_sq, mut tails) = (0usize, 0.0f64, 0.0f64, 0usize);
    for ((&token, &scale), &bar) in enc.tokens.iter().zip(&enc.scale).zip(&enc.bar) {
        let b = bar as usize;
        if token.is_special() || !bars.contains(&b) || b == 0 {
            continue;
        }
        let (Some(&prev), Some(&c)) = (close.get(b - 1), close.get(b)) else {
            continue;
        };
        let Ok(decoded) = tok.decode(prev, scale, token, DecodeMode::Representative) else {
            continue;
        };
        let err = ((decoded.close.ln() - prev.ln()) - (c.ln() - prev.ln())) / scale;
        n += 1;
        sum += err;
        sum_sq += err * err;
        tails += usize::from(tok.is_tail(token));
    }
    if n == 0 {
        return Reconstruction::default();
    }
    let nf = n as f64;
    Reconstruction {
        bars: n,
        rmse: (sum_sq / nf).sqrt(),
        bias: sum / nf,
        tail_share: tails as f64 / nf,
    }
}

/// Token counts over a vocabulary of `vocab` ids (ids outside are ignored).
pub fn token_counts<'a>(tokens: impl IntoIterator<Item = &'a TokenId>, vocab: usize) -> Vec<u64> {
    let mut counts = vec![0u64; vocab];
    for t in tokens {
        if let Some(c) = counts.get_mut(t.0 as usize) {
            *c += 1;
        }
    }
    counts
}

/// Entropy of the empirical distribution `counts`, in bits per token.
pub fn entropy_bits(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    -counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / t;
            p * p.log2()
        })
        .sum::<f64>()
}

/// Cross-entropy, in bits per token, of `test` counts under the unigram
/// distribution of `train` counts with add-one (Laplace) smoothing over the whole
/// vocabulary, so an id never seen in training still has a finite cost.
pub fn unigram_cross_entropy_bits(train: &[u64], test: &[u64]) -> f64 {
    let vocab = train.len().max(test.len()) as f64;
    let n_train: u64 = train.iter().sum();
    let n_test: u64 = test.iter().sum();
    if n_test == 0 {
        return 0.0;
    }
    let denom = n_train as f64 + vocab;
    let cost: f64 = test
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| {
            let p = (train.get(i).copied().unwrap_or(0) as f64 + 1.0) / denom;
            -(c as f64) * p.log2()
        })
        .sum();
    cost / n_test as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_and_cross_entropy() {
        assert_eq!(entropy_bits(&[5, 5, 0, 0]), 1.0);
        assert_eq!(entropy_bits(&[0, 0]), 0.0);
        // train [1, 0, 1, 0] -> p = (2, 1, 2, 1) / 6; test all on id 0 -> log2(3)
        let ce = unigram_cross_entropy_bits(&[1, 0, 1, 0], &[4, 0, 0, 0]);
        assert!((ce - 3f64.log2()).abs() < 1e-12);
        // an unseen id costs log2((n_train + V) / 1)
        let ce = unigram_cross_entropy_bits(&[1, 0, 1, 0], &[0, 1, 0, 0]);
        assert!((ce - 6f64.log2()).abs() < 1e-12);
    }
}
