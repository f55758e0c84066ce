#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! No lookahead (issue 7): replacing every bar after t with different values must
//! not change any order decided, fill made, equity marked or forecast made up to t.

use candle_core::Device;
use candlecast_backtest::{
    run, synthetic, BrokerConfig, ForecastRule, ForecastStrategy, GptRefitter, Refit, RefitError,
    Refitter, Refitting, Run, RunOptions, Sizing, SmaCross, Strategy, Trigger, VolTarget,
    VolTargetRule,
};
use candlecast_data::{Bar, Series, SourceZone};
use candlecast_gpt::{AdamWParams, Gpt, GptConfig, Sampling, TrainConfig, Trainer};
use candlecast_tokenize::{Tokenizer, TokenizerConfig};
use std::cell::RefCell;
use std::rc::Rc;

/// `s` with every bar after `t` replaced by another walk, rescaled to continue
/// from bar t's close.
fn rewrite_after(s: &Series, t: usize, seed: u64) -> Series {
    let other = synthetic::random_walk(s.len(), seed).unwrap();
    let k = s.close()[t] / other.close()[t] * 1.3;
    let bars: Vec<Bar> = s
        .bars()
        .zip(other.bars())
        .enumerate()
        .map(|(i, (a, b))| {
            if i <= t {
                a
            } else {
                Bar {
                    ts: a.ts,
                    open: b.open * k,
                    high: b.high * k,
                    low: b.low * k,
                    close: b.close * k,
                    volume: 7.0,
                }
            }
        })
        .collect();
    Series::from_bars(None, SourceZone::Utc, &bars).unwrap()
}

fn assert_same_up_to(a: &Run, b: &Run, t: usize) {
    let orders = |r: &Run| -> Vec<_> {
        r.orders
            .iter()
            .filter(|o| o.decided_bar <= t)
            // Whether the order decided at t fills depends on bar t + 1.
            .map(|o| (o.decided_bar, o.target, o.decided_bar < t && o.filled))
            .collect()
    };
    assert_eq!(orders(a), orders(b), "orders up to bar {t}");
    let fills = |r: &Run| -> Vec<_> { r.fills.iter().filter(|f| f.bar <= t).cloned().collect() };
    assert_eq!(fills(a), fills(b), "fills up to bar {t}");
    let ws = a.window_start;
    assert_eq!(
        a.equity[..=t - ws],
        b.equity[..=t - ws],
        "equity up to bar {t}"
    );
    let closed = |r: &Run| -> Vec<_> {
        r.trades
            .iter()
            .filter(|x| x.exit_bar <= t)
            .cloned()
            .collect()
    };
    assert_eq!(closed(a), closed(b), "trades closed by bar {t}");
    let fc = |r: &Run| -> Vec<_> {
        r.forecasts
            .iter()
            .filter(|f| f.origin_bar <= t)
            .cloned()
            .collect()
    };
    assert_eq!(fc(a), fc(b), "forecasts up to bar {t}");
    // The test must be able to fail: the futures differ.
    assert_ne!(a.equity.last(), b.equity.last());
}

fn broker() -> BrokerConfig {
    BrokerConfig {
        cash: 10_000.0,
        commission: 0.001,
        ..Default::default()
    }
}

#[test]
fn sma_cross_does_not_look_ahead() {
    let s = synthetic::random_walk(3_000, 11).unwrap();
    for t in [40, 777, 1500, 2998] {
        let s2 = rewrite_after(&s, t, 99);
        let go = |x: &Series| {
            run(
                x,
                &mut SmaCross::new(5, 12),
                &broker(),
                &RunOptions::default(),
                &mut |_| {},
            )
            .unwrap()
        };
        let (a, b) = (go(&s), go(&s2));
        assert!(a.orders.iter().filter(|o| o.decided_bar <= t).count() > 1);
        assert_same_up_to(&a, &b, t);
    }
}

#[test]
fn forecast_strategy_does_not_look_ahead() {
    let s = synthetic::random_walk(240, 5).unwrap();
    // A tokenizer fitted on the first bars only and an untrained (random) model:
    // what matters here is what the strategy can see, not what it predicts.
    let tok = Tokenizer::fit(
        &TokenizerConfig {
            return_bins: 16,
            wick_bins: 2,
            ..TokenizerConfig::default()
        },
        &[s.slice(0..100)],
    )
    .unwrap();
    let mut cfg = GptConfig::tiny(tok.vocab_size());
    cfg.d_model = 16;
    cfg.n_head = 2;
    cfg.n_layer = 1;
    cfg.max_ctx = 16;
    let (model, _vars) = Gpt::init(&cfg, 3, &Device::Cpu).unwrap();
    let rule = ForecastRule {
        horizon: 3,
        samples: 16,
        cap: 1.0,
        trigger: Trigger::Threshold {
            threshold: 0.5,
            sizing: Sizing::Fixed,
        },
    };
    let opts = RunOptions {
        window_start: 20,
        decide_every: 2,
        allow_short: true,
    };
    let go = |x: &Series| {
        let mut st = ForecastStrategy::new(
            &model,
            &tok,
            "walk",
            rule,
            &broker(),
            16,
            Sampling::default(),
            1,
        )
        .unwrap();
        assert_eq!(st.first_decision(), 16);
        run(x, &mut st, &broker(), &opts, &mut |_| {}).unwrap()
    };
    let a = go(&s);
    assert!(a.forecasts.len() > 50, "{}", a.forecasts.len());
    assert!(
        a.fills.len() > 4,
        "the random model should trade: {}",
        a.fills.len()
    );
    for t in [60, 151, 238] {
        let b = go(&rewrite_after(&s, t, 77));
        assert_same_up_to(&a, &b, t);
    }
}

