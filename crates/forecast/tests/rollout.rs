#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The rollout's scale state continues exactly where the tokenizer's encoding ends.

use candle_core::Device;
use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_forecast::{
    origin_at_end, origins_at, rollout, sample_paths, scale_after, ForecastParams, Forecaster,
    GptForecaster, Origin,
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

/// The default tokenizer's config, and one whose scale also reads the bars' ranges.
fn scale_configs() -> [TokenizerConfig; 2] {
    [
        TokenizerConfig::default(),
        TokenizerConfig {
            range_weight: 0.5,
            ..TokenizerConfig::default()
        },
    ]
}

#[test]
fn scale_after_the_history_equals_the_encoders_next_scale() {
    let s = series();
    for cfg in scale_configs() {
        scale_after_equals_the_encoder(&s, &cfg);
    }
}

fn scale_after_equals_the_encoder(s: &Series, cfg: &TokenizerConfig) {
    let tok = Tokenizer::fit(cfg, &[s.slice(0..400)]).unwrap();
    for end in [50, 99, 100, 101, 250, 500] {
        let part = s.slice(0..end);
        let enc = tok.encode(&part);
        let got = scale_after(&tok, &part, &enc).scale();
        // Equal up to rounding: the encoder takes ln C_t - ln C_{t-1}, the replay ln(C_t / C_{t-1}).
        assert!(
            (got - enc.next_scale).abs() <= 1e-12 * enc.next_scale,
            "range weight {}, after {end} bars: {got} vs {}",
            cfg.range_weight,
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
    for cfg in scale_configs() {
        let (s, tok, model) = setup_with(cfg);
        origins_inside_equal_prefix_origins(&s, &tok, &model);
    }
}

fn origins_inside_equal_prefix_origins(s: &Series, tok: &Tokenizer, model: &Gpt) {
    let bars = [20, 98, 99, 100, 101, 300, 499];
    let inside = origins_at(tok, s, &bars, 12, |_| 0).unwrap();
    assert_eq!(inside.len(), bars.len());
    for (o, &b) in inside.iter().zip(&bars) {
        let end = origin_at_end(model, tok, "x", &s.slice(0..b + 1), 12, 0).unwrap();
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
    let origins = origins_at(&tok, &s, &[200, 350, 499], 12, |k| 100 + k as u64).unwrap();
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
    let all: Vec<Origin> =
        origins_at(&tok, &s, &[150, 151, 400, 499], 12, |k| 9 + k as u64).unwrap();
    let together = rollout(&model, &tok, &all, &params(6, 5), false).unwrap();
    let alone = rollout(&model, &tok, &all[2..3], &params(6, 3), false).unwrap();
    assert_eq!(&together[2].paths[..3], &alone[0].paths[..]);
    // sample_paths is the origin at the end keyed by seed ^ name.
    let end = sample_paths(&model, &tok, "x", &s, &params(6, 2)).unwrap();
    let o = origin_at_end(&model, &tok, "x", &s, 12, 3).unwrap();
    let again = rollout(&model, &tok, &[o], &params(6, 2), false).unwrap();
    assert_eq!(end, again[0]);
}

/// Batches of any size give the same paths: with 7 rows per batch an origin's 20
/// paths split into runs of 7, 7 and 6 (and several origins never share a batch),
/// with 8192 they all decode at once; the chunks come in path order per origin and
/// the summary from the close columns equals the one from whole paths.
#[test]
fn chunked_rollouts_do_not_depend_on_the_chunk_size() {
    use candlecast_forecast::{rollout_chunked, summarise_columns, summarise_paths, PathChunk};
    let (s, tok, model) = setup();
    let all: Vec<Origin> = origins_at(&tok, &s, &[150, 400, 499], 12, |k| 21 + k as u64).unwrap();
    let p = params(6, 20);
    let whole = rollout(&model, &tok, &all, &p, false).unwrap();
    for rows in [1, 7, 20, 8192] {
        let mut got: Vec<Vec<Vec<Bar>>> = vec![vec![]; all.len()];
        let mut sizes = vec![];
        rollout_chunked(
            &model,
            &tok,
            &all,
            &p,
            false,
            rows,
            |c: PathChunk<'_>| -> Result<(), candlecast_forecast::ForecastError> {
                assert_eq!(c.first, got[c.origin].len(), "chunks out of order");
                got[c.origin].extend_from_slice(c.paths);
                sizes.push(c.paths.len());
                Ok(())
            },
        )
        .unwrap();
        assert!(sizes.iter().all(|&n| n <= rows.max(1)), "{rows}: {sizes:?}");
        for (g, w) in got.iter().zip(&whole) {
            assert_eq!(g, &w.paths, "{rows} rows per batch");
        }
    }
    let q = [0.1, 0.5, 0.9];
    for w in &whole {
        let columns: Vec<Vec<f64>> = (0..6)
            .map(|k| w.paths.iter().map(|path| path[k].close).collect())
            .collect();
        assert_eq!(
            summarise_columns(w.origin_close, &columns, &q),
            summarise_paths(w, &q)
        );
    }
}

/// The model as trained (T = 1, no top-p, spread 1) behind the `Forecaster` trait.
fn plain_gpt<'a>(model: &'a Gpt, tok: &'a Tokenizer) -> GptForecaster<'a> {
    GptForecaster {
        name: "gpt",
        model,
        tokenizer: tok,
        context: 12,
        temperature: 1.0,
        top_p: None,
        spread: 1.0,
        spread_growth: 0.0,
        batch: 64,
    }
}

/// The GPT behind the `Forecaster` trait: multi-step distributions at an origin do
/// not depend on the other origins asked for, and step 1 of the paths agrees with
/// the exact one-step mixture in the mean of its CRPS (sampling noise only).
#[test]
fn the_gpt_forecaster_is_batch_independent_and_consistent_with_one_step() {
    let (s, tok, model) = setup();
    let f = plain_gpt(&model, &tok);
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

/// `gpt-cal`'s spread multiplies what the model decodes and nothing else: the
/// same paths (same seed) with every cumulative return doubled, and the one-step
/// mixture with every atom doubled; its growth stretches paths only.
#[test]
fn a_spread_scales_paths_and_one_step_returns_and_changes_nothing_else() {
    let (s, tok, model) = setup();
    let plain = plain_gpt(&model, &tok);
    let wide = GptForecaster {
        spread: 2.0,
        ..plain
    };
    let (split, origins) = (400, [420usize, 450]);
    let a = plain.multi_step(&s, split, &origins, 3, 200, 5).unwrap();
    let b = wide.multi_step(&s, split, &origins, 3, 200, 5).unwrap();
    for k in 0..3 {
        for j in 0..origins.len() {
            for tau in [0.05, 0.3, 0.5, 0.9] {
                let (qa, qb) = (a.preds[k][j].quantile(tau), b.preds[k][j].quantile(tau));
                assert!(
                    (qb - 2.0 * qa).abs() <= 1e-12 * qa.abs().max(1e-9),
                    "{qa} {qb}"
                );
            }
        }
    }
    // A growth of 0.5 stretches step k by sqrt(k) on paths and leaves one step be.
    let grown = GptForecaster {
        spread_growth: 0.5,
        ..plain
    };
    let g = grown.multi_step(&s, split, &origins, 3, 200, 5).unwrap();
    for k in 0..3 {
        let f = ((k + 1) as f64).sqrt();
        for j in 0..origins.len() {
            for tau in [0.05, 0.5, 0.9] {
                let (qa, qg) = (a.preds[k][j].quantile(tau), g.preds[k][j].quantile(tau));
                assert!(
                    (qg - f * qa).abs() <= 1e-12 * qa.abs().max(1e-9),
                    "{qa} {qg}"
                );
            }
        }
    }
    let (a, b) = (
        plain.one_step(&s, split).unwrap(),
        wide.one_step(&s, split).unwrap(),
    );
    let one_grown = grown.one_step(&s, split).unwrap();
    for (pa, pg) in a.preds.iter().zip(&one_grown.preds).take(20) {
        assert_eq!(pa.crps(0.003), pg.crps(0.003));
    }
    for (pa, pb) in a.preds.iter().zip(&b.preds).take(20) {
        for y in [-0.01, 0.0, 0.004] {
            let (ca, cb) = (pa.crps(y), pb.crps(2.0 * y));
            assert!((cb - 2.0 * ca).abs() <= 1e-12 * ca.max(1e-12), "{ca} {cb}");
        }
    }
}

/// A tokenizer with the calendar and relative-volume inputs, and a model with the
/// same channels.
fn setup_inputs() -> (Series, Tokenizer, Gpt) {
    setup_with(TokenizerConfig {
        calendar: true,
        volume_input_bins: 4,
        ..TokenizerConfig::default()
    })
}

/// A tokenizer of `cfg` fitted on the first 400 bars, and a model with its channels.
fn setup_with(cfg: TokenizerConfig) -> (Series, Tokenizer, Gpt) {
    let s = series();
    let tok = Tokenizer::fit(&cfg, &[s.slice(0..400)]).unwrap();
    let mut gcfg = GptConfig::tiny(tok.vocab_size());
    gcfg.max_ctx = 16;
    gcfg.inputs = tok
        .input_channels()
        .into_iter()
        .map(|(name, size)| candlecast_gpt::InputChannel { name, size })
        .collect();
    let (model, _) = Gpt::init(&gcfg, 7, &Device::Cpu).unwrap();
    (s, tok, model)
}

/// With inputs on: origins inside a series carry the ids of the prefix's origin,
/// the cache gives the paths of the full pass, the future's ids are those of the
/// stamped bars, and a model whose channels differ from the tokenizer's is refused.
#[test]
fn rollouts_with_inputs() {
    let (s, tok, model) = setup_inputs();
    let bars = [20, 99, 100, 300, 499];
    let inside = origins_at(&tok, &s, &bars, 12, |_| 0).unwrap();
    for (o, &b) in inside.iter().zip(&bars) {
        let end = origin_at_end(&model, &tok, "x", &s.slice(0..b + 1), 12, 0).unwrap();
        assert_eq!(o.inputs.len(), 3 * o.prompt.len());
        assert_eq!(o.inputs, end.inputs, "bar {b}");
        let (a, e) = (o.future.as_ref().unwrap(), end.future.as_ref().unwrap());
        assert_eq!(a.ids(30), e.ids(30), "bar {b}");
    }
    // The future's calendar: hourly bars after bar 499, stamped as forecast does.
    let f = inside[4].future.as_ref().unwrap();
    let stamps = candlecast_forecast::future_timestamps(&s, 3);
    assert_eq!(f.ids(3).len(), 9);
    let want = tok.future_inputs(&s, 499).unwrap().unwrap().ids(&stamps);
    assert_eq!(f.ids(3), want);
    assert!(
        want.chunks(3).all(|c| c[0] >= 1 && c[1] >= 1 && c[2] >= 1),
        "{want:?}"
    );

    let p = params(10, 4);
    let cached = rollout(&model, &tok, &inside[2..], &p, false).unwrap();
    let full = rollout(&model, &tok, &inside[2..], &p, true).unwrap();
    for (a, b) in cached.iter().zip(&full) {
        for (pa, pb) in a.paths.iter().zip(&b.paths) {
            for (x, y) in pa.iter().zip(pb) {
                assert!((x.close - y.close).abs() <= 1e-9 * y.close);
            }
        }
    }
    // The ids reach the model: other future calendars give other paths. (The
    // origin moves by three days: five hours would still reach the same first
    // session hours of the series' calendar, and so the same stamps.)
    let mut moved = inside[4].clone();
    if let Some(f) = moved.future.as_mut() {
        f.last = candlecast_data::Timestamp(f.last.0 + 77 * 3_600_000);
    }
    let ids = |o: &candlecast_forecast::Origin| o.future.as_ref().map(|f| f.ids(6));
    assert_ne!(ids(&inside[4]), ids(&moved));
    let a = rollout(&model, &tok, &inside[4..5], &params(6, 8), false).unwrap();
    let b = rollout(&model, &tok, &[moved], &params(6, 8), false).unwrap();
    assert_ne!(a, b);

    let (_, _, plain) = setup();
    let e = rollout(&plain, &tok, &inside, &p, false);
    assert!(
        matches!(
            e,
            Err(candlecast_forecast::ForecastError::InputsMismatch { .. })
        ),
        "{e:?}"
    );
    let e = candlecast_forecast::gpt_logits(
        &plain,
        &tok,
        &s,
        400,
        candlecast_forecast::GptForecastParams {
            context: 12,
            temperature: 1.0,
            batch: 8,
        },
    );
    assert!(e.is_err());
}

/// The one-step logits with inputs run, and do not depend on how targets are batched
/// (each context carries its own ids).
#[test]
fn one_step_logits_use_the_context_ids() {
    let (s, tok, model) = setup_inputs();
    let p = candlecast_forecast::GptForecastParams {
        context: 12,
        temperature: 1.0,
        batch: 7,
    };
    let a = candlecast_forecast::gpt_logits(&model, &tok, &s, 480, p).unwrap();
    let b = candlecast_forecast::gpt_logits(
        &model,
        &tok,
        &s,
        480,
        candlecast_forecast::GptForecastParams { batch: 64, ..p },
    )
    .unwrap();
    assert_eq!(a.len(), b.len());
    // A calibration slice this short is not thinned: the same targets and logits.
    let c = candlecast_forecast::calibration_logits(&model, &tok, &s, 480, p).unwrap();
    let (oa, oc) = (a.at("gpt", 1.0), c.at("gpt", 1.0));
    assert_eq!(oa.targets, oc.targets);
    for (x, y) in oa.preds.iter().zip(&oc.preds) {
        assert_eq!(x.crps(0.003), y.crps(0.003));
    }
    let (oa, ob) = (a.at("gpt", 1.0), b.at("gpt", 1.0));
    for (x, y) in oa.preds.iter().zip(&ob.preds) {
        for q in [-0.01, 0.0, 0.01] {
            assert!((x.crps(q) - y.crps(q)).abs() < 1e-9);
        }
    }
}

/// The one-step mixture at the end of a prefix is the one `gpt_logits` gives
/// for the next bar inside the series (same prompt, inputs and scale), with and
/// without input channels; its moments are those of its atoms.
#[test]
fn next_bar_mixture_equals_the_one_step_forecast_inside_the_series() {
    for (s, tok, model) in [setup(), setup_inputs()] {
        let sampling = Sampling {
            temperature: 0.9,
            top_k: None,
            top_p: Some(0.95),
        };
        let p = candlecast_forecast::GptForecastParams {
            context: 12,
            temperature: 1.0,
            batch: 64,
        };
        // Bar 101 is the second after a gap; 300 is inside a segment.
        for bar in [101, 300, 450] {
            let one = candlecast_forecast::gpt_logits(&model, &tok, &s, bar, p)
                .unwrap()
                .sampled("gpt", sampling);
            let next = candlecast_forecast::gpt_next(&model, &tok, &s.slice(0..bar), 12, sampling)
                .unwrap();
            let (a, b) = (one.preds[0].moments(), next.moments());
            assert!(a.1 > 0.0);
            // Equal up to f32 rounding: one prompt alone vs a batch of them.
            assert!(
                (a.0 - b.0).abs() <= 1e-6 * a.1.sqrt() && (a.1 - b.1).abs() <= 1e-6 * a.1,
                "bar {bar}: {a:?} vs {b:?}"
            );
            for tau in [0.05, 0.5, 0.95] {
                assert_eq!(one.preds[0].quantile(tau), next.quantile(tau), "bar {bar}");
            }
        }
    }
}

/// With the regime inputs on (ids that follow each path's own bars): origins inside
/// a series carry the regime state of the prefix's origin, the cache gives the
/// paths of the full pass, the regime ids reach the model, and an origin without a
/// regime state is refused.
#[test]
fn rollouts_with_regime_inputs() {
    let (s, tok, model) = setup_with(TokenizerConfig {
        calendar: true,
        regime_input_bins: 4,
        ..TokenizerConfig::default()
    });
    let bars = [20, 99, 100, 300, 499];
    let inside = origins_at(&tok, &s, &bars, 12, |_| 0).unwrap();
    for (o, &b) in inside.iter().zip(&bars) {
        let end = origin_at_end(&model, &tok, "x", &s.slice(0..b + 1), 12, 0).unwrap();
        assert_eq!(o.inputs.len(), 4 * o.prompt.len());
        assert_eq!(o.inputs, end.inputs, "bar {b}");
        assert!(o.regime.is_some());
        assert_eq!(o.regime, end.regime, "bar {b}");
        assert_eq!(o.future.as_ref().unwrap().ids(5).len(), 2 * 5);
    }
    let p = params(10, 4);
    let cached = rollout(&model, &tok, &inside[2..], &p, false).unwrap();
    let full = rollout(&model, &tok, &inside[2..], &p, true).unwrap();
    for (a, b) in cached.iter().zip(&full) {
        for (pa, pb) in a.paths.iter().zip(&b.paths) {
            for (x, y) in pa.iter().zip(pb) {
                assert!((x.close - y.close).abs() <= 1e-9 * y.close);
            }
        }
    }
    // Another regime state (the range of a much wilder history) gives other paths.
    let mut moved = inside[4].clone();
    if let Some(r) = moved.regime.as_mut() {
        for _ in 0..50 {
            r.observe(1.5, 1.0);
        }
    }
    let a = rollout(&model, &tok, &inside[4..5], &params(6, 8), false).unwrap();
    let b = rollout(&model, &tok, &[moved.clone()], &params(6, 8), false).unwrap();
    assert_ne!(a, b);
    moved.regime = None;
    let e = rollout(&model, &tok, &[moved], &params(6, 8), false);
    assert!(
        matches!(
            e,
            Err(candlecast_forecast::ForecastError::OriginInputs { .. })
        ),
        "{e:?}"
    );
}
