//! Choosing the next token from logits: greedy, temperature, top-k, top-p.
//!
//! Each sample path carries its own [`Rng`] (see [`Rng::fork`]), so a path's
//! tokens do not depend on which other paths or series share its batch.

use crate::error::{GptError, Result};
use candlecast_rand::Rng;
use serde::{Deserialize, Serialize};

/// How to turn logits into a token. `temperature = 0` is greedy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    pub temperature: f64,
    /// Keep only the `k` most likely tokens.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches `p`.
    #[serde(default)]
    pub top_p: Option<f64>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }
}

impl Sampling {
    pub fn greedy() -> Sampling {
        Sampling {
            temperature: 0.0,
            top_k: None,
            top_p: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(GptError::Config(format!(
                "temperature {} must be >= 0",
                self.temperature
            )));
        }
        if self.top_k == Some(0) {
            return Err(GptError::Config("top_k must be at least 1".into()));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(GptError::Config(format!("top_p {p} must be in (0, 1]")));
            }
        }
        Ok(())
    }

    /// The distribution sampling draws from: softmax(logits / T), truncated by
    /// top-k and top-p and renormalised. Greedy puts all mass on the arg-max.
    pub fn probs(&self, logits: &[f32]) -> Vec<f64> {
        let n = logits.len();
        if n == 0 {
            return vec![];
        }
        if self.temperature == 0.0 {
            let mut p = vec![0.0; n];
            p[argmax(logits)] = 1.0;
            return p;
        }
        let mut p = self.weights(logits);
        if self.top_k.is_some() || self.top_p.is_some() {
            let mut order: Vec<usize> = (0..n).collect();
            // Most likely first; ties by index, so the result is deterministic.
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
            let keep = self.keep(&p, &order);
            for &j in &order[keep..] {
                p[j] = 0.0;
            }
        }
        normalised(p)
    }

    /// The ids of `logits` most likely first, ties by id: what [`Self::probs`]
    /// sorts by at any temperature (exp is monotone), so a caller that forms the
    /// distribution of one row at many temperatures (a calibration search) sorts
    /// it once. `None` for a vocabulary too large for `u16` ids.
    pub fn logit_order(logits: &[f32]) -> Option<Vec<u16>> {
        let n = u16::try_from(logits.len()).ok()?;
        let mut order: Vec<u16> = (0..n).collect();
        order.sort_by(|&a, &b| {
            logits[b as usize]
                .total_cmp(&logits[a as usize])
                .then(a.cmp(&b))
        });
        Some(order)
    }

    /// [`Self::probs`] with the sort of its top-p cut replaced by `order`
    /// ([`Self::logit_order`] of the same logits): the same numbers, bit for bit.
    /// The probabilities are checked to fall along `order` (else the sort is
    /// done after all), and where the cut falls inside a run of equal
    /// probabilities the run is taken in id order, as the sort would have.
    pub fn probs_ordered(&self, logits: &[f32], order: &[u16]) -> Vec<f64> {
        let plain = self.temperature == 0.0 || self.top_k.is_some() || self.top_p.is_none();
        if plain || order.len() != logits.len() || logits.is_empty() {
            return self.probs(logits);
        }
        let mut p = self.weights(logits);
        let mut order: Vec<usize> = order.iter().map(|&j| j as usize).collect();
        if !order.windows(2).all(|w| p[w[0]] >= p[w[1]]) {
            return self.probs(logits);
        }
        let keep = self.keep(&p, &order);
        if keep < order.len() && p[order[keep - 1]] == p[order[keep]] {
            let cut = p[order[keep]];
            let a = order[..keep]
                .iter()
                .rposition(|&j| p[j] != cut)
                .map_or(0, |i| i + 1);
            let b = order[keep..]
                .iter()
                .position(|&j| p[j] != cut)
                .map_or(order.len(), |i| keep + i);
            order[a..b].sort_unstable();
        }
        for &j in &order[keep..] {
            p[j] = 0.0;
        }
        normalised(p)
    }

    /// exp((logit - max) / T) per id: the softmax before its normalisation.
    fn weights(&self, logits: &[f32]) -> Vec<f64> {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        logits
            .iter()
            .map(|&l| ((l as f64 - max) / self.temperature).exp())
            .collect()
    }

    /// How many ids of `order` (most likely first) top-k and top-p keep.
    fn keep(&self, p: &[f64], order: &[usize]) -> usize {
        let total: f64 = p.iter().sum();
        let mut keep = self.top_k.unwrap_or(order.len()).min(order.len());
        if let Some(top_p) = self.top_p {
            let mut acc = 0.0;
            for (i, &j) in order.iter().enumerate().take(keep) {
                acc += p[j] / total;
                if acc >= top_p {
                    keep = i + 1;
                    break;
                }
            }
        }
        keep
    }

    /// Draws one token id.
    pub fn sample(&self, logits: &[f32], rng: &mut Rng) -> u32 {
        if self.temperature == 0.0 {
            return argmax(logits) as u32;
        }
        let p = self.probs(logits);
        let u = rng.uniform();
        let mut acc = 0.0;
        let mut last = 0;
        for (i, &pi) in p.iter().enumerate() {
            if pi > 0.0 {
                acc += pi;
                last = i;
                if u < acc {
                    return i as u32;
                }
            }
        }
        last as u32
    }
}

