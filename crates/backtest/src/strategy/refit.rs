//! Walk-forward refits: a model strategy whose GPT is fine-tuned during the
//! backtest on the bars known at the refit bar's close, so that late in a long
//! window it has seen the market up to then and not only what it was trained
//! on before the window.
//!
//! [`Refitting`] wraps a [`ModelStrategy`]: at the first decision at or after
//! each bar `window_start + k * every` (k >= 1; the window start itself keeps
//! the model as given) it hands a [`Refitter`] the bars `0..=t` as a fresh
//! [`Series`] (a copy of the history the engine exposes at bar `t`), takes
//! back the new model and gives it to the strategy, before the strategy
//! decides at `t`. The refitter never receives a reference into the full
//! series, so no refit can see a later bar: that is structural, not a
//! convention each refitter must keep.

use super::{Context, ForecastRecord, ModelStrategy, Strategy, Target};
use crate::error::BacktestError;
pub use crate::error::RefitError;
use crate::history::History;
use candlecast_data::{Series, Timestamp};
use candlecast_gpt::{Event, Gpt, SoftTargets, TokenData, TrainConfig, Trainer};
use candlecast_tokenize::Tokenizer;
use serde::Serialize;

/// How often and how hard a run refits, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RefitPlan {
    /// Bars between refits.
    pub every: usize,
    /// Optimiser steps per refit.
    pub steps: u64,
}

/// One refit, as `stats.json` and the report show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefitRecord {
    /// 1 for the run's first refit.
    pub index: usize,
    /// The bar at whose close the refit was made: it trained on bars `0..=bar`,
    /// and the decision at this bar already used the new weights.
    pub bar: usize,
    pub ts: Timestamp,
    /// Bars trained on (`bar + 1`).
    pub bars: usize,
    /// Training tokens those bars gave.
    pub tokens: usize,
    /// Optimiser steps.
    pub steps: u64,
    /// Mean training loss (nats per token) over the first and the last steps
    /// (up to 10 each: one batch is too noisy to read).
    pub loss_start: f64,
    pub loss_end: f64,
}

/// What a refitter gives back: the new weights and what the fit looked like.
#[derive(Debug, Clone)]
pub struct Refit {
    pub model: Gpt,
    pub tokens: usize,
    pub steps: u64,
    pub loss_start: f64,
    pub loss_end: f64,
}

/// Fine-tunes a model on a history. Implemented by [`GptRefitter`]; tests
/// implement it to record what a refit is given.
pub trait Refitter {
    /// Fine-tunes on `history`, which ends at the refit bar (inclusive) and
    /// holds nothing after it; `index` counts the run's refits from 1.
    fn refit(&mut self, history: &Series, index: usize) -> Result<Refit, RefitError>;
}

/// The seed of refit `index`: every refit draws its own training windows, and
/// the same run seed gives the same refits.
pub fn refit_seed(seed: u64, index: usize) -> u64 {
    // splitmix64 of the pair, so neighbouring seeds and indices do not give
    // related streams; the constant keeps them apart from the decision seeds.
    let mut z = (seed ^ 0xD1B5_4A32_D192_ED03).wrapping_add(
        (index as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A [`ModelStrategy`] refitted every `every` bars of the window.
pub struct Refitting<'r, S> {
    inner: S,
    refitter: Box<dyn Refitter + 'r>,
    every: usize,
    /// The bar the next refit is due at.
    next: usize,
    records: Vec<RefitRecord>,
}

impl<'r, S: ModelStrategy> Refitting<'r, S> {
    /// Refits due at `window_start + k * every`, k >= 1 (`every` >= 1).
    pub fn new(
        inner: S,
        refitter: Box<dyn Refitter + 'r>,
        every: usize,
        window_start: usize,
    ) -> Result<Refitting<'r, S>, BacktestError> {
        if every == 0 {
            return Err(BacktestError::Config(
                "refits need a period of at least 1 bar".into(),
            ));
        }
        Ok(Refitting {
            inner,
            refitter,
            every,
            next: window_start.saturating_add(every),
            records: Vec::new(),
        })
    }

    /// Refits on the bars of `history` (those up to its last bar) and hands
    /// the result to the strategy.
    fn refit(&mut self, history: &History<'_>, bar: usize) -> Result<(), BacktestError> {
        let ts = history.timestamps()[bar];
        let index = self.records.len() + 1;
        // A copy of bars 0..=bar: all the refitter can ever see.
        let known = history.to_series();
        let fit = self
            .refitter
            .refit(&known, index)
            .map_err(|source| BacktestError::Refit {
                bar,
                ts: ts.to_rfc3339(),
                source,
            })?;
        self.inner.set_model(fit.model);
        self.records.push(RefitRecord {
            index,
            bar,
            ts,
            bars: known.len(),
            tokens: fit.tokens,
            steps: fit.steps,
            loss_start: fit.loss_start,
            loss_end: fit.loss_end,
        });
        // Due bars skipped by decide_every are not made up: one refit per gap.
        while self.next <= bar {
            self.next = self.next.saturating_add(self.every);
        }
        Ok(())
    }
}

impl<S: ModelStrategy> Strategy for Refitting<'_, S> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn first_decision(&self) -> usize {
        self.inner.first_decision()
    }

    fn observe(&mut self, history: &History<'_>) {
        self.inner.observe(history);
    }

    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
        if let Some(bar) = ctx.history.now() {
            if bar >= self.next {
                self.refit(&ctx.history, bar)?;
            }
        }
        self.inner.decide(ctx)
    }

    fn forecasts(&self) -> &[ForecastRecord] {
        self.inner.forecasts()
    }

    fn refits(&self) -> &[RefitRecord] {
        &self.records
    }
}

