//! The model-driven trading rules: at each decision, sample paths of the next
//! bars from the GPT (each predicted bar fed back through the KV cache, in
//! `candlecast_forecast::sample_paths`) from the bars up to the decision only,
//! and take a position from the distribution of the path returns
//! ([`Trigger`]: the cost-aware rule or the P(up) threshold).

use super::{Context, Strategy, Target};
use crate::config::BrokerConfig;
use crate::error::BacktestError;
use crate::spec::{ForecastRule, Sizing, Trigger};
use candlecast_data::Timestamp;
use candlecast_forecast::{sample_paths, summarise_paths, ForecastParams, Paths};
use candlecast_gpt::{Gpt, Sampling};
use candlecast_tokenize::Tokenizer;
use serde::Serialize;
use std::borrow::Cow;

/// The quantiles `forecasts.csv` and the fan chart show.
pub const QUANTILE_LEVELS: [f64; 3] = [0.1, 0.5, 0.9];

/// One decision's forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastRecord {
    /// The decision bar (the forecast's origin).
    pub origin_bar: usize,
    pub origin_close: f64,
    /// Per step 1..=horizon: mean close and the closes at [`QUANTILE_LEVELS`].
    pub mean: Vec<f64>,
    pub quantiles: Vec<[f64; 3]>,
    /// Share of paths ending above the origin close.
    pub p_up: f64,
    /// Mean and standard deviation of the paths' log-return over the horizon.
    pub mean_log_return: f64,
    pub sd_log_return: f64,
    /// What the rule wanted (an order is placed only when it differs enough
    /// from what is held: a change of side, or a vol-target band crossing).
    pub wanted: Target,
}

/// The paths' log-returns over the horizon, summarised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PathStats {
    pub n: usize,
    pub mean: f64,
    /// Variance (divided by n).
    pub var: f64,
    pub p_up: f64,
}

impl PathStats {
    /// Of the closes `horizon` bars after the origin.
    pub fn of(paths: &Paths, horizon: usize) -> PathStats {
        let origin = paths.origin_close;
        let r: Vec<f64> = paths
            .paths
            .iter()
            .filter_map(|p| p.get(horizon.saturating_sub(1)))
            .map(|b| (b.close / origin).ln())
            .collect();
        let n = r.len().max(1) as f64;
        let mean = r.iter().sum::<f64>() / n;
        let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let p_up = r.iter().filter(|&&x| x > 0.0).count() as f64 / n;
        PathStats {
            n: r.len(),
            mean,
            var,
            p_up,
        }
    }

    /// The record of a decision at `bar` from these paths.
    pub fn record(&self, bar: usize, paths: &Paths, wanted: Target) -> ForecastRecord {
        let steps = summarise_paths(paths, &QUANTILE_LEVELS);
        ForecastRecord {
            origin_bar: bar,
            origin_close: paths.origin_close,
            mean: steps.iter().map(|s| s.mean).collect(),
            quantiles: steps
                .iter()
                .map(|s| [s.quantiles[0], s.quantiles[1], s.quantiles[2]])
                .collect(),
            p_up: self.p_up,
            mean_log_return: self.mean,
            sd_log_return: self.var.sqrt(),
            wanted,
        }
    }
}

/// Refuses a model that cannot run with this tokenizer and sampling, before
/// the first decision.
pub(crate) fn check_model(
    model: &Gpt,
    tok: &Tokenizer,
    sampling: Sampling,
) -> Result<(), BacktestError> {
    let (mv, tv) = (model.config().vocab_size, tok.vocab_size());
    if mv != tv {
        return Err(BacktestError::ModelTokenizerMismatch {
            model: mv,
            tokenizer: tv,
        });
    }
    sampling
        .validate()
        .map_err(|e| BacktestError::Config(e.to_string()))
}

