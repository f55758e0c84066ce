//! The GPT: token + learned positional embeddings (plus one embedding per extra
//! input channel, when the config has any), N blocks, a vocabulary head.

use crate::block::Block;
use crate::cache::KvCache;
use crate::config::GptConfig;
use crate::error::{GptError, Result};
use crate::kernels::layer_norm::LayerNorm;
use crate::kernels::linear::{add_rows, linear_b, Linear};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{embedding, Embedding, VarBuilder, VarMap};
use candlecast_rand::Rng;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Gpt {
    tok_emb: Embedding,
    pos_emb: Embedding,
    /// One table per [`GptConfig::inputs`] channel, in that order.
    inputs: Vec<Embedding>,
    blocks: Vec<Block>,
    ln_f: Option<LayerNorm>,
    head: Linear,
    cfg: GptConfig,
}

impl Gpt {
    /// Builds the model from `vb`, whose names follow the module tree
    /// (`tok_emb`, `blocks.{i}.attn.q`, ...; see [`GptConfig::param_shapes`]).
    pub fn new(cfg: &GptConfig, vb: VarBuilder) -> Result<Gpt> {
        cfg.validate()?;
        let d = cfg.d_model;
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::new(cfg, vb.pp("blocks").pp(i)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Gpt {
            tok_emb: embedding(cfg.vocab_size, d, vb.pp("tok_emb"))?,
            pos_emb: embedding(cfg.max_ctx, d, vb.pp("pos_emb"))?,
            inputs: cfg
                .inputs
                .iter()
                .map(|c| embedding(c.size, d, vb.pp("inputs").pp(&c.name)))
                .collect::<candle_core::Result<Vec<_>>>()?,
            blocks,
            ln_f: match cfg.final_ln {
                true => Some(LayerNorm::new(d, cfg.ln_eps, vb.pp("ln_f"))?),
                false => None,
            },
            head: linear_b(d, cfg.vocab_size, cfg.head_bias, vb.pp("head"))?,
            cfg: cfg.clone(),
        })
    }

