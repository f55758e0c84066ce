//! Next-token training: windows drawn from many token sequences, AdamW, warmup +
//! cosine learning rate, gradient clipping, time-ordered validation and early
//! stopping. Everything random comes from one seeded [`Rng`] whose state is part of
//! the checkpoint, so a resumed run is bit-identical to an uninterrupted one.

use crate::ema::{self, Ema};
use crate::error::{GptError, Result};
use crate::kernels::loss::SoftTargets;
use crate::model::Gpt;
use crate::optim::{AdamW, AdamWParams};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use candlecast_rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The `[train]` (or `[finetune]`) table of a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser steps at most.
    pub steps: u64,
    pub batch_size: usize,
    /// Tokens per training window (at most the model's `max_ctx`).
    pub seq_len: usize,
    /// Peak learning rate, reached after `warmup_steps`.
    pub lr: f64,
    /// The cosine schedule ends here at `steps`.
    pub min_lr: f64,
    pub warmup_steps: u64,
    /// Gradients are scaled down when their global L2 norm exceeds this (0 = off).
    pub grad_clip: f64,
    /// Validate every this many steps.
    pub eval_every: u64,
    /// Validation windows used at most (taken in time order from each series' tail).
    pub eval_windows: usize,
    /// Stop after this many evaluations without a better validation loss (0 = never).
    pub patience: u64,
    /// Write a checkpoint every this many steps (0 = only at the end).
    pub checkpoint_every: u64,
    pub seed: u64,
    /// Fine-tuning: freeze the embeddings and the lowest `freeze_blocks` blocks.
    #[serde(default)]
    pub freeze_blocks: usize,
    /// Train against next-token targets spread over neighbouring return bins by a
    /// Gaussian of this many bins (HL-Gauss: `Tokenizer::smoothed_targets` says
    /// which bins); 0 = the plain one-hot cross-entropy. Validation (early
    /// stopping) always scores the plain cross-entropy, the model's likelihood.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub target_smoothing: f64,
    /// Validate, keep and ship an exponential moving average of the weights with
    /// this decay per step instead of the last step's weights (`crate::ema`); 0 =
    /// off. About `1 / (1 - ema)` steps of memory.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ema: f64,
    /// At least this many passes over the training tokens: the step cap is raised
    /// to `ceil(min_epochs x training tokens / (batch_size x seq_len))` where that
    /// is more than `steps`, and the cosine schedule spans the raised cap (0 =
    /// off). A fine-tune's fixed cap suits a single series of a few thousand bars
    /// and starves a large target or panel ([`TrainConfig::steps_for`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_epochs: f64,
    #[serde(default)]
    pub optimizer: AdamWParams,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl TrainConfig {
    pub fn validate(&self, max_ctx: usize) -> Result<()> {
        let bad = |m: String| Err(GptError::Config(m));
        if self.steps == 0 || self.batch_size == 0 || self.eval_every == 0 {
            return bad("steps, batch_size and eval_every must be at least 1".into());
        }
        if self.seq_len == 0 || self.seq_len > max_ctx {
            return bad(format!(
                "seq_len = {} must be in 1..={max_ctx} (the model's max_ctx)",
                self.seq_len
            ));
        }
        if !(self.lr > 0.0 && self.min_lr >= 0.0 && self.min_lr <= self.lr) {
            return bad(format!(
                "need 0 <= min_lr <= lr and lr > 0 (lr = {}, min_lr = {})",
                self.lr, self.min_lr
            ));
        }
        if !(self.min_epochs >= 0.0 && self.min_epochs.is_finite()) {
            return bad(format!(
                "min_epochs = {} must be a finite number >= 0 (0 = off)",
                self.min_epochs
            ));
        }
        if !(0.0..1.0).contains(&self.ema) {
            return bad(format!(
                "ema = {} must be in [0, 1) (0 = off; 0.98 averages about 50 steps)",
                self.ema
            ));
        }
        if !(self.target_smoothing >= 0.0 && self.target_smoothing.is_finite()) {
            return bad(format!(
                "target_smoothing = {} must be a finite number >= 0 (0 = off)",
                self.target_smoothing
            ));
        }
        Ok(())
    }

    /// The step cap of a run on `data`: `steps`, raised to cover `min_epochs`
    /// passes over its training tokens. The same for the same data, so a resumed
    /// run (whose saved config holds the raised cap) keeps its schedule.
    pub fn steps_for(&self, data: &TokenData) -> u64 {
        if self.min_epochs <= 0.0 {
            return self.steps;
        }
        let tokens: usize = data.train.iter().map(Vec::len).sum();
        let per_step = (self.batch_size * self.seq_len).max(1) as f64;
        let need = (self.min_epochs * tokens as f64 / per_step).ceil();
        self.steps.max(need.min(u64::MAX as f64) as u64)
    }

    /// Linear warmup to `lr`, then cosine decay to `min_lr` at `steps`.
    pub fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.min_lr
            + 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()) * (self.lr - self.min_lr)
    }
}