/// `p` divided by its sum.
fn normalised(mut p: Vec<f64>) -> Vec<f64> {
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    p
}

fn argmax(xs: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_top_k_and_top_p() {
        let logits = [0.0f32, 2.0, 1.0, 2.0];
        let mut r = Rng::new(1);
        assert_eq!(Sampling::greedy().sample(&logits, &mut r), 1);
        let k1 = Sampling {
            temperature: 1.0,
            top_k: Some(1),
            top_p: None,
        };
        assert!((0..50).all(|_| k1.sample(&logits, &mut r) == 1));
        let p = Sampling {
            temperature: 1.0,
            top_k: None,
            top_p: Some(0.5),
        }
        .probs(&logits);
        assert_eq!(p, vec![0.0, 0.5, 0.0, 0.5]); // the tied pair reaches 0.5 together
        let p = Sampling {
            temperature: 1.0,
            top_k: Some(3),
            top_p: None,
        }
        .probs(&logits);
        assert_eq!(p[0], 0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// The top-p cut with a precomputed order is the sorting one, bit for bit,
    /// ties included (cut inside a run of equal probabilities, -inf logits).
    #[test]
    fn probs_with_a_precomputed_order_are_the_sorted_ones() {
        let mut r = Rng::new(7);
        for case in 0..400 {
            let n = 1 + case % 40;
            let logits: Vec<f32> = (0..n)
                .map(|_| match (r.uniform() * 6.0) as u32 {
                    0 => 1.0,
                    1 => f32::NEG_INFINITY,
                    _ => (r.uniform() * 8.0 - 4.0) as f32,
                })
                .collect();
            let order = Sampling::logit_order(&logits).unwrap();
            for t in [0.25, 0.7, 1.0, 3.0] {
                for top_p in [
                    None,
                    Some(0.3),
                    Some(0.5),
                    Some(0.9),
                    Some(0.999),
                    Some(1.0),
                ] {
                    let s = Sampling {
                        temperature: t,
                        top_k: None,
                        top_p,
                    };
                    let (a, b) = (s.probs(&logits), s.probs_ordered(&logits, &order));
                    assert_eq!(
                        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        "{logits:?} T {t} top-p {top_p:?}"
                    );
                }
            }
        }
        // Ties: the pair at 2.0 is cut between its members by top-p 0.3, and
        // the lower id is kept, as the sort keeps it.
        let logits = [0.0f32, 2.0, 1.0, 2.0];
        let s = Sampling {
            temperature: 1.0,
            top_k: None,
            top_p: Some(0.3),
        };
        let order = Sampling::logit_order(&logits).unwrap();
        assert_eq!(s.probs_ordered(&logits, &order), vec![0.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.probs(&logits), vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn sampling_follows_the_distribution() {
        let logits = [0.0f32, (3.0f32).ln()]; // probabilities 1/4, 3/4
        let s = Sampling::default();
        let mut r = Rng::new(9);
        let ones = (0..20_000)
            .filter(|_| s.sample(&logits, &mut r) == 1)
            .count();
        assert!((ones as f64 / 20_000.0 - 0.75).abs() < 0.01, "{ones}");
        // High temperature flattens, low temperature sharpens.
        let hot = Sampling {
            temperature: 100.0,
            ..s
        }
        .probs(&logits);
        let cold = Sampling {
            temperature: 0.1,
            ..s
        }
        .probs(&logits);
        assert!(hot[1] < 0.51 && cold[1] > 0.99);
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(Sampling {
            temperature: -1.0,
            ..Sampling::default()
        }
        .validate()
        .is_err());
        assert!(Sampling {
            top_k: Some(0),
            ..Sampling::default()
        }
        .validate()
        .is_err());
        assert!(Sampling {
            top_p: Some(1.5),
            ..Sampling::default()
        }
        .validate()
        .is_err());
        assert!(Sampling::default().validate().is_ok());
    }
}
