#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Must-show 2: no leakage. Replacing every bar after t — values and timestamps —
//! by random, extreme (but valid, NaN-free) bars leaves the tokens, scales and bar
//! indices of every token describing bars up to t unchanged, bit for bit; the
//! encoding of the prefix alone is the same, and its `next_scale` is the scale the
//! full encoding measures bar t + 1 in. Fitting sees only the bars it is given.

mod common;

use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_tokenize::{Encoded, ScaleKind, SplitMix64, TokenId, Tokenizer, TokenizerConfig};
use common::{log_uniform, synth_bars};
use proptest::prelude::*;

/// Bars after `t` replaced by wild ones: prices anywhere in 1e-6..1e9, any
/// spacing from 1 ms to ~4 months, volumes from 0 to 1e15.
fn scramble(bars: &[Bar], t: usize, seed: u64) -> Vec<Bar> {
    let mut r = SplitMix64::new(seed);
    let mut out = bars[..=t].to_vec();
    let mut ts = bars[t].ts.0;
    for _ in t + 1..bars.len() {
        ts += 1 + (r.next_u64() % 10_000_000_000) as i64;
        let mut p: Vec<f64> = (0..4).map(|_| log_uniform(&mut r, -6.0, 9.0)).collect();
        p.sort_by(f64::total_cmp);
        let (open, close) = if r.next_f64() < 0.5 {
            (p[1], p[2])
        } else {
            (p[2], p[1])
        };
        let volume = if r.next_f64() < 0.3 {
            0.0
        } else {
            log_uniform(&mut r, -3.0, 15.0)
        };
        out.push(Bar {
            ts: Timestamp(ts),
            open,
            high: p[3],
            low: p[0],
            close,
            volume,
        });
    }
    out
}

fn upto(e: &Encoded, t: usize) -> (Vec<TokenId>, Vec<u64>, Vec<u32>) {
    let k = e.bar.iter().take_while(|&&b| b as usize <= t).count();
    (
        e.tokens[..k].to_vec(),
        e.scale[..k].iter().map(|x| x.to_bits()).collect(),
        e.bar[..k].to_vec(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn changing_the_future_changes_nothing_before_it(
        seed in any::<u64>(),
        n in 3usize..800,
        t_share in 0.0f64..1.0,
        volume_bins in 1u32..4,
        reverting in any::<bool>(),
    ) {
        let bars = synth_bars(seed, n);
        let t = ((n - 2) as f64 * t_share) as usize; // 0..=n-2: at least one bar after t
        let original = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
        let changed = Series::from_bars(None, SourceZone::Utc, &scramble(&bars, t, seed ^ 1)).unwrap();

        // Fitting on the bars up to t cannot see the rest.
        let scale = if reverting { ScaleKind::Reverting } else { ScaleKind::Ewma };
        let cfg = TokenizerConfig { volume_bins, scale, ..TokenizerConfig::default() };
        let fit_a = Tokenizer::fit(&cfg, &[original.slice(0..t + 1)]);
        let fit_b = Tokenizer::fit(&cfg, &[changed.slice(0..t + 1)]);
        match (&fit_a, &fit_b) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "fits differ in success"),
        }
        // Encoding: a tokenizer fitted on other data of the same kind.
        let tok = Tokenizer::fit(&cfg, &[Series::from_bars(None, SourceZone::Utc, &synth_bars(seed ^ 2, 500)).unwrap()]).unwrap();
        let (a, b) = (tok.encode(&original), tok.encode(&changed));
        prop_assert_eq!(upto(&a, t), upto(&b, t));

        // The prefix alone encodes to the same tokens, and its next_scale is the
        // scale of the next token of the full series (a gap token or bar t + 1).
        let prefix = tok.encode(&original.slice(0..t + 1));
        prop_assert_eq!(upto(&prefix, t), upto(&a, t));
        let k = prefix.len();
        prop_assert_eq!(prefix.next_scale.to_bits(), a.scale[k].to_bits());
        prop_assert_eq!(prefix.next_scale.to_bits(), b.scale[k].to_bits());
    }
}
