//! A decode session: prompt, then one token per step through the KV cache, sliding
//! the window when the cache reaches the context limit.
//!
//! Learned positional embeddings stop at `max_ctx`, so the cache cannot simply
//! drop its oldest entry (the rest would sit at the wrong positions). Instead, when
//! a step would pass the limit, the session keeps the last `keep` tokens, clears
//! the cache and re-encodes them from position 0; the step then runs as usual. The
//! logits are exactly those of a full pass over the kept tail plus the new token.
//! A smaller `keep` re-encodes less often but forgets more.
//!
//! A model with extra input channels gets their ids with every token (the `_with`
//! methods); the session keeps them beside the tokens, so a slide re-encodes the
//! kept tail with its own ids.

use crate::cache::KvCache;
use crate::error::{GptError, Result};
use crate::model::Gpt;
use candle_core::Tensor;

pub struct Decoder<'m> {
    model: &'m Gpt,
    cache: KvCache,
    /// The tokens the cache holds, row by row (needed to re-encode on a slide).
    window: Vec<Vec<u32>>,
    /// Their input channel ids, row by row, `C` per token (empty without channels).
    inputs: Vec<Vec<u32>>,
    keep: usize,
    slides: usize,
    /// Recompute the whole window at every step instead of using the cache: the
    /// yardstick the cache is measured against, and a check on it.
    uncached: bool,
}