/// Token sequences to learn from, one per series, split in time.
#[derive(Debug, Clone, Default)]
pub struct TokenData {
    pub train: Vec<Vec<u32>>,
    pub val: Vec<Vec<u32>>,
    /// For a model with `C` input channels: per sequence of `train`, the ids of every
    /// token (`C` per token, token by token). Empty for a model without channels.
    pub train_inputs: Vec<Vec<u32>>,
    /// The same for `val`.
    pub val_inputs: Vec<Vec<u32>>,
}

impl TokenData {
    /// Checks that the input ids line up with the tokens for `c` channels.
    pub fn check_inputs(&self, c: usize) -> Result<()> {
        for (what, seqs, ids) in [
            ("train", &self.train, &self.train_inputs),
            ("val", &self.val, &self.val_inputs),
        ] {
            let fits = match c {
                0 => ids.is_empty(),
                _ => {
                    ids.len() == seqs.len()
                        && seqs.iter().zip(ids).all(|(s, i)| i.len() == s.len() * c)
                }
            };
            if !fits {
                return Err(GptError::Data(format!(
                    "{what} data: the input ids do not give {c} per token of each sequence"
                )));
            }
        }
        Ok(())
    }
}

/// A validation window: `x` predicts `y` (the next tokens), with the input ids of
/// `x` (`C` per token; empty without channels).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub x: Vec<u32>,
    pub y: Vec<u32>,
    pub inputs: Vec<u32>,
    /// Targets `y[..scored_from]` are the end of the training part, there only as
    /// context: a validation part shorter than a window (a monthly series' dozen
    /// bars) is scored after the training bars it follows, not left out, so a
    /// fine-tune on a short series still early-stops. 0 for every other window.
    pub scored_from: usize,
}

/// One row of the learning curve (`RUN/curve.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    pub lr: f64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub tokens_per_sec: f64,
}

/// Everything besides weights and moments that a resumed run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub step: u64,
    pub rng: Rng,
    pub best_val: Option<f64>,
    pub evals_since_best: u64,
    pub stopped_early: bool,
    pub curve: Vec<CurvePoint>,
}

impl TrainState {
    pub fn new(seed: u64) -> TrainState {
        TrainState {
            step: 0,
            rng: Rng::new(seed),
            best_val: None,
            evals_since_best: 0,
            stopped_early: false,
            curve: vec![],
        }
    }

    pub fn finished(&self, cfg: &TrainConfig) -> bool {
        self.stopped_early || self.step >= cfg.steps
    }
}

/// A training run in progress: model, variables, optimiser and state.
pub struct Trainer {
    pub model: Gpt,
    pub varmap: VarMap,
    pub opt: AdamW,
    pub cfg: TrainConfig,
    pub state: TrainState,
    /// The weights at the best validation loss so far. Early stopping stops
    /// *after* `patience` evaluations without improvement, so the last weights
    /// are the overfitted ones: a finished run ends with these restored.
    pub best: Option<HashMap<String, Tensor>>,
    /// The run fingerprint its checkpoints carry (`checkpoint::run_fingerprint`):
    /// kept from the checkpoint a `--resume` continues, `None` for a new run, whose
    /// first save computes it.
    pub fingerprint: Option<String>,
    /// The training targets' distributions when `cfg.target_smoothing > 0`
    /// (built from the tokenizer, which knows which ids are neighbours).
    pub soft: Option<Arc<SoftTargets>>,
    /// The weights' moving average when `cfg.ema > 0`: what validation scores,
    /// what `best` keeps and what a finished run ends with.
    pub ema: Option<Ema>,
}