#[test]
fn vol_target_does_not_look_ahead() {
    let s = synthetic::random_walk(240, 6).unwrap();
    let tok = Tokenizer::fit(
        &TokenizerConfig {
            return_bins: 16,
            wick_bins: 2,
            ..TokenizerConfig::default()
        },
        &[s.slice(0..100)],
    )
    .unwrap();
    let mut cfg = GptConfig::tiny(tok.vocab_size());
    cfg.d_model = 16;
    cfg.n_head = 2;
    cfg.n_layer = 1;
    cfg.max_ctx = 16;
    let (model, _vars) = Gpt::init(&cfg, 4, &Device::Cpu).unwrap();
    let opts = RunOptions {
        window_start: 20,
        decide_every: 1,
        allow_short: false,
    };
    // The one-step mixture and paths; a band of 0 rebalances at every decision.
    for horizon in [1, 3] {
        let rule = VolTargetRule {
            target: 0.5,
            band: 0.0,
            horizon,
            samples: 8,
            ..Default::default()
        };
        let go = |x: &Series| {
            let mut st =
                VolTarget::new(&model, &tok, "walk", rule, 16, Sampling::default(), 1).unwrap();
            let b = BrokerConfig {
                units: candlecast_backtest::Units::Fractional,
                ..broker()
            };
            run(x, &mut st, &b, &opts, &mut |_| {}).unwrap()
        };
        let a = go(&s);
        assert!(a.forecasts.len() > 200, "{}", a.forecasts.len());
        assert!(a.fills.len() > 50, "it should rebalance: {}", a.fills.len());
        for t in [60, 151, 238] {
            let b = go(&rewrite_after(&s, t, 78));
            assert_same_up_to(&a, &b, t);
        }
    }
}

/// A refitter that keeps what it was given and returns the model unchanged.
struct Recorder {
    model: Gpt,
    seen: Rc<RefCell<Vec<Series>>>,
}

impl Refitter for Recorder {
    fn refit(&mut self, history: &Series, _index: usize) -> Result<Refit, RefitError> {
        self.seen.borrow_mut().push(history.clone());
        Ok(Refit {
            model: self.model.clone(),
            tokens: 0,
            steps: 0,
            loss_start: 0.0,
            loss_end: 0.0,
        })
    }
}

/// A tokenizer fitted on the first 100 bars and a random one-layer model.
fn tiny_model(s: &Series, seed: u64) -> (Tokenizer, Gpt, candlecast_gpt::Trainer) {
    let tok = Tokenizer::fit(
        &TokenizerConfig {
            return_bins: 16,
            wick_bins: 2,
            ..TokenizerConfig::default()
        },
        &[s.slice(0..100)],
    )
    .unwrap();
    let mut cfg = GptConfig::tiny(tok.vocab_size());
    cfg.d_model = 16;
    cfg.n_head = 2;
    cfg.n_layer = 1;
    cfg.max_ctx = 16;
    let (model, vars) = Gpt::init(&cfg, seed, &Device::Cpu).unwrap();
    let train = TrainConfig {
        steps: 1,
        batch_size: 4,
        seq_len: 16,
        lr: 3e-3,
        min_lr: 3e-4,
        warmup_steps: 0,
        grad_clip: 1.0,
        eval_every: 1,
        eval_windows: 4,
        patience: 0,
        checkpoint_every: 0,
        seed: 0,
        freeze_blocks: 0,
        target_smoothing: 0.0,
        ema: 0.0,
        min_epochs: 0.0,
        optimizer: AdamWParams::default(),
    };
    let trainer = Trainer::new(model.clone(), vars, train).unwrap();
    (tok, model, trainer)
}

