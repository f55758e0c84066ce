#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Must-show 1: decoded bars are always valid; encode -> decode -> encode gives the
//! tokens back; save -> load encodes identically.
//!
//! The identity that is tested: take a series' tokens and scales from `encode`;
//! decode every bar token at its representatives, each from the *decoded* previous
//! close (bar 0, the `START` anchor, is kept), giving a decoded series with the
//! same timestamps; then `encode_with_scale(decoded, scales)` must give exactly the
//! same tokens. The scales are passed because the decoded series' own EWMA differs
//! (its returns are the representatives); with them, every factor a decoded bar has
//! is its bin's representative, which sits inside the bin, and the factors are
//! independent (the wick range is the range *minus* the body), so no bin can move.

mod common;

use candlecast_data::{Bar, Series, SourceZone};
use candlecast_tokenize::{
    DecodeMode, Encoded, ScaleKind, SplitMix64, TokenId, TokenizeError, Tokenizer, TokenizerConfig,
};
use common::{log_uniform, synth, synth_bars};
use proptest::prelude::*;
use std::sync::OnceLock;

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

fn fitted() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let train: Vec<Series> = (0..4).map(|seed| synth(seed, 3000)).collect();
        Tokenizer::fit(&TokenizerConfig::default(), &train).unwrap()
    })
}

fn assert_valid(b: &Bar, what: &str) {
    assert!(
        b.check().is_ok(),
        "{what}: invalid bar {b:?}: {:?}",
        b.check()
    );
    assert!(b.open.is_finite() && b.high.is_finite() && b.low.is_finite() && b.close.is_finite());
    assert!(b.low > 0.0);
}

/// Decodes the bar tokens of `enc` at their representatives, each from the decoded
/// previous close, and re-encodes the decoded series in the same scales.
fn round_trip(
    tok: &Tokenizer,
    s: &Series,
    enc: &Encoded,
    mut rng: Option<&mut SplitMix64>,
) -> Encoded {
    let mut bars: Vec<Bar> = Vec::with_capacity(s.len());
    bars.push(s.bar(0).unwrap());
    for ((&t, &scale), &b) in enc.tokens.iter().zip(&enc.scale).zip(&enc.bar) {
        if t.is_special() {
            continue;
        }
        let prev = bars.last().unwrap().close;
        let mode = match rng.as_deref_mut() {
            Some(r) => DecodeMode::Sampled(r),
            None => DecodeMode::Representative,
        };
        let mut bar = tok.decode(prev, scale, t, mode).unwrap();
        assert_valid(&bar, "round trip");
        bar.ts = s.timestamps()[b as usize];
        bars.push(bar);
    }
    assert_eq!(bars.len(), s.len());
    let decoded = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
    tok.encode_with_scale(&decoded, &enc.scale).unwrap()
}

fn check_identity(tok: &Tokenizer, s: &Series, sampled: Option<u64>) {
    let enc = tok.encode(s);
    let mut rng = sampled.map(SplitMix64::new);
    let again = round_trip(tok, s, &enc, rng.as_mut());
    assert_eq!(again.bar, enc.bar);
    if let Some(i) = (0..enc.len()).find(|&i| again.tokens[i] != enc.tokens[i]) {
        panic!(
            "token {i} (bar {}): {:?} {:?} re-encoded as {:?} {:?}; scale {}",
            enc.bar[i],
            enc.tokens[i],
            tok.factors(enc.tokens[i]),
            again.tokens[i],
            tok.factors(again.tokens[i]),
            enc.scale[i]
        );
    }
}