/// Refits a GPT by fine-tuning it, from its current weights, with a fresh
/// optimiser per refit, on every token of the history it is given; no
/// validation split, so no bar of the history is held back from it.
pub struct GptRefitter<'m> {
    /// `None` only after a failed refit (which ends the run).
    trainer: Option<Trainer>,
    tok: &'m Tokenizer,
    schedule: TrainConfig,
    seed: u64,
}

impl<'m> GptRefitter<'m> {
    /// `trainer` holds the starting weights and the run's training config
    /// (optimiser, learning rates, batch size, window length, frozen blocks);
    /// each refit takes `steps` steps of it, with the warmup cut to a tenth of
    /// them, and the seed [`refit_seed`]`(seed, index)`. `tok` is the model's
    /// own tokenizer, not refitted: the token ids must keep their meaning.
    pub fn new(
        mut trainer: Trainer,
        tok: &'m Tokenizer,
        steps: u64,
        seed: u64,
    ) -> Result<GptRefitter<'m>, BacktestError> {
        let saved = &trainer.cfg;
        let schedule = TrainConfig {
            steps,
            warmup_steps: saved.warmup_steps.min(steps / 10),
            eval_every: steps.max(1),
            patience: 0,
            checkpoint_every: 0,
            // --refit-steps is the budget: no cap raised by the history's length.
            min_epochs: 0.0,
            ..saved.clone()
        };
        schedule
            .validate(trainer.model.config().max_ctx)
            .map_err(|e| BacktestError::Config(format!("refit schedule: {e}")))?;
        let (mv, tv) = (trainer.model.config().vocab_size, tok.vocab_size());
        if mv != tv {
            return Err(BacktestError::ModelTokenizerMismatch {
                model: mv,
                tokenizer: tv,
            });
        }
        let sigma = trainer.cfg.target_smoothing;
        if sigma > 0.0 {
            let bad = |e: String| BacktestError::Config(format!("refit soft targets: {e}"));
            let soft =
                SoftTargets::new(tok.smoothed_targets(sigma)).map_err(|e| bad(e.to_string()))?;
            trainer
                .set_soft_targets(soft)
                .map_err(|e| bad(e.to_string()))?;
        }
        Ok(GptRefitter {
            trainer: Some(trainer),
            tok,
            schedule,
            seed,
        })
    }

    /// The training config every refit uses (its seed aside).
    pub fn schedule(&self) -> &TrainConfig {
        &self.schedule
    }
}

/// The history's tokens (and their input ids) as one training sequence.
fn token_data(tok: &Tokenizer, history: &Series) -> Result<TokenData, RefitError> {
    let enc = tok.encode(history);
    let ids = tok.input_ids(history, &enc)?;
    let tokens: Vec<u32> = enc.tokens.iter().map(|t| t.0).collect();
    let with_inputs = tok.n_inputs() > 0;
    Ok(TokenData {
        train: vec![tokens],
        val: vec![],
        train_inputs: if with_inputs { vec![ids] } else { vec![] },
        val_inputs: vec![],
    })
}

impl Refitter for GptRefitter<'_> {
    fn refit(&mut self, history: &Series, index: usize) -> Result<Refit, RefitError> {
        let data = token_data(self.tok, history)?;
        let tokens = data.train.iter().map(Vec::len).sum::<usize>();
        let seq_len = self.schedule.seq_len;
        if tokens <= seq_len {
            return Err(format!(
                "{} bars give {tokens} tokens, and a training window needs {} \
                 (the run's seq_len + 1): refit later (--refit-every) or start the window later",
                history.len(),
                seq_len + 1
            )
            .into());
        }
        let old = self
            .trainer
            .take()
            .ok_or("an earlier refit failed and lost the weights")?;
        let cfg = TrainConfig {
            seed: refit_seed(self.seed, index),
            ..self.schedule.clone()
        };
        let mut t = Trainer::new(old.model, old.varmap, cfg)?;
        t.soft = old.soft;
        let mut losses = Vec::new();
        t.run(&data, |e| {
            if let Event::Step(p) = e {
                losses.push(p.train_loss);
            }
            Ok(())
        })?;
        // A snapshot for the strategy: later refits train the variables in place.
        let model = Gpt::from_tensors(t.model.config(), t.weights()?, t.model.device())?;
        let steps = t.state.step;
        self.trainer = Some(t);
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        let k = losses.len().min(10);
        Ok(Refit {
            model,
            tokens,
            steps,
            loss_start: mean(&losses[..k]),
            loss_end: mean(&losses[losses.len() - k..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refit_seeds_differ_per_refit_and_per_run() {
        let a: Vec<u64> = (1..50).map(|k| refit_seed(7, k)).collect();
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), a.len());
        assert_ne!(refit_seed(7, 1), refit_seed(8, 1));
        assert_eq!(refit_seed(7, 3), refit_seed(7, 3));
    }
}
