#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! No lookahead (issue 7): replacing every bar after t with different values must
//! not change any order decided, fill made, equity marked or forecast made up to t.

use candle_core::Device;
use candlecast_backtest::{
    run, synthetic, BrokerConfig, ForecastRule, ForecastStrategy, Run, RunOptions, Sizing,
    SmaCross, Strategy, Trigger, VolTarget, VolTargetRule,
};
use candlecast_data::{Bar, Series, SourceZone};
use candlecast_gpt::{Gpt, GptConfig, Sampling};
use candlecast_tokenize::{Tokenizer, TokenizerConfig};

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