/// A random stream per decision time: reproducible, and the same whatever the
/// window or how often decisions are made.
pub(crate) fn decision_seed(seed: u64, ts: Timestamp) -> u64 {
    seed ^ (ts.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// -1, 0 or 1: the side of `units` held.
pub(crate) fn side_of(units: f64) -> i8 {
    if units > 0.0 {
        1
    } else if units < 0.0 {
        -1
    } else {
        0
    }
}

/// Sample paths -> target position, see [`ForecastRule`].
pub struct ForecastStrategy<'m> {
    /// Borrowed as given; owned once a walk-forward refit replaces it
    /// ([`super::ModelStrategy::set_model`]).
    model: Cow<'m, Gpt>,
    tok: &'m Tokenizer,
    name: String,
    rule: ForecastRule,
    costs: BrokerConfig,
    context_length: usize,
    sampling: Sampling,
    seed: u64,
    records: Vec<ForecastRecord>,
}

impl<'m> ForecastStrategy<'m> {
    /// `name` keys the random streams (with `seed` and the decision time), so a
    /// run is reproducible and a decision does not depend on earlier ones.
    /// `costs` is the broker the run will use: the cost-aware rule weighs the
    /// expected return against its round trip.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: &'m Gpt,
        tok: &'m Tokenizer,
        name: &str,
        rule: ForecastRule,
        costs: &BrokerConfig,
        context_length: usize,
        sampling: Sampling,
        seed: u64,
    ) -> Result<ForecastStrategy<'m>, BacktestError> {
        check_model(model, tok, sampling)?;
        Ok(ForecastStrategy {
            model: Cow::Borrowed(model),
            tok,
            name: name.to_string(),
            rule,
            costs: costs.clone(),
            context_length: context_length.clamp(1, model.config().max_ctx),
            sampling,
            seed,
            records: Vec::new(),
        })
    }

    /// The position wanted, given what is held (`held`: its side and the
    /// fraction of equity it is worth).
    fn want(&self, s: &PathStats, origin: f64, held: (i8, f64), allow_short: bool) -> Target {
        let cap = self.rule.cap;
        let kelly = |edge: f64| {
            if s.var > 0.0 {
                (edge / s.var).clamp(0.0, cap)
            } else {
                0.0
            }
        };
        match self.rule.trigger {
            Trigger::Threshold { threshold, sizing } => {
                let size = |edge: f64| match sizing {
                    Sizing::Fixed => cap,
                    Sizing::Kelly => kelly(edge),
                };
                if s.p_up > threshold {
                    let f = size(s.mean);
                    if f > 0.0 {
                        return Target::Long(f);
                    }
                } else if allow_short && s.p_up < 1.0 - threshold {
                    let f = size(-s.mean);
                    if f > 0.0 {
                        return Target::Short(f);
                    }
                }
                Target::Flat
            }
            Trigger::Edge { margin } => {
                let noise = margin * (s.var / s.n.max(1) as f64).sqrt();
                let cost = self.costs.round_trip(origin);
                if s.mean - cost > noise && kelly(s.mean) > 0.0 {
                    return Target::Long(kelly(s.mean));
                }
                if allow_short && -s.mean - cost > noise && kelly(-s.mean) > 0.0 {
                    return Target::Short(kelly(-s.mean));
                }
                // Nothing worth paying a round trip for: keep what is held
                // unless holding it is expected to lose more than leaving
                // costs. No margin here: leaving lowers the risk and costs half
                // a round trip, while a position kept on a forecast that went
                // against it is a bet the forecast no longer supports.
                match held {
                    (1, _) if -s.mean > cost / 2.0 => Target::Flat,
                    (-1, _) if s.mean > cost / 2.0 => Target::Flat,
                    (1, f) => Target::Long(f),
                    (-1, f) => Target::Short(f),
                    _ => Target::Flat,
                }
            }
        }
    }
}

impl super::ModelStrategy for ForecastStrategy<'_> {
    fn set_model(&mut self, model: Gpt) {
        self.model = Cow::Owned(model);
    }
}