#[test]
fn identity_on_the_fitted_tokenizer() {
    let tok = fitted();
    for seed in 0..40 {
        check_identity(tok, &synth(seed, 2000), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any token sequence decodes to valid bars, chained from the decoded previous
    /// close, with any positive finite previous close and scales; ids outside the
    /// vocabulary are errors; specials decode to a flat bar.
    #[test]
    fn every_decoded_bar_is_valid(
        ids in prop::collection::vec(prop_oneof![0u32..1100, any::<u32>()], 1..200),
        seed in any::<u64>(),
        start in -300.0f64..300.0,
        sampled in any::<bool>(),
    ) {
        let tok = fitted();
        let mut r = SplitMix64::new(seed);
        let mut rng = SplitMix64::new(seed ^ 0xDEAD_BEEF);
        let mut prev = 10f64.powf(start);
        for &id in &ids {
            let scale = log_uniform(&mut r, -300.0, 300.0);
            let mode = if sampled { DecodeMode::Sampled(&mut rng) } else { DecodeMode::Representative };
            match tok.decode(prev, scale, TokenId(id), mode) {
                Ok(bar) => {
                    prop_assert!((id as usize) < tok.vocab_size());
                    assert_valid(&bar, &format!("token {id}, prev {prev}, scale {scale}"));
                    if TokenId(id).is_special() {
                        prop_assert_eq!((bar.open, bar.high, bar.low, bar.close), (prev, prev, prev, prev));
                    }
                    prev = bar.close;
                }
                Err(TokenizeError::UnknownToken { token, vocab_size }) => {
                    prop_assert_eq!(token, id);
                    prop_assert!(id as usize >= vocab_size);
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    /// Bad decode inputs are errors, never panics or invalid bars.
    #[test]
    fn bad_decode_inputs_are_errors(
        prev in prop_oneof![Just(0.0), Just(-1.0), Just(f64::NAN), Just(f64::INFINITY), -1e300f64..1e300],
        scale in prop_oneof![Just(0.0), Just(-1.0), Just(f64::NAN), Just(f64::INFINITY), -1e300f64..1e300],
        id in 0u32..1026,
    ) {
        let tok = fitted();
        let ok = prev.is_finite() && prev > 0.0 && scale.is_finite() && scale > 0.0;
        match tok.decode(prev, scale, TokenId(id), DecodeMode::Representative) {
            Ok(bar) => { prop_assert!(ok); assert_valid(&bar, "finite inputs"); }
            Err(TokenizeError::DecodeInput { .. }) => prop_assert!(!ok),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// A tokenizer fitted on one random series decodes every token of its
    /// vocabulary to a valid bar (degenerate fits included: few bars, all flat...).
    #[test]
    fn small_fits_decode_validly(seed in any::<u64>(), n in 2usize..60, prev in 1e-6f64..1e6, scale in 1e-8f64..1.0) {
        let s = synth(seed, n);
        let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s]).unwrap();
        let mut rng = SplitMix64::new(seed);
        for id in 0..tok.vocab_size() as u32 {
            assert_valid(&tok.decode(prev, scale, TokenId(id), DecodeMode::Representative).unwrap(), "rep");
            assert_valid(&tok.decode(prev, scale, TokenId(id), DecodeMode::Sampled(&mut rng)).unwrap(), "sampled");
        }
    }

    /// encode -> decode (representatives) -> encode is the identity on tokens, for a
    /// tokenizer fitted on the first part of the series.
    #[test]
    fn encode_decode_encode_is_identity(seed in any::<u64>(), n in 30usize..600, fit_share in 0.2f64..1.0, reverting in any::<bool>(), ranged in any::<bool>()) {
        let s = synth(seed, n);
        let k = ((n as f64 * fit_share) as usize).max(2);
        let scale = if reverting { ScaleKind::Reverting } else { ScaleKind::Ewma };
        let range_weight = if reverting && ranged { 0.75 } else { 0.0 };
        let cfg = TokenizerConfig { scale, range_weight, ..TokenizerConfig::default() };
        let tok = Tokenizer::fit(&cfg, &[s.slice(0..k)]).unwrap();
        check_identity(&tok, &s, None);
    }

    /// The same with values drawn inside the bins: a sampled bar re-encodes to its
    /// token too.
    #[test]
    fn sampled_decoding_stays_in_the_token(seed in any::<u64>(), n in 30usize..400) {
        let s = synth(seed, n);
        let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..n * 3 / 4)]).unwrap();
        check_identity(&tok, &s, Some(seed));
    }

    /// With the volume factor on, the price factors still round-trip (decoded bars
    /// carry volume 0, so the volume bin is not compared).
    #[test]
    fn identity_of_price_factors_with_volume_on(seed in any::<u64>(), n in 30usize..300) {
        let s = synth(seed, n);
        let cfg = TokenizerConfig { volume_bins: 3, ..TokenizerConfig::default() };
        let tok = Tokenizer::fit(&cfg, std::slice::from_ref(&s)).unwrap();
        let enc = tok.encode(&s);
        let again = round_trip(&tok, &s, &enc, None);
        for (a, b) in enc.tokens.iter().zip(&again.tokens) {
            let (fa, fb) = (tok.factors(*a), tok.factors(*b));
            prop_assert_eq!(fa.map(|f| (f.return_bin, f.wick_bin, f.shape)), fb.map(|f| (f.return_bin, f.wick_bin, f.shape)));
        }
    }

    /// save -> load gives the same tokenizer and bit-identical encodings.
    #[test]
    fn save_load_encodes_identically(seed in any::<u64>(), n in 2usize..500, volume_bins in 1u32..4, reverting in any::<bool>(), ranged in any::<bool>()) {
        let s = synth(seed, n);
        let scale = if reverting { ScaleKind::Reverting } else { ScaleKind::Ewma };
        let range_weight = if reverting && ranged { 0.75 } else { 0.0 };
        let cfg = TokenizerConfig { volume_bins, scale, range_weight, ..TokenizerConfig::default() };
        let tok = Tokenizer::fit(&cfg, &[s.slice(0..(n * 4 / 5).max(2))]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        tok.save(&path).unwrap();
        let loaded = Tokenizer::load(&path).unwrap();
        prop_assert_eq!(&loaded, &tok);
        let (a, b) = (tok.encode(&s), loaded.encode(&s));
        prop_assert_eq!(&a.tokens, &b.tokens);
        prop_assert_eq!(&a.bar, &b.bar);
        let bits = |e: &Encoded| e.scale.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&a), bits(&b));
        prop_assert_eq!(a.next_scale.to_bits(), b.next_scale.to_bits());
    }
}

#[test]
fn identity_on_the_bundled_files() {
    let dir = manifest_dir().join("../../data");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let ds = candlecast_data::read_path(&path, &Default::default()).unwrap();
        for s in &ds.panel.series {
            let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..s.len() * 4 / 5)])
                .unwrap();
            check_identity(&tok, s, None);
            check_identity(&tok, s, Some(7));
        }
    }
}

