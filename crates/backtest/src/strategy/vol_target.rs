//! `vol-target`: long-only exposure inversely proportional to the model's
//! forecast volatility, rebalanced by trading the difference when it moves
//! past a band (see [`VolTargetRule`]).

use super::forecast::{check_model, decision_seed, PathStats, QUANTILE_LEVELS};
use super::{Context, ForecastRecord, Strategy, Target};
use crate::error::BacktestError;
use crate::spec::VolTargetRule;
use candlecast_data::Timestamp;
use candlecast_forecast::{gpt_next, sample_paths, ForecastError, ForecastParams, Predictive};
use candlecast_gpt::{Gpt, Sampling};
use candlecast_tokenize::Tokenizer;
use std::borrow::Cow;

const YEAR_MS: f64 = 365.25 * 86_400_000.0;

/// Bars per year of a history: its bars over the years it spans, so weekends,
/// nights and holidays a market does not trade count for nothing (about 252 for
/// daily equities, 6,200 for hourly FX). `None` under two bars or one instant.
pub fn bars_per_year(ts: &[Timestamp]) -> Option<f64> {
    let (first, last) = (ts.first()?, ts.last()?);
    let span = (last.0 - first.0) as f64;
    (ts.len() >= 2 && span > 0.0).then(|| (ts.len() - 1) as f64 * YEAR_MS / span)
}

/// The exposure `rule` wants for a forecast volatility per bar of `sigma`.
pub fn exposure(rule: &VolTargetRule, sigma: f64, bars_per_year: f64) -> Option<f64> {
    let annual = sigma * bars_per_year.sqrt();
    (annual.is_finite() && annual > 0.0).then(|| (rule.target / annual).min(rule.cap))
}

/// Whether to trade from `held` (fraction of equity) to `wanted`.
pub fn crosses_band(rule: &VolTargetRule, held: f64, wanted: f64) -> bool {
    if held <= 0.0 {
        return wanted > 0.0;
    }
    (wanted - held).abs() > rule.band * held
}

/// Forecast volatility -> long exposure, see [`VolTargetRule`].
pub struct VolTarget<'m> {
    /// Borrowed as given; owned once a walk-forward refit replaces it
    /// ([`super::ModelStrategy::set_model`]).
    model: Cow<'m, Gpt>,
    tok: &'m Tokenizer,
    name: String,
    rule: VolTargetRule,
    context_length: usize,
    sampling: Sampling,
    seed: u64,
    records: Vec<ForecastRecord>,
}

impl<'m> VolTarget<'m> {
    /// `name` and `seed` key the paths' random streams when `rule.horizon > 1`
    /// (the one-step mixture has none).
    pub fn new(
        model: &'m Gpt,
        tok: &'m Tokenizer,
        name: &str,
        rule: VolTargetRule,
        context_length: usize,
        sampling: Sampling,
        seed: u64,
    ) -> Result<VolTarget<'m>, BacktestError> {
        check_model(model, tok, sampling)?;
        Ok(VolTarget {
            model: Cow::Borrowed(model),
            tok,
            name: name.to_string(),
            rule,
            context_length: context_length.clamp(1, model.config().max_ctx),
            sampling,
            seed,
            records: Vec::new(),
        })
    }

    /// The forecast volatility per bar and the decision's record (its
    /// `wanted` still to be filled in).
    fn forecast(
        &self,
        ctx: &Context<'_>,
        bar: usize,
        ts: Timestamp,
    ) -> Result<(f64, ForecastRecord), ForecastError> {
        let prefix = ctx.history.to_series();
        if self.rule.horizon == 1 {
            let p = gpt_next(
                &self.model,
                self.tok,
                &prefix,
                self.context_length,
                self.sampling,
            )?;
            let origin = prefix.close().last().copied().unwrap_or(f64::NAN);
            return Ok((p.moments().1.sqrt(), one_step_record(bar, origin, &p)));
        }
        let params = ForecastParams {
            context_length: self.context_length,
            horizon: self.rule.horizon,
            num_samples: self.rule.samples,
            sampling: self.sampling,
            seed: decision_seed(self.seed, ts),
        };
        let paths = sample_paths(&self.model, self.tok, &self.name, &prefix, &params)?;
        let stats = PathStats::of(&paths, self.rule.horizon);
        let sigma = (stats.var / self.rule.horizon as f64).sqrt();
        Ok((sigma, stats.record(bar, &paths, Target::Flat)))
    }
}