impl Strategy for ForecastStrategy<'_> {
    fn name(&self) -> String {
        match self.rule.trigger {
            Trigger::Edge { .. } => "forecast".into(),
            Trigger::Threshold { .. } => "forecast-threshold".into(),
        }
    }

    fn first_decision(&self) -> usize {
        // The forecaster needs `context` bars of tokens plus the origin bar.
        self.context_length
    }

    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
        let Some(bar) = ctx.history.now() else {
            return Ok(None);
        };
        let ts = ctx.history.timestamps()[bar];
        let params = ForecastParams {
            context_length: self.context_length,
            horizon: self.rule.horizon,
            num_samples: self.rule.samples,
            sampling: self.sampling,
            seed: decision_seed(self.seed, ts),
        };
        let prefix = ctx.history.to_series();
        let paths = sample_paths(&self.model, self.tok, &self.name, &prefix, &params).map_err(
            |source| BacktestError::Forecast {
                bar,
                ts: ts.to_rfc3339(),
                source,
            },
        )?;
        let stats = PathStats::of(&paths, self.rule.horizon);
        let side = side_of(ctx.position);
        let worth = match ctx.history.close().last() {
            Some(&c) if ctx.equity > 0.0 => (ctx.position * c / ctx.equity).abs(),
            _ => 0.0,
        };
        let wanted = self.want(&stats, paths.origin_close, (side, worth), ctx.allow_short);
        self.records.push(stats.record(bar, &paths, wanted));
        // Trade only on a change of side: resizing every bar would pay
        // commission on the whole position for a small change in the estimate.
        Ok((wanted.side() != side).then_some(wanted))
    }

    fn forecasts(&self) -> &[ForecastRecord] {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: f64, sd: f64, n: usize) -> PathStats {
        PathStats {
            n,
            mean,
            var: sd * sd,
            p_up: 0.5,
        }
    }

    /// The cost-aware rule's decisions, without a model: `want` only reads the
    /// rule, the costs and the path statistics.
    fn edge_want(s: &PathStats, held: (i8, f64), commission: f64) -> Target {
        let tok = Tokenizer::fit(
            &candlecast_tokenize::TokenizerConfig {
                return_bins: 8,
                wick_bins: 1,
                ..Default::default()
            },
            &[crate::synthetic::random_walk(200, 1).unwrap()],
        )
        .unwrap();
        let mut cfg = candlecast_gpt::GptConfig::tiny(tok.vocab_size());
        cfg.d_model = 8;
        cfg.n_head = 1;
        cfg.n_layer = 1;
        cfg.max_ctx = 4;
        let (model, _) = Gpt::init(&cfg, 1, &candle_core::Device::Cpu).unwrap();
        let costs = BrokerConfig {
            commission,
            ..Default::default()
        };
        let st = ForecastStrategy::new(
            &model,
            &tok,
            "x",
            ForecastRule {
                cap: 0.8,
                ..ForecastRule::edge()
            },
            &costs,
            4,
            Sampling::default(),
            0,
        )
        .unwrap();
        st.want(s, 100.0, held, true)
    }

    #[test]
    fn the_cost_aware_rule_needs_the_edge_to_beat_costs_and_noise() {
        // E = 0.95%, sd 4% over 100 paths: SE 0.4%, 2 SE = 0.8%.
        let s = stats(0.0095, 0.04, 100);
        assert_eq!(edge_want(&s, (0, 0.0), 0.0), Target::Long(0.8));
        // A round trip of 0.2% leaves 0.75%: not more than 2 SE.
        assert_eq!(edge_want(&s, (0, 0.0), 0.001), Target::Flat);
        // Sized by E / V when that is under the cap.
        let s = stats(0.005, 0.1, 10_000);
        assert_eq!(edge_want(&s, (0, 0.0), 0.001), Target::Long(0.005 / s.var));
        // The mirror image goes short.
        let s = stats(-0.02, 0.04, 100);
        assert_eq!(edge_want(&s, (0, 0.0), 0.001), Target::Short(0.8));
        // A held position is kept while the forecast does not say it loses
        // more than the exit costs (0.1%), and closed when it does.
        let s = stats(-0.0011, 0.04, 100);
        assert_eq!(edge_want(&s, (1, 0.5), 0.001), Target::Flat);
        assert_eq!(edge_want(&s, (-1, 0.5), 0.001), Target::Short(0.5));
        assert_eq!(edge_want(&s, (1, 0.5), 0.002), Target::Long(0.5));
        let s = stats(-0.001, 0.04, 100);
        assert_eq!(edge_want(&s, (1, 0.5), 0.001), Target::Long(0.5));
        assert_eq!(edge_want(&s, (0, 0.0), 0.001), Target::Flat);
    }
}