/// What the caller hears after each step (for a progress bar) and at checkpoints.
pub enum Event<'a> {
    Step(&'a CurvePoint),
    Checkpoint(&'a Trainer),
}

impl Trainer {
    pub fn new(model: Gpt, varmap: VarMap, cfg: TrainConfig) -> Result<Trainer> {
        cfg.validate(model.config().max_ctx)?;
        let frozen = cfg.freeze_blocks;
        let opt = AdamW::new(&varmap, cfg.optimizer, |name| !is_frozen(name, frozen))?;
        let state = TrainState::new(cfg.seed);
        let ema = match cfg.ema > 0.0 {
            true => Some(Ema::new(&varmap, cfg.ema)?),
            false => None,
        };
        Ok(Trainer {
            model,
            varmap,
            opt,
            cfg,
            state,
            best: None,
            fingerprint: None,
            soft: None,
            ema,
        })
    }

    /// Sets the targets' distributions `cfg.target_smoothing` asks for.
    pub fn set_soft_targets(&mut self, soft: SoftTargets) -> Result<()> {
        let v = self.model.config().vocab_size;
        if soft.classes() != v {
            return Err(GptError::Config(format!(
                "soft targets for {} classes, the model has {v}",
                soft.classes()
            )));
        }
        self.soft = Some(Arc::new(soft));
        Ok(())
    }

    /// Copies of every variable, by name.
    pub fn weights(&self) -> Result<HashMap<String, Tensor>> {
        ema::copies(&self.varmap)
    }

    /// The weights validation scores and early stopping keeps: the moving average
    /// when there is one, else the current ones.
    fn candidate(&self) -> Result<HashMap<String, Tensor>> {
        match &self.ema {
            Some(e) => Ok(e.weights().clone()),
            None => self.weights(),
        }
    }

    /// [`Trainer::eval`] of the candidate weights (the current ones are put back).
    fn eval_candidate(&self, val: &[Window]) -> Result<Option<f64>> {
        let Some(e) = &self.ema else {
            return self.eval(val);
        };
        if val.is_empty() {
            return Ok(None);
        }
        let live = self.weights()?;
        ema::assign(&self.varmap, e.weights())?;
        let v = self.eval(val);
        ema::assign(&self.varmap, &live)?;
        v
    }

    /// Sets the variables to the best-validation weights, if there are any.
    /// Without validation, a run with a moving average ends with the average.
    pub fn restore_best(&mut self) -> Result<()> {
        match (&self.best, &self.ema) {
            (Some(best), _) => ema::assign(&self.varmap, best),
            (None, Some(e)) => ema::assign(&self.varmap, e.weights()),
            (None, None) => Ok(()),
        }
    }

    /// Runs until `steps` or early stopping; `on` hears every step and is asked to
    /// checkpoint every `checkpoint_every` steps and at the end.
    pub fn run(
        &mut self,
        data: &TokenData,
        mut on: impl FnMut(Event<'_>) -> Result<()>,
    ) -> Result<()> {
        let c = self.model.n_inputs();
        data.check_inputs(c)?;
        self.cfg.steps = self.cfg.steps_for(data);
        if self.cfg.target_smoothing > 0.0 && self.soft.is_none() {
            return Err(GptError::Config(
                "target_smoothing is on but the trainer has no soft targets \
                 (set_soft_targets, from Tokenizer::smoothed_targets)"
                    .into(),
            ));
        }
        let windows = Windows::new(&data.train, &data.train_inputs, c, self.cfg.seq_len)?;
        let val = self.val_windows(data);
        let device = self.model.device().clone();
        // The starting weights are a candidate too: a fine-tune that never beats its
        // init on validation keeps the init (early stopping counts from it), instead
        // of ending on its least bad step. From a random init any step beats it.
        if self.state.step == 0 && self.state.best_val.is_none() {
            if let Some(v) = self.eval_candidate(&val)? {
                self.state.best_val = Some(v);
                self.best = Some(self.candidate()?);
            }
        }
        while !self.state.finished(&self.cfg) {
            let started = std::time::Instant::now();
            let (x, ids, y) = windows.batch(&mut self.state.rng, self.cfg.batch_size, &device)?;
            let loss = self.objective(&x, ids.as_ref(), &y)?;
            let grads = loss.backward()?;
            let norm = self.opt.grad_norm(&grads)?;
            let scale = if self.cfg.grad_clip > 0.0 && norm > self.cfg.grad_clip {
                self.cfg.grad_clip / norm
            } else {
                1.0
            };
            let lr = self.cfg.lr_at(self.state.step);
            self.opt.step(&grads, lr, scale)?;
            if let Some(e) = &mut self.ema {
                e.update(&self.varmap, self.state.step)?;
            }
            self.state.step += 1;
            let train_loss = loss.to_scalar::<f32>()? as f64;
            if !train_loss.is_finite() {
                return Err(GptError::Diverged {
                    step: self.state.step,
                    loss: train_loss,
                });
            }
            let tokens = (self.cfg.batch_size * self.cfg.seq_len) as f64;
            let mut point = CurvePoint {
                step: self.state.step,
                lr,
                train_loss,
                val_loss: None,
                tokens_per_sec: tokens / started.elapsed().as_secs_f64().max(1e-9),
            };
            let last = self.state.step >= self.cfg.steps;
            if self.state.step % self.cfg.eval_every == 0 || last {
                point.val_loss = self.eval_candidate(&val)?;
                if let Some(v) = point.val_loss {
                    self.track_best(v)?;
                }
            }
            on(Event::Step(&point))?;
            self.state.curve.push(point);
            let periodic =
                self.cfg.checkpoint_every > 0 && self.state.step % self.cfg.checkpoint_every == 0;
            if self.state.finished(&self.cfg) {
                self.restore_best()?;
                on(Event::Checkpoint(self))?;
            } else if periodic {
                on(Event::Checkpoint(self))?;
            }
        }
        Ok(())
    }

    /// Mean next-token cross-entropy (nats) over `x -> y`, both `(B, T)`.
    pub fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.loss_with(x, None, y)
    }

    /// [`Trainer::loss`] with the input ids of `x`, `(B, T, C)` (see
    /// [`Gpt::forward_with`]).
    pub fn loss_with(&self, x: &Tensor, inputs: Option<&Tensor>, y: &Tensor) -> Result<Tensor> {
        let (logits, y) = self.rows(x, inputs, y)?;
        Ok(crate::kernels::loss::cross_entropy(&logits, &y)?)
    }

    /// The logits of `x` as `(B*T, V)` rows beside their targets `y` as `(B*T)`.
    fn rows(&self, x: &Tensor, inputs: Option<&Tensor>, y: &Tensor) -> Result<(Tensor, Tensor)> {
        let logits = self
            .model
            .forward_with(x, inputs, 0, &mut self.model.new_cache())?;
        let (b, t, v) = logits.dims3()?;
        Ok((logits.reshape((b * t, v))?, y.reshape(b * t)?))
    }

    /// Keeps the weights of a new best validation loss `v`; counts evaluations
    /// without one, and stops after `patience` of them.
    fn track_best(&mut self, v: f64) -> Result<()> {
        if self.state.best_val.is_none_or(|b| v < b) {
            self.state.best_val = Some(v);
            self.state.evals_since_best = 0;
            self.best = Some(self.candidate()?);
        } else {
            self.state.evals_since_best += 1;
            if self.cfg.patience > 0 && self.state.evals_since_best >= self.cfg.patience {
                self.state.stopped_early = true;
            }
        }
        Ok(())
    }

    /// What training minimises: [`Trainer::loss_with`], against the soft targets
    /// when there are any.
    fn objective(&self, x: &Tensor, inputs: Option<&Tensor>, y: &Tensor) -> Result<Tensor> {
        let Some(soft) = &self.soft else {
            return self.loss_with(x, inputs, y);
        };
        let (logits, y) = self.rows(x, inputs, y)?;
        Ok(crate::kernels::loss::soft_cross_entropy(&logits, &y, soft)?)
    }

    /// Mean validation loss over the fixed windows, `None` when there are none.
    /// Each window counts once, over the targets it scores.
    pub fn eval(&self, val: &[Window]) -> Result<Option<f64>> {
        if val.is_empty() {
            return Ok(None);
        }
        let device = self.model.device();
        let c = self.model.n_inputs();
        let (mut sum, mut n) = (0.0, 0usize);
        let same =
            |a: &Window, b: &Window| a.x.len() == b.x.len() && a.scored_from == b.scored_from;
        for chunk in val
            .chunk_by(same)
            .flat_map(|g| g.chunks(self.cfg.batch_size))
        {
            let t = chunk[0].x.len();
            let xs: Vec<u32> = chunk.iter().flat_map(|w| w.x.iter().copied()).collect();
            let ys: Vec<u32> = chunk.iter().flat_map(|w| w.y.iter().copied()).collect();
            let x = Tensor::from_vec(xs, (chunk.len(), t), device)?;
            let y = Tensor::from_vec(ys, (chunk.len(), t), device)?;
            let ids = match c {
                0 => None,
                _ => {
                    let ids: Vec<u32> = chunk
                        .iter()
                        .flat_map(|w| w.inputs.iter().copied())
                        .collect();
                    Some(Tensor::from_vec(ids, (chunk.len(), t, c), device)?)
                }
            };
            let loss = match chunk[0].scored_from {
                0 => self.loss_with(&x, ids.as_ref(), &y)?,
                from => self.loss_from(&x, ids.as_ref(), &y, from)?,
            };
            sum += loss.to_scalar::<f32>()? as f64 * chunk.len() as f64;
            n += chunk.len();
        }
        Ok(Some(sum / n as f64))
    }

    /// [`Trainer::loss_with`] over the targets from position `from` on only.
    fn loss_from(
        &self,
        x: &Tensor,
        inputs: Option<&Tensor>,
        y: &Tensor,
        from: usize,
    ) -> Result<Tensor> {
        let logits = self
            .model
            .forward_with(x, inputs, 0, &mut self.model.new_cache())?;
        let (b, t, v) = logits.dims3()?;
        let k = t.saturating_sub(from);
        let logits = logits
            .narrow(1, from, k)?
            .contiguous()?
            .reshape((b * k, v))?;
        let y = y.narrow(1, from, k)?.contiguous()?.reshape(b * k)?;
        Ok(crate::kernels::loss::cross_entropy(&logits, &y)?)
    }

    /// The validation windows this run uses (for callers that report the loss).
    pub fn val_windows(&self, data: &TokenData) -> Vec<Window> {
        val_windows(
            data,
            self.model.n_inputs(),
            self.cfg.seq_len,
            self.cfg.eval_windows,
        )
    }
}

/// Whether a variable is frozen when the lowest `k` blocks are.
pub fn is_frozen(name: &str, k: usize) -> bool {
    if k == 0 {
        return false;
    }
    if name.starts_with("tok_emb.") || name.starts_with("pos_emb.") || name.starts_with("inputs.") {
        return true;
    }
    name.strip_prefix("blocks.")
        .and_then(|r| r.split('.').next())
        .and_then(|i| i.parse::<usize>().ok())
        .is_some_and(|i| i < k)
}

/// Training windows of `seq_len + 1` tokens, drawn uniformly over all valid starts
/// of all sequences (so series are weighted by length), with the input ids of their
/// first `seq_len` tokens. Public so `examples/gpt_bench.rs` times this sampler,
/// not a copy of it.
pub struct Windows<'a> {
    seqs: Vec<&'a [u32]>,
    /// Per kept sequence, its input ids (`c` per token); empty when `c` is 0.
    inputs: Vec<&'a [u32]>,
    c: usize,
    /// Cumulative count of valid starts.
    cum: Vec<usize>,
    seq_len: usize,
}

