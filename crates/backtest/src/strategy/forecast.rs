//! The model-driven strategy: at each decision, sample paths of the next bars
//! from the GPT (each predicted bar fed back through the KV cache, in
//! `candlecast_forecast::sample_paths`) from the bars up to the decision only,
//! and take a position from the distribution of the path returns.

use super::{Context, Strategy, Target};
use crate::error::BacktestError;
use crate::spec::{ForecastRule, Sizing};
use candlecast_forecast::{sample_paths, summarise_paths, ForecastParams};
use candlecast_gpt::{Gpt, Sampling};
use candlecast_tokenize::Tokenizer;
use serde::Serialize;

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
    /// What the rule wanted (the order is only placed when it changes the side).
    pub wanted: Target,
}

/// Sample paths -> target position, see [`ForecastRule`].
pub struct ForecastStrategy<'m> {
    model: &'m Gpt,
    tok: &'m Tokenizer,
    name: String,
    rule: ForecastRule,
    context_length: usize,
    sampling: Sampling,
    seed: u64,
    records: Vec<ForecastRecord>,
}

impl<'m> ForecastStrategy<'m> {
    /// `name` keys the random streams (with `seed` and the decision time), so a
    /// run is reproducible and a decision does not depend on earlier ones.
    pub fn new(
        model: &'m Gpt,
        tok: &'m Tokenizer,
        name: &str,
        rule: ForecastRule,
        context_length: usize,
        sampling: Sampling,
        seed: u64,
    ) -> Result<ForecastStrategy<'m>, BacktestError> {
        let (mv, tv) = (model.config().vocab_size, tok.vocab_size());
        if mv != tv {
            return Err(BacktestError::ModelTokenizerMismatch {
                model: mv,
                tokenizer: tv,
            });
        }
        sampling
            .validate()
            .map_err(|e| BacktestError::Config(e.to_string()))?;
        Ok(ForecastStrategy {
            model,
            tok,
            name: name.to_string(),
            rule,
            context_length: context_length.clamp(1, model.config().max_ctx),
            sampling,
            seed,
            records: Vec::new(),
        })
    }

    fn want(&self, p_up: f64, mu: f64, var: f64, allow_short: bool) -> Target {
        let r = &self.rule;
        let size = |edge: f64| match r.sizing {
            Sizing::Fixed => r.cap,
            Sizing::Kelly if var > 0.0 => (edge / var).clamp(0.0, r.cap),
            Sizing::Kelly => 0.0,
        };
        if p_up > r.threshold {
            let f = size(mu);
            if f > 0.0 {
                return Target::Long(f);
            }
        } else if allow_short && p_up < 1.0 - r.threshold {
            let f = size(-mu);
            if f > 0.0 {
                return Target::Short(f);
            }
        }
        Target::Flat
    }
}

impl Strategy for ForecastStrategy<'_> {
    fn name(&self) -> String {
        "forecast".into()
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
            // A stream per decision time: reproducible, and the same whatever
            // the window or how often decisions are made.
            seed: self.seed ^ (ts.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        };
        let prefix = ctx.history.to_series();
        let paths =
            sample_paths(self.model, self.tok, &self.name, &prefix, &params).map_err(|source| {
                BacktestError::Forecast {
                    bar,
                    ts: ts.to_rfc3339(),
                    source,
                }
            })?;
        let origin = paths.origin_close;
        let h = self.rule.horizon - 1;
        let r: Vec<f64> = paths
            .paths
            .iter()
            .filter_map(|p| p.get(h))
            .map(|b| (b.close / origin).ln())
            .collect();
        let n = r.len().max(1) as f64;
        let mu = r.iter().sum::<f64>() / n;
        let var = r.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / n;
        let p_up = r.iter().filter(|&&x| x > 0.0).count() as f64 / n;
        let wanted = self.want(p_up, mu, var, ctx.allow_short);
        let steps = summarise_paths(&paths, &QUANTILE_LEVELS);
        self.records.push(ForecastRecord {
            origin_bar: bar,
            origin_close: origin,
            mean: steps.iter().map(|s| s.mean).collect(),
            quantiles: steps
                .iter()
                .map(|s| [s.quantiles[0], s.quantiles[1], s.quantiles[2]])
                .collect(),
            p_up,
            mean_log_return: mu,
            sd_log_return: var.sqrt(),
            wanted,
        });
        // Trade only on a change of side: resizing every bar would pay
        // commission on the whole position for a small change in the estimate.
        let side = if ctx.position > 0.0 {
            1
        } else if ctx.position < 0.0 {
            -1
        } else {
            0
        };
        Ok((wanted.side() != side).then_some(wanted))
    }

    fn forecasts(&self) -> &[ForecastRecord] {
        &self.records
    }
}