#[test]
fn layout_and_specials() {
    let tok = fitted();
    assert_eq!(tok.vocab_size(), 2 + 64 * 4 * 4);
    assert_eq!(TokenId::START, TokenId(0));
    assert_eq!(TokenId::GAP, TokenId(1));
    assert!(tok.factors(TokenId::START).is_none());
    assert!(tok.factors(TokenId(1026)).is_none());
    for id in 2..1026 {
        let f = tok.factors(TokenId(id)).unwrap();
        assert_eq!(tok.token(f), Some(TokenId(id)));
    }
    // return representatives ascend with the return bin, with 0 for the zero bin
    let reps: Vec<f64> = (0..64)
        .map(|r| {
            let t = tok
                .token(candlecast_tokenize::Factors {
                    return_bin: r,
                    wick_bin: 0,
                    shape: 0,
                    volume_bin: 0,
                })
                .unwrap();
            tok.return_representative(t).unwrap()
        })
        .collect();
    assert!(reps.windows(2).all(|w| w[0] < w[1]), "{reps:?}");
    assert!(reps.contains(&0.0));
    assert!(reps.iter().all(|x| x.is_finite()));
}

#[test]
fn encoding_shape() {
    let tok = fitted();
    let bars = synth_bars(99, 500);
    let s = Series::from_bars(None, SourceZone::Utc, &bars).unwrap();
    let enc = tok.encode(&s);
    let gaps = enc.tokens.iter().filter(|&&t| t == TokenId::GAP).count();
    assert_eq!(enc.len(), s.len() + gaps);
    assert_eq!(enc.tokens[0], TokenId::START);
    assert_eq!(enc.scale.len(), enc.len());
    assert!(enc.scale.iter().all(|&x| x.is_finite() && x > 0.0));
    assert!(enc.next_scale.is_finite() && enc.next_scale > 0.0);
    for i in 1..enc.len() {
        if enc.tokens[i - 1] == TokenId::GAP {
            assert_eq!(enc.bar[i - 1], enc.bar[i]);
            assert!(!enc.tokens[i].is_special());
        }
    }
    assert!(tok.encode(&s.slice(0..0)).is_empty());
    assert_eq!(tok.encode(&s.slice(0..1)).tokens, vec![TokenId::START]);
}