impl<'a> Windows<'a> {
    pub fn new(
        seqs: &'a [Vec<u32>],
        inputs: &'a [Vec<u32>],
        c: usize,
        seq_len: usize,
    ) -> Result<Windows<'a>> {
        let mut w = Windows {
            seqs: vec![],
            inputs: vec![],
            c,
            cum: vec![],
            seq_len,
        };
        let mut total = 0;
        for (i, s) in seqs.iter().enumerate().filter(|(_, s)| s.len() > seq_len) {
            total += s.len() - seq_len;
            w.seqs.push(s);
            if c > 0 {
                w.inputs.push(inputs.get(i).map_or(&[][..], Vec::as_slice));
            }
            w.cum.push(total);
        }
        if total == 0 {
            return Err(GptError::Data(format!(
                "no training sequence is longer than seq_len = {seq_len}"
            )));
        }
        Ok(w)
    }

    /// `(x, input ids of x, y)`: `(B, T)`, `(B, T, C)` (`None` without channels),
    /// `(B, T)`. The draws are the same with or without channels.
    pub fn batch(
        &self,
        rng: &mut Rng,
        b: usize,
        device: &Device,
    ) -> Result<(Tensor, Option<Tensor>, Tensor)> {
        let total = self.cum.last().copied().unwrap_or(0);
        let (t, c) = (self.seq_len, self.c);
        let (mut xs, mut ys) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
        let mut ids = Vec::with_capacity(b * t * c);
        for _ in 0..b {
            let k = rng.below(total);
            let s = self.cum.partition_point(|&n| n <= k);
            let start = k - if s == 0 { 0 } else { self.cum[s - 1] };
            let w = &self.seqs[s][start..start + t + 1];
            xs.extend_from_slice(&w[..t]);
            ys.extend_from_slice(&w[1..]);
            if c > 0 {
                ids.extend_from_slice(&self.inputs[s][start * c..(start + t) * c]);
            }
        }
        let ids = match c {
            0 => None,
            _ => Some(Tensor::from_vec(ids, (b, t, c), device)?),
        };
        Ok((
            Tensor::from_vec(xs, (b, t), device)?,
            ids,
            Tensor::from_vec(ys, (b, t), device)?,
        ))
    }
}

