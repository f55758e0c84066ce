#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The rollout's scale state continues exactly where the tokenizer's encoding ends.

use candle_core::Device;
use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_forecast::{
    origin_at_end, origins_at, rollout, sample_paths, scale_after, ForecastParams, Origin,
};
use candlecast_gpt::{Gpt, GptConfig, Sampling};
use candlecast_tokenize::{Tokenizer, TokenizerConfig};

fn series() -> Series {
    let mut c = 100.0f64;
    let mut t = 0i64;
    let bars: Vec<Bar> = (0..500)
        .map(|i| {
            // A long gap (a week) every 100 bars restarts the warm-up.
            t += if i % 100 == 99 {
                7 * 86_400_000
            } else {
                3_600_000
            };
            let o = c;
            c *= 1.0 + 0.01 * (((i * 37 % 17) as f64) - 8.0) / 8.0;
            Bar {
                ts: Timestamp(t),
                open: o,
                high: o.max(c) * 1.001,
                low: o.min(c) * 0.999,
                close: c,
                volume: 1.0,
            }
        })
        .collect();
    Series::from_bars(None, SourceZone::Utc, &bars).unwrap()
}

#[test]
fn scale_after_the_history_equals_the_encoders_next_scale() {
    let s = series();
    let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..400)]).unwrap();
    for end in [50, 99, 100, 101, 250, 500] {
        let part = s.slice(0..end);
        let enc = tok.encode(&part);
        let got = scale_after(&tok, &part, &enc).scale();
        // Equal up to rounding: the encoder takes ln C_t - ln C_{t-1}, the replay ln(C_t / C_{t-1}).
        assert!(
            (got - enc.next_scale).abs() <= 1e-12 * enc.next_scale,
            "after {end} bars: {got} vs {}",
            enc.next_scale
        );
    }
}

fn setup() -> (Series, Tokenizer, Gpt) {
    let s = series();
    let tok = Tokenizer::fit(&TokenizerConfig::default(), &[s.slice(0..400)]).unwrap();
    let mut cfg = GptConfig::tiny(tok.vocab_size());
    cfg.max_ctx = 16;
    let (model, _) = Gpt::init(&cfg, 7, &Device::Cpu).unwrap();
    (s, tok, model)
}

fn params(horizon: usize, samples: usize) -> ForecastParams {
    ForecastParams {
        context_length: 12,
        horizon,
        num_samples: samples,
        sampling: Sampling::default(),
        seed: 3,
    }
}

/// Origins cut from one encoding of the whole series are the origins of its prefixes:
/// nothing after the origin bar reaches the prompt or the scale.
#[test]
fn origins_inside_a_series_equal_origins_at_the_end_of_its_prefixes() {
    let (s, tok, model) = setup();
    let bars = [20, 98, 99, 100, 101, 300, 499];
    let inside = origins_at(&tok, &s, &bars, 12, |_| 0);
    assert_eq!(inside.len(), bars.len());
    for (o, &b) in inside.iter().zip(&bars) {
        let end = origin_at_end(&model, &tok, "x", &s.slice(0..b + 1), 12, 0).unwrap();
        assert_eq!(o.prompt, end.prompt, "bar {b}");
        assert_eq!(o.close, end.close);
        let (a, e) = (o.vol.scale(), end.vol.scale());
        assert!((a - e).abs() <= 1e-12 * e, "bar {b}: {a} vs {e}");
    }
}

/// The cache changes the cost, not the paths: a full pass over the window at every
/// step samples the same bars (window slides included: 12 + 10 > 16).
#[test]
fn cached_and_uncached_rollouts_give_the_same_paths() {
    let (s, tok, model) = setup();
    let origins = origins_at(&tok, &s, &[200, 350, 499], 12, |k| 100 + k as u64);
    let p = params(10, 4);
    let cached = rollout(&model, &tok, &origins, &p, false).unwrap();
    let full = rollout(&model, &tok, &origins, &p, true).unwrap();
    assert_eq!(cached.len(), 3);
    for (a, b) in cached.iter().zip(&full) {
        for (pa, pb) in a.paths.iter().zip(&b.paths) {
            for (x, y) in pa.iter().zip(pb) {
                assert!(
                    (x.close - y.close).abs() <= 1e-9 * y.close,
                    "{x:?} vs {y:?}"
                );
            }
        }
    }
}

/// A path depends on its origin, key and index only, not on what else is in the batch.
#[test]
fn paths_do_not_depend_on_the_batch() {
    let (s, tok, model) = setup();
    let all: Vec<Origin> = origins_at(&tok, &s, &[150, 151, 400, 499], 12, |k| 9 + k as u64);
    let together = rollout(&model, &tok, &all, &params(6, 5), false).unwrap();
    let alone = rollout(&model, &tok, &all[2..3], &params(6, 3), false).unwrap();
    assert_eq!(&together[2].paths[..3], &alone[0].paths[..]);
    // sample_paths is the origin at the end keyed by seed ^ name.
    let end = sample_paths(&model, &tok, "x", &s, &params(6, 2)).unwrap();
    let o = origin_at_end(&model, &tok, "x", &s, 12, 3).unwrap();
    let again = rollout(&model, &tok, &[o], &params(6, 2), false).unwrap();
    assert_eq!(end, again[0]);
}

/// The GPT behind the `Forecaster` trait: multi-step distributions at an origin do
/// not depend on the other origins asked for, and step 1 of the paths agrees with
/// the exact one-step mixture in the mean of its CRPS (sampling noise only).
#[test]
fn the_gpt_forecaster_is_batch_independent_and_consistent_with_one_step() {
    use candlecast_forecast::{Forecaster, GptForecaster};
    let (s, tok, model) = setup();
    let f = GptForecaster {
        name: "gpt",
        model: &model,
        tokenizer: &tok,
        context: 12,
        temperature: 1.0,
        top_p: None,
        batch: 64,
    };
    let split = 400;
    let origins: Vec<usize> = (399..499).collect();
    let all = f.multi_step(&s, split, &origins, 3, 400, 5).unwrap();
    let one = f
        .multi_step(&s, split, &origins[10..11], 3, 400, 5)
        .unwrap();
    for k in 0..3 {
        let (a, b) = (&all.preds[k][10], &one.preds[k][0]);
        for y in [-0.02, 0.0, 0.01] {
            assert_eq!(a.crps(y), b.crps(y));
        }
    }
    let exact = f.one_step(&s, split).unwrap();
    let c = s.close();
    let (mut sampled, mut mixture) = (0.0, 0.0);
    for (j, &o) in origins.iter().enumerate() {
        let y = (c[o + 1] / c[o]).ln();
        sampled += all.preds[0][j].crps(y);
        mixture += exact.preds[o + 1 - split].crps(y);
    }
    let rel = sampled / mixture;
    assert!((rel - 1.0).abs() < 0.05, "sampled / exact CRPS = {rel}");
}
