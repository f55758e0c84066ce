//! `backtest --refit-every N`: walk-forward refits of the strategy's model.
//! The mechanism (when to refit, what a refit may see) is
//! `candlecast_backtest::Refitting`; this module only loads the trainer from
//! the model folder, wraps the strategy and words the summary, so that
//! `backtest::run` gains a few lines, not a training loop.

use crate::args::BacktestArgs;
use anyhow::{bail, Context};
use candle_core::Device;
use candlecast_backtest::{
    GptRefitter, ModelStrategy, Refit, RefitError, RefitPlan, Refitter, Refitting, Run, Strategy,
    StrategySpec,
};
use candlecast_data::Series;
use candlecast_gpt::checkpoint;
use candlecast_tokenize::Tokenizer;
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

/// The refits asked for, refused for a strategy without a model.
pub fn plan(args: &BacktestArgs, spec: &StrategySpec) -> anyhow::Result<Option<RefitPlan>> {
    if args.refit_every == 0 {
        return Ok(None);
    }
    if !spec.needs_model() {
        bail!(
            "--refit-every refits the strategy's model: it needs a model strategy \
             (forecast, forecast-threshold or vol-target), not --strategy {spec}"
        );
    }
    let every = usize::try_from(args.refit_every).context("--refit-every is too large")?;
    Ok(Some(RefitPlan {
        every,
        steps: args.refit_steps,
    }))
}

/// A refitter ready to wrap a strategy, and the seconds its refits take.
pub struct Setup<'m> {
    plan: RefitPlan,
    refitter: Timed<GptRefitter<'m>>,
    /// Wall time spent refitting so far (for the summary, never the report:
    /// the report's bytes depend on the flags only).
    pub seconds: Rc<Cell<f64>>,
}

/// Loads the model folder `dir` again, as a trainer with its saved training
/// config (the strategy decides with its own copy of the weights until the
/// first refit).
pub fn setup<'m>(
    dir: &Path,
    tok: &'m Tokenizer,
    plan: RefitPlan,
    seed: u64,
) -> anyhow::Result<Setup<'m>> {
    let meta = checkpoint::load_meta(dir)?;
    let (trainer, _) = checkpoint::load_trainer(dir, Some(meta.train), &Device::Cpu)
        .with_context(|| format!("{}: loading the model for refits", dir.display()))?;
    let refitter = GptRefitter::new(trainer, tok, plan.steps, seed)
        .with_context(|| format!("{}: refits", dir.display()))?;
    let seconds = Rc::new(Cell::new(0.0));
    Ok(Setup {
        plan,
        refitter: Timed {
            inner: refitter,
            seconds: Rc::clone(&seconds),
        },
        seconds,
    })
}

/// `strategy`, refitted as `setup` says when there is one.
pub fn wrap<'m, S: ModelStrategy + 'm>(
    strategy: S,
    setup: Option<Setup<'m>>,
    window_start: usize,
) -> anyhow::Result<Box<dyn Strategy + 'm>> {
    Ok(match setup {
        None => Box::new(strategy),
        Some(s) => Box::new(Refitting::new(
            strategy,
            Box::new(s.refitter),
            s.plan.every,
            window_start,
        )?),
    })
}

/// The terminal's line about the refits of `run`.
pub fn summary(run: &Run, plan: RefitPlan, seconds: f64) -> String {
    let r = &run.refits;
    match (r.first(), r.last()) {
        (Some(first), Some(last)) => format!(
            "{} refit{} (every {} bars, {} steps each) in {seconds:.1} s: bars {}..{}, \
             training loss {:.3} at the first refit's start, {:.3} at the last one's end",
            r.len(),
            if r.len() == 1 { "" } else { "s" },
            plan.every,
            plan.steps,
            first.bar,
            last.bar,
            first.loss_start,
            last.loss_end
        ),
        _ => format!(
            "no refit: the window has no decision {} bars or more after its start",
            plan.every
        ),
    }
}

/// A refitter whose calls are timed.
struct Timed<R> {
    inner: R,
    seconds: Rc<Cell<f64>>,
}

impl<R: Refitter> Refitter for Timed<R> {
    fn refit(&mut self, history: &Series, index: usize) -> Result<Refit, RefitError> {
        let t = Instant::now();
        let out = self.inner.refit(history, index);
        self.seconds
            .set(self.seconds.get() + t.elapsed().as_secs_f64());
        out
    }
}