/// Non-overlapping windows in time order, at most `max` in all, with the input ids
/// of each token (`c` per token) when `c` > 0. A validation sequence too short for
/// one window gets one window that ends with it and starts in the training
/// sequence of the same series (`data.train[i]` precedes `data.val[i]`), scoring
/// its validation tokens only.
fn val_windows(data: &TokenData, c: usize, seq_len: usize, max: usize) -> Vec<Window> {
    let mut out = Vec::new();
    for (i, s) in data.val.iter().enumerate() {
        let ids = data.val_inputs.get(i).map_or(&[][..], Vec::as_slice);
        let ids_of = |from: usize, to: usize| match c {
            0 => vec![],
            _ => ids.get(from * c..to * c).map_or(vec![], <[u32]>::to_vec),
        };
        let mut start = 0;
        while start + seq_len < s.len() && out.len() < max {
            out.push(Window {
                x: s[start..start + seq_len].to_vec(),
                y: s[start + 1..start + seq_len + 1].to_vec(),
                inputs: ids_of(start, start + seq_len),
                scored_from: 0,
            });
            start += seq_len;
        }
        if start > 0 || s.is_empty() || out.len() >= max {
            continue;
        }
        let train = data.train.get(i).map_or(&[][..], Vec::as_slice);
        let k = (seq_len + 1 - s.len()).min(train.len());
        if k + s.len() < 2 {
            continue;
        }
        let tokens: Vec<u32> = train[train.len() - k..].iter().chain(s).copied().collect();
        let mut inputs = match c {
            0 => vec![],
            _ => {
                let tr = data.train_inputs.get(i).map_or(&[][..], Vec::as_slice);
                tr.get((train.len() - k) * c..train.len() * c)
                    .map_or(vec![], <[u32]>::to_vec)
            }
        };
        inputs.extend(ids_of(0, s.len() - 1));
        let t = tokens.len() - 1;
        out.push(Window {
            x: tokens[..t].to_vec(),
            y: tokens[1..].to_vec(),
            inputs,
            scored_from: k.saturating_sub(1),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small valid schedule the tests below vary.
    fn schedule() -> TrainConfig {
        TrainConfig {
            steps: 100,
            batch_size: 1,
            seq_len: 4,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 10,
            grad_clip: 1.0,
            eval_every: 10,
            eval_windows: 4,
            patience: 0,
            checkpoint_every: 0,
            seed: 0,
            freeze_blocks: 0,
            target_smoothing: 0.0,
            ema: 0.0,
            min_epochs: 0.0,
            optimizer: AdamWParams::default(),
        }
    }

    #[test]
    fn schedule_warms_up_then_decays_to_min() {
        let cfg = schedule();
        assert!((cfg.lr_at(0) - 1e-4).abs() < 1e-12);
        assert!((cfg.lr_at(9) - 1e-3).abs() < 1e-12);
        assert!((cfg.lr_at(10) - 1e-3).abs() < 1e-12);
        assert!((cfg.lr_at(100) - 1e-4).abs() < 1e-12);
        assert!(cfg.lr_at(50) < 1e-3 && cfg.lr_at(50) > 1e-4);
    }

    #[test]
    fn min_epochs_raises_the_cap_for_large_data_only() {
        let cfg = TrainConfig {
            steps: 400,
            batch_size: 32,
            seq_len: 32,
            min_epochs: 25.0,
            ..schedule()
        };
        let data = |lens: &[usize]| TokenData {
            train: lens.iter().map(|&n| vec![0u32; n]).collect(),
            ..TokenData::default()
        };
        // 10,000 tokens x 25 / 1,024 = 244.1: under the cap, which stays.
        assert_eq!(cfg.steps_for(&data(&[10_000])), 400);
        // A panel of 10 x 4,144 tokens: 1011.7 -> 1012 steps.
        assert_eq!(cfg.steps_for(&data(&[4_144; 10])), 1012);
        // Off, and idempotent once raised (what a resumed run's config holds).
        let off = TrainConfig {
            min_epochs: 0.0,
            ..cfg.clone()
        };
        assert_eq!(off.steps_for(&data(&[4_144; 10])), 400);
        let raised = TrainConfig {
            steps: 1012,
            ..cfg.clone()
        };
        assert_eq!(raised.steps_for(&data(&[4_144; 10])), 1012);
        assert!(TrainConfig {
            min_epochs: -1.0,
            ..cfg
        }
        .validate(32)
        .is_err());
    }

    #[test]
    fn freezing_covers_embeddings_and_lower_blocks() {
        assert!(is_frozen("tok_emb.weight", 1));
        assert!(is_frozen("blocks.0.attn.q.weight", 1));
        assert!(!is_frozen("blocks.1.attn.q.weight", 1));
        assert!(!is_frozen("head.weight", 2));
        assert!(!is_frozen("blocks.0.attn.q.weight", 0));
        // Input tables are embeddings too.
        assert!(is_frozen("inputs.time_of_day.weight", 1));
        assert!(!is_frozen("inputs.time_of_day.weight", 0));
    }

    #[test]
    fn windows_cover_every_start_and_validation_is_in_time_order() -> Result<()> {
        let seqs = vec![vec![0, 1, 2, 3, 4], vec![10, 11]];
        let w = Windows::new(&seqs, &[], 0, 2)?;
        assert_eq!(w.cum, vec![3]); // starts 0, 1, 2 of the first; none of the second
        let mut rng = Rng::new(3);
        let (x, ids, y) = w.batch(&mut rng, 50, &Device::Cpu)?;
        assert!(ids.is_none());
        let (x, y) = (x.to_vec2::<u32>()?, y.to_vec2::<u32>()?);
        assert!(x
            .iter()
            .zip(&y)
            .all(|(a, b)| a[0] + 1 == b[0] && a[1] + 1 == b[1]));
        let data = TokenData {
            val: seqs.clone(),
            ..TokenData::default()
        };
        let v = val_windows(&data, 0, 2, 10);
        let pair = |x: Vec<u32>, y: Vec<u32>| Window {
            x,
            y,
            inputs: vec![],
            scored_from: 0,
        };
        // The second series' two tokens fit no window, and it has no training
        // part: one window of what there is.
        let short = Window {
            x: vec![10],
            y: vec![11],
            inputs: vec![],
            scored_from: 0,
        };
        assert_eq!(
            v,
            vec![
                pair(vec![0, 1], vec![1, 2]),
                pair(vec![2, 3], vec![3, 4]),
                short
            ]
        );
        Ok(())
    }

    /// Input ids travel with their tokens (two channels: 100 + token, 200 + token),
    /// and the random draws are those of a run without channels.
    #[test]
    fn windows_carry_the_input_ids_of_their_tokens() -> Result<()> {
        let seqs = vec![vec![0, 1, 2, 3, 4], vec![10, 11, 12]];
        let ids: Vec<Vec<u32>> = seqs
            .iter()
            .map(|s| s.iter().flat_map(|&t| [100 + t, 200 + t]).collect())
            .collect();
        let with = Windows::new(&seqs, &ids, 2, 2)?;
        let without = Windows::new(&seqs, &[], 0, 2)?;
        let (mut r1, mut r2) = (Rng::new(9), Rng::new(9));
        let (x, ids_t, _) = with.batch(&mut r1, 40, &Device::Cpu)?;
        let (x0, _, _) = without.batch(&mut r2, 40, &Device::Cpu)?;
        assert_eq!(x.to_vec2::<u32>()?, x0.to_vec2::<u32>()?);
        let ids_t = ids_t
            .map(|t| t.to_vec3::<u32>())
            .transpose()?
            .unwrap_or_default();
        for (row, ids_row) in x.to_vec2::<u32>()?.iter().zip(&ids_t) {
            for (&tok, pair) in row.iter().zip(ids_row) {
                assert_eq!(pair, &vec![100 + tok, 200 + tok]);
            }
        }
        let data = TokenData {
            val: seqs.clone(),
            val_inputs: ids.clone(),
            ..TokenData::default()
        };
        let v = val_windows(&data, 2, 2, 10);
        assert_eq!(v[1].x, vec![2, 3]);
        assert_eq!(v[1].inputs, vec![102, 202, 103, 203]);
        assert_eq!(v[2].inputs, vec![110, 210, 111, 211]);
        Ok(())
    }

    /// A validation part shorter than a window is scored after the end of its
    /// series' training part, which is context only; longer ones never borrow.
    #[test]
    fn a_short_validation_part_borrows_context_from_training() {
        let ids = |s: &[u32]| -> Vec<u32> { s.iter().flat_map(|&t| [100 + t, 200 + t]).collect() };
        let train = vec![vec![0, 1, 2, 3, 4, 5], vec![20, 21, 22], vec![30]];
        let val = vec![vec![6, 7], vec![23, 24, 25, 26, 27], vec![31]];
        let data = TokenData {
            train_inputs: train.iter().map(|s| ids(s)).collect(),
            val_inputs: val.iter().map(|s| ids(s)).collect(),
            train,
            val,
        };
        let v = val_windows(&data, 2, 4, 10);
        assert_eq!(v.len(), 3);
        // Five tokens: the last three of training, then both of validation; the
        // targets 6 and 7 are scored, 4 and 5 are not.
        assert_eq!(v[0].x, vec![3, 4, 5, 6]);
        assert_eq!(v[0].y, vec![4, 5, 6, 7]);
        assert_eq!(v[0].scored_from, 2);
        assert_eq!(v[0].inputs, ids(&[3, 4, 5, 6]));
        // Long enough for a window of its own: no borrowing.
        assert_eq!(v[1].x, vec![23, 24, 25, 26]);
        assert_eq!(v[1].scored_from, 0);
        // One training token of context: the validation token is its only target.
        assert_eq!(v[2].x, vec![30]);
        assert_eq!(v[2].y, vec![31]);
        assert_eq!(v[2].scored_from, 0);
        assert_eq!(v[2].inputs, ids(&[30]));
        // The cap counts these windows too.
        assert_eq!(val_windows(&data, 2, 4, 1).len(), 1);
    }
}