impl<'m> Decoder<'m> {
    /// A session that keeps half the context on a slide.
    pub fn new(model: &'m Gpt) -> Decoder<'m> {
        let keep = (model.config().max_ctx / 2).max(1);
        Decoder {
            model,
            cache: model.new_cache(),
            window: Vec::new(),
            inputs: Vec::new(),
            keep,
            slides: 0,
            uncached: false,
        }
    }

    /// A session that re-runs the full window at every step (no KV cache reuse).
    pub fn uncached(mut self) -> Self {
        self.uncached = true;
        self
    }

    /// Keeps `keep` tokens (1 ..= max_ctx - 1) when the window slides.
    pub fn with_keep(mut self, keep: usize) -> Result<Self> {
        let max = self.model.config().max_ctx;
        if keep == 0 || keep >= max {
            return Err(GptError::Config(format!(
                "keep = {keep} must be in 1..{max}"
            )));
        }
        self.keep = keep;
        Ok(self)
    }

    /// Times the window slid so far.
    pub fn slides(&self) -> usize {
        self.slides
    }

    /// Positions in the cache.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Input channels per token.
    fn channels(&self) -> usize {
        self.model.n_inputs()
    }

    /// Starts a session on equal-length prompts (one per batch row) and returns the
    /// logits `(B, V)` after the last prompt token. Prompts longer than the context
    /// are cropped to their last `max_ctx` tokens.
    pub fn prefill(&mut self, prompts: &[Vec<u32>]) -> Result<Tensor> {
        self.prefill_with(prompts, &[])
    }

    /// [`Decoder::prefill`] with each prompt's input ids (`C` per token, token by
    /// token; `inputs` is empty for a model without channels).
    pub fn prefill_with(&mut self, prompts: &[Vec<u32>], inputs: &[Vec<u32>]) -> Result<Tensor> {
        let len = prompts.first().map_or(0, Vec::len);
        if len == 0 || prompts.iter().any(|p| p.len() != len) {
            return Err(GptError::Call(
                "prompts must be non-empty and of equal length".into(),
            ));
        }
        let c = self.channels();
        let fits = match c {
            0 => inputs.is_empty(),
            _ => inputs.len() == prompts.len() && inputs.iter().all(|i| i.len() == len * c),
        };
        if !fits {
            return Err(GptError::Call(format!(
                "{} prompts of {len} tokens need {c} input ids per token",
                prompts.len()
            )));
        }
        let max = self.model.config().max_ctx;
        let start = len.saturating_sub(max);
        self.window = prompts.iter().map(|p| p[start..].to_vec()).collect();
        self.inputs = inputs.iter().map(|i| i[start * c..].to_vec()).collect();
        self.cache.reset();
        self.forward_window(&mut None)
    }

    /// Like [`Decoder::prefill`], with every prompt followed by `copies - 1` copies
    /// of itself (rows `b * copies ..`): the prompt is encoded once and its cache
    /// rows repeated. Returns the logits of all `B * copies` rows.
    pub fn prefill_repeated(&mut self, prompts: &[Vec<u32>], copies: usize) -> Result<Tensor> {
        self.prefill_repeated_with(prompts, &[], copies)
    }

    /// [`Decoder::prefill_repeated`] with input ids as in [`Decoder::prefill_with`].
    pub fn prefill_repeated_with(
        &mut self,
        prompts: &[Vec<u32>],
        inputs: &[Vec<u32>],
        copies: usize,
    ) -> Result<Tensor> {
        if copies == 0 {
            return Err(GptError::Call("copies must be at least 1".into()));
        }
        let logits = self.prefill_with(prompts, inputs)?;
        let repeat = |rows: &[Vec<u32>]| -> Vec<Vec<u32>> {
            rows.iter()
                .flat_map(|w| std::iter::repeat_n(w.clone(), copies))
                .collect()
        };
        self.window = repeat(&self.window);
        self.inputs = repeat(&self.inputs);
        if copies == 1 {
            return Ok(logits);
        }
        self.cache.repeat_rows(copies)?;
        let b = prompts.len() as u32;
        let idx: Vec<u32> = (0..b)
            .flat_map(|r| std::iter::repeat_n(r, copies))
            .collect();
        let idx = Tensor::from_vec(idx, b as usize * copies, logits.device())?;
        Ok(logits.index_select(&idx, 0)?)
    }

    /// Feeds one token per row and returns the next logits `(B, V)`.
    pub fn step(&mut self, tokens: &[u32]) -> Result<Tensor> {
        self.step_with(tokens, &[])
    }

    /// [`Decoder::step`] with the new tokens' input ids, `C` per row, row by row.
    pub fn step_with(&mut self, tokens: &[u32], inputs: &[u32]) -> Result<Tensor> {
        if tokens.len() != self.window.len() {
            return Err(GptError::Call(format!(
                "{} tokens for a batch of {}",
                tokens.len(),
                self.window.len()
            )));
        }
        let c = self.channels();
        if inputs.len() != tokens.len() * c {
            return Err(GptError::Call(format!(
                "{} input ids for {} tokens of {c} channels",
                inputs.len(),
                tokens.len()
            )));
        }
        if self.cache.len() + 1 > self.model.config().max_ctx {
            self.slide()?;
        }
        for (row, &t) in self.window.iter_mut().zip(tokens) {
            row.push(t);
        }
        if c > 0 {
            for (row, ids) in self.inputs.iter_mut().zip(inputs.chunks(c)) {
                row.extend_from_slice(ids);
            }
        }
        if self.uncached {
            let mut cache = Some(self.model.new_cache());
            let out = self.forward_window(&mut cache);
            if let Some(cache) = cache {
                self.cache = cache;
            }
            return out;
        }
        let pos = self.cache.len();
        let dev = device(self.model);
        let x = Tensor::from_vec(tokens.to_vec(), (tokens.len(), 1), &dev)?;
        let ids = match c {
            0 => None,
            _ => Some(Tensor::from_vec(
                inputs.to_vec(),
                (tokens.len(), 1, c),
                &dev,
            )?),
        };
        self.model
            .forward_last_with(&x, ids.as_ref(), pos, &mut self.cache)
    }

    /// The whole window from position 0 into `cache` (the session's own when
    /// `None`), returning the last position's logits.
    fn forward_window(&mut self, cache: &mut Option<KvCache>) -> Result<Tensor> {
        let tokens = rows_tensor(&self.window, None, self.model)?;
        let ids = match self.channels() {
            0 => None,
            c => Some(rows_tensor(&self.inputs, Some(c), self.model)?),
        };
        let cache = match cache {
            Some(c) => c,
            None => &mut self.cache,
        };
        self.model
            .forward_last_with(&tokens, ids.as_ref(), 0, cache)
    }

    fn slide(&mut self) -> Result<()> {
        for row in &mut self.window {
            let cut = row.len().saturating_sub(self.keep);
            row.drain(..cut);
        }
        let c = self.channels();
        for row in &mut self.inputs {
            let cut = row.len().saturating_sub(self.keep * c);
            row.drain(..cut);
        }
        self.cache.reset();
        self.forward_window(&mut None)?;
        self.slides += 1;
        Ok(())
    }
}

fn device(model: &Gpt) -> candle_core::Device {
    model.device().clone()
}

/// Equal-length rows as `(B, T)` (tokens, `channels` `None`) or `(B, T, C)` (input
/// ids, `C` per position).
fn rows_tensor(rows: &[Vec<u32>], channels: Option<usize>, model: &Gpt) -> Result<Tensor> {
    let len = rows.first().map_or(0, Vec::len);
    let flat: Vec<u32> = rows.iter().flatten().copied().collect();
    let dev = device(model);
    Ok(match channels {
        None => Tensor::from_vec(flat, (rows.len(), len), &dev)?,
        Some(c) => Tensor::from_vec(flat, (rows.len(), len / c.max(1), c), &dev)?,
    })
}