    /// Builds the model from named tensors (a loaded checkpoint), checking that every
    /// expected tensor is there with its shape and that nothing else is.
    pub fn from_tensors(
        cfg: &GptConfig,
        tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<Gpt> {
        cfg.validate()?;
        let expected = cfg.param_shapes();
        for (name, shape) in &expected {
            match tensors.get(name) {
                None => return Err(GptError::Weights(format!("weights lack tensor '{name}'"))),
                Some(t) if t.dims() != shape.as_slice() => {
                    return Err(GptError::Weights(format!(
                        "tensor '{name}' has shape {:?}, the config needs {shape:?}",
                        t.dims()
                    )))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = tensors
            .keys()
            .find(|k| !expected.iter().any(|(n, _)| n == *k))
        {
            return Err(GptError::Weights(format!(
                "weights hold an unexpected tensor '{extra}'"
            )));
        }
        Gpt::new(cfg, VarBuilder::from_tensors(tensors, DType::F32, device))
    }

    /// Fresh weights from a seed, in a `VarMap` ready for training: N(0, 0.02) for
    /// embeddings and projections, the residual projections (`attn.o`, `ffn.down`)
    /// scaled by 1/sqrt(2 n_layer) as in GPT-2, zero biases, unit LayerNorm gains.
    pub fn init(cfg: &GptConfig, seed: u64, device: &Device) -> Result<(Gpt, VarMap)> {
        cfg.validate()?;
        let varmap = VarMap::new();
        {
            let mut data = varmap.data().lock().map_err(|_| GptError::LockPoisoned)?;
            let residual_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
            for (i, (name, shape)) in cfg.param_shapes().into_iter().enumerate() {
                let n: usize = shape.iter().product();
                let mut rng = Rng::fork(seed, i as u64);
                // Input tables are embeddings whatever their (caller-chosen) names say.
                let is_ln =
                    name.contains("ln") && !name.contains("emb") && !name.starts_with("inputs.");
                let values: Vec<f32> = if name.ends_with(".bias") {
                    vec![0.0; n]
                } else if is_ln {
                    vec![1.0; n]
                } else {
                    let std =
                        if name.ends_with("attn.o.weight") || name.ends_with("ffn.down.weight") {
                            residual_std
                        } else {
                            0.02
                        };
                    (0..n).map(|_| (rng.normal() * std) as f32).collect()
                };
                let t = Tensor::from_vec(values, shape, device)?;
                data.insert(name, candle_core::Var::from_tensor(&t)?);
            }
        }
        let model = Gpt::new(cfg, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
        Ok((model, varmap))
    }

    pub fn config(&self) -> &GptConfig {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        self.head.weight().device()
    }

    /// Logits `(B, T, V)` for `tokens` `(B, T)` (u32) at positions `pos .. pos + T`,
    /// attending to the `pos` positions already in `cache`, which gains these `T`.
    /// A full pass is `forward(all, 0, &mut KvCache::new(..))`; a decode step is one
    /// token with `pos = cache.len()`. Both run the same code. A model with input
    /// channels needs [`Gpt::forward_with`].
    pub fn forward(&self, tokens: &Tensor, pos: usize, cache: &mut KvCache) -> Result<Tensor> {
        self.forward_with(tokens, None, pos, cache)
    }

    /// [`Gpt::forward`] with the ids of the extra input channels: `inputs` is
    /// `(B, T, C)` u32, channel `c` in `0..cfg.inputs[c].size`; `None` exactly when
    /// the model has no channels.
    pub fn forward_with(
        &self,
        tokens: &Tensor,
        inputs: Option<&Tensor>,
        pos: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        in_pool(|| {
            let x = self.hidden(tokens, inputs, pos, cache)?;
            Ok(self.head.forward(&x)?)
        })
    }

    /// Logits `(B, V)` of the last position only: what decoding needs, without
    /// running the head over a whole prompt.
    pub fn forward_last(&self, tokens: &Tensor, pos: usize, cache: &mut KvCache) -> Result<Tensor> {
        self.forward_last_with(tokens, None, pos, cache)
    }

    /// [`Gpt::forward_last`] with input channel ids, as in [`Gpt::forward_with`].
    pub fn forward_last_with(
        &self,
        tokens: &Tensor,
        inputs: Option<&Tensor>,
        pos: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        in_pool(|| {
            let x = self.hidden(tokens, inputs, pos, cache)?;
            let t = x.dim(1)?;
            Ok(self.head.forward(&x.narrow(1, t - 1, 1)?.squeeze(1)?)?)
        })
    }

    /// Number of extra input channels (the `C` of `forward_with`'s `(B, T, C)`).
    pub fn n_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// `tok_emb[token] + sum_c inputs_c[id_c]`, `(B, T, d)`, after checking that
    /// `inputs` fits the model's channels.
    fn embed(&self, tokens: &Tensor, inputs: Option<&Tensor>) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let x = self.tok_emb.forward(tokens)?;
        let n = self.cfg.inputs.len();
        let ids = match (inputs, n) {
            (None, 0) => return Ok(x),
            (Some(ids), _) => ids,
            (None, _) => {
                return Err(GptError::Call(format!(
                    "the model takes {n} input channels and none were given"
                )))
            }
        };
        if ids.dims() != [b, t, n] {
            return Err(GptError::Call(format!(
                "input ids have shape {:?}; the model needs ({b}, {t}, {n})",
                ids.dims()
            )));
        }
        let ids = ids.to_dtype(DType::U32)?;
        // Largest id of each channel, checked before any lookup.
        let top = ids.reshape((b * t, n))?.max(0)?.to_vec1::<u32>()?;
        for (c, (&id, ch)) in top.iter().zip(&self.cfg.inputs).enumerate() {
            if id as usize >= ch.size {
                return Err(GptError::InputOutOfRange {
                    channel: c,
                    name: ch.name.clone(),
                    id,
                    size: ch.size,
                });
            }
        }
        let mut x = x;
        for (c, table) in self.inputs.iter().enumerate() {
            let col = ids.narrow(2, c, 1)?.squeeze(2)?.contiguous()?; // (B, T)
            x = (x + table.forward(&col)?)?;
        }
        Ok(x)
    }

    fn hidden(
        &self,
        tokens: &Tensor,
        inputs: Option<&Tensor>,
        pos: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (_b, t) = tokens.dims2()?;
        if t == 0 {
            return Err(GptError::Call("forward needs at least one token".into()));
        }
        if pos + t > self.cfg.max_ctx {
            return Err(GptError::ContextOverflow {
                len: pos + t,
                max: self.cfg.max_ctx,
            });
        }
        if cache.len() != pos {
            return Err(GptError::Call(format!(
                "position {pos} does not follow the {} cached positions",
                cache.len()
            )));
        }
        let top = tokens.max_all()?.to_dtype(DType::U32)?.to_scalar::<u32>()?;
        if top as usize >= self.cfg.vocab_size {
            return Err(GptError::TokenOutOfRange {
                token: top,
                vocab: self.cfg.vocab_size,
            });
        }
        let device = tokens.device();
        let positions = Tensor::arange(pos as u32, (pos + t) as u32, device)?;
        let x = add_rows(
            &self.embed(tokens, inputs)?,
            &self.pos_emb.forward(&positions)?,
        )?; // (B, T, d)
        let mut x = x;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, cache, i)?;
        }
        if let Some(ln) = &self.ln_f {
            x = ln.forward(&x)?;
        }
        Ok(x)
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache::with_capacity(self.cfg.n_layer, self.cfg.max_ctx)
    }
}

/// Runs `f` on a thread of rayon's pool (at once if this is one). Every kernel of a
/// pass splits its work on rayon; called from outside the pool, each one hands its
/// work to a worker and sleeps until it is done, a futex round trip per kernel (about
/// sixty per decode step). Inside the pool they run on the worker directly.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}