/// Every refit is handed exactly the bars up to and including its bar (the
/// decision there may use that bar's close), at the window's bar N, 2N, ...;
/// with decide_every, at the first decision from each due bar.
#[test]
fn each_refit_is_given_exactly_the_bars_up_to_its_bar() {
    let s = synthetic::random_walk(240, 8).unwrap();
    let (tok, model, _) = tiny_model(&s, 5);
    let rule = VolTargetRule {
        horizon: 1,
        ..Default::default()
    };
    for (every, decide_every, want) in [
        (50, 1, vec![80, 130, 180, 230]),
        // Decisions at 30, 37, 44, ...: due at 80 -> 86, 130 -> 135, 180 -> 184, 230 -> 233.
        (50, 7, vec![86, 135, 184, 233]),
        (1000, 1, vec![]),
    ] {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let inner = VolTarget::new(&model, &tok, "walk", rule, 16, Sampling::default(), 1).unwrap();
        let rec = Recorder {
            model: model.clone(),
            seen: Rc::clone(&seen),
        };
        let opts = RunOptions {
            window_start: 30,
            decide_every,
            allow_short: false,
        };
        let mut st = Refitting::new(inner, Box::new(rec), every, opts.window_start).unwrap();
        let r = run(&s, &mut st, &broker(), &opts, &mut |_| {}).unwrap();
        let bars: Vec<usize> = r.refits.iter().map(|x| x.bar).collect();
        assert_eq!(bars, want, "every {every}, decide every {decide_every}");
        let seen = seen.borrow();
        assert_eq!(seen.len(), want.len());
        for (h, rec) in seen.iter().zip(&r.refits) {
            assert_eq!(h.len(), rec.bar + 1);
            assert_eq!(rec.bars, rec.bar + 1);
            assert_eq!(h.last_ts(), Some(s.timestamps()[rec.bar]));
            assert_eq!(
                h.bars().collect::<Vec<_>>(),
                s.slice(0..rec.bar + 1).bars().collect::<Vec<_>>()
            );
            assert_eq!(rec.ts, s.timestamps()[rec.bar]);
        }
    }
    assert!(Refitting::new(
        VolTarget::new(&model, &tok, "walk", rule, 16, Sampling::default(), 1).unwrap(),
        Box::new(Recorder {
            model: model.clone(),
            seen: Rc::default(),
        }),
        0,
        30
    )
    .is_err());
}

/// With real fine-tuning: replacing every bar after t changes no refit made
/// at or before t (its losses, and through its weights every forecast and
/// order up to t), while later refits do change; the same inputs give the
/// same run, and the refits change the forecasts after the first one.
#[test]
fn refits_do_not_look_ahead() {
    let s = synthetic::random_walk(240, 9).unwrap();
    let rule = VolTargetRule {
        target: 0.5,
        band: 0.0,
        horizon: 1,
        ..Default::default()
    };
    let opts = RunOptions {
        window_start: 40,
        decide_every: 1,
        allow_short: false,
    };
    let b = BrokerConfig {
        units: candlecast_backtest::Units::Fractional,
        ..broker()
    };
    let go = |x: &Series, refit: bool| {
        let (tok, model, trainer) = tiny_model(&s, 6);
        let inner = VolTarget::new(&model, &tok, "walk", rule, 16, Sampling::default(), 1).unwrap();
        if !refit {
            let mut st = inner;
            return run(x, &mut st, &b, &opts, &mut |_| {}).unwrap();
        }
        let refitter = GptRefitter::new(trainer, &tok, 4, 3).unwrap();
        assert_eq!(refitter.schedule().steps, 4);
        let mut st = Refitting::new(inner, Box::new(refitter), 60, opts.window_start).unwrap();
        run(x, &mut st, &b, &opts, &mut |_| {}).unwrap()
    };
    let a = go(&s, true);
    let bars: Vec<usize> = a.refits.iter().map(|r| r.bar).collect();
    assert_eq!(bars, [100, 160, 220]);
    assert!(a.refits.iter().all(|r| r.steps == 4 && r.tokens > 16));
    assert!(a
        .refits
        .iter()
        .all(|r| r.loss_start.is_finite() && r.loss_end.is_finite()));
    assert_eq!(go(&s, true), a, "same inputs, same run");

    // The refits matter: before the first one the plain run is the same, after it not.
    let plain = go(&s, false);
    assert!(plain.refits.is_empty());
    let fc = |r: &Run, lo: usize, hi: usize| -> Vec<_> {
        r.forecasts
            .iter()
            .filter(|f| f.origin_bar >= lo && f.origin_bar < hi)
            .cloned()
            .collect()
    };
    assert_eq!(fc(&a, 0, 100), fc(&plain, 0, 100));
    assert_ne!(fc(&a, 100, 101), fc(&plain, 100, 101));

    // At a refit bar (the refit may use it), between refits and after the last.
    for t in [100, 130, 160, 221] {
        let other = go(&rewrite_after(&s, t, 79), true);
        assert_same_up_to(&a, &other, t);
        let upto =
            |r: &Run| -> Vec<_> { r.refits.iter().filter(|x| x.bar <= t).cloned().collect() };
        assert_eq!(upto(&a), upto(&other), "refits up to bar {t}");
        let after =
            |r: &Run| -> Vec<_> { r.refits.iter().filter(|x| x.bar > t).cloned().collect() };
        if !after(&a).is_empty() {
            assert_ne!(
                after(&a),
                after(&other),
                "refits after bar {t} see other bars"
            );
        }
    }
}