/// The record of a one-step forecast: the mixture's mean close, its quantiles
/// and P(up).
fn one_step_record(bar: usize, origin: f64, p: &Predictive) -> ForecastRecord {
    let (m, v) = p.moments();
    let mean = match p {
        Predictive::Atoms { values, cum } => {
            let mut prev = 0.0;
            values
                .iter()
                .zip(cum)
                .map(|(&x, &c)| {
                    let w = c - prev;
                    prev = c;
                    w * origin * x.exp()
                })
                .sum()
        }
        // Not what gpt_next gives; the log-normal mean with these moments.
        _ => origin * (m + v / 2.0).exp(),
    };
    ForecastRecord {
        origin_bar: bar,
        origin_close: origin,
        mean: vec![mean],
        quantiles: vec![QUANTILE_LEVELS.map(|q| origin * p.quantile(q).exp())],
        p_up: 1.0 - p.cdf(0.0),
        mean_log_return: m,
        sd_log_return: v.sqrt(),
        wanted: Target::Flat,
    }
}

impl super::ModelStrategy for VolTarget<'_> {
    fn set_model(&mut self, model: Gpt) {
        self.model = Cow::Owned(model);
    }
}

impl Strategy for VolTarget<'_> {
    fn name(&self) -> String {
        "vol-target".into()
    }

    fn first_decision(&self) -> usize {
        self.context_length
    }

    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
        let Some(bar) = ctx.history.now() else {
            return Ok(None);
        };
        let ts = ctx.history.timestamps()[bar];
        let (sigma, mut record) =
            self.forecast(ctx, bar, ts)
                .map_err(|source| BacktestError::Forecast {
                    bar,
                    ts: ts.to_rfc3339(),
                    source,
                })?;
        let wanted = bars_per_year(ctx.history.timestamps())
            .and_then(|per_year| exposure(&self.rule, sigma, per_year));
        let held = match ctx.history.close().last() {
            Some(&c) if ctx.equity > 0.0 => ctx.position * c / ctx.equity,
            _ => 0.0,
        };
        record.wanted = Target::Exposure(wanted.unwrap_or(held));
        self.records.push(record);
        Ok(wanted
            .filter(|&w| crosses_band(&self.rule, held, w))
            .map(Target::Exposure))
    }

    fn forecasts(&self) -> &[ForecastRecord] {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_is_the_target_over_the_annualised_forecast_capped() {
        let rule = VolTargetRule::default();
        // 1% a day on 252 days is 15.9% a year: 10% / 15.9%.
        let e = exposure(&rule, 0.01, 252.0).unwrap();
        assert!((e - 0.1 / (0.01 * 252f64.sqrt())).abs() < 1e-12);
        assert_eq!(exposure(&rule, 0.001, 252.0), Some(1.0));
        assert_eq!(exposure(&rule, 0.0, 252.0), None);
        assert_eq!(exposure(&rule, f64::NAN, 252.0), None);
    }

    #[test]
    fn rebalances_only_past_the_band() {
        let rule = VolTargetRule {
            band: 0.2,
            ..Default::default()
        };
        assert!(crosses_band(&rule, 0.0, 0.3));
        assert!(!crosses_band(&rule, 0.0, 0.0));
        assert!(!crosses_band(&rule, 0.5, 0.59));
        assert!(crosses_band(&rule, 0.5, 0.61));
        assert!(crosses_band(&rule, 0.5, 0.39));
    }

    #[test]
    fn bars_per_year_from_the_span() {
        // Weekdays only: 5 bars a week.
        let ts: Vec<Timestamp> = (0..521)
            .map(|i| Timestamp((i / 5 * 7 + i % 5) * 86_400_000))
            .collect();
        let b = bars_per_year(&ts).unwrap();
        assert!((b - 260.9).abs() < 1.0, "{b}");
        assert_eq!(bars_per_year(&ts[..1]), None);
    }
}
