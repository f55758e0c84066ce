//! Multi-head causal self-attention that keeps its keys and values in a [`KvCache`].

use crate::cache::KvCache;
use crate::config::GptConfig;
use crate::kernels::attention_op::causal_attention;
use crate::kernels::linear::{linear, Linear};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

#[derive(Debug, Clone)]
pub struct CausalSelfAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    n_head: usize,
    head_dim: usize,
}

impl CausalSelfAttention {
    pub fn new(cfg: &GptConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(CausalSelfAttention {
            q: linear(d, d, vb.pp("q"))?,
            k: linear(d, d, vb.pp("k"))?,
            v: linear(d, d, vb.pp("v"))?,
            o: linear(d, d, vb.pp("o"))?,
            n_head: cfg.n_head,
            head_dim: cfg.head_dim(),
        })
    }

    /// `x` holds the new positions only; earlier ones come from `cache[layer]`. New
    /// position `i` attends to every cached position and to new positions `..= i`.
    pub fn forward(&self, x: &Tensor, cache: &mut KvCache, layer: usize) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        // 1. Project and split heads: (B, T, d) -> (B, H, T, hd), a view.
        let heads = |lin: &Linear| -> Result<Tensor> {
            lin.forward(x)?
                .reshape((b, t, self.n_head, self.head_dim))?
                .transpose(1, 2)
        };
        let (q, k, v) = (heads(&self.q)?, heads(&self.k)?, heads(&self.v)?);
        // 2. Only this step's K and V are computed; the cache supplies the past.
        let (k, v) = cache.append(layer, &k, &v)?;
        // 3. softmax(Q Kᵀ / sqrt(hd) + causal mask) V in one op (one backward too), then
        //    the heads concatenated back in order: (B, T, d).
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let y = causal_attention(&q, &k, &v, scale)?
            .transpose(1, 2)?
            .reshape((b, t, d))?;
        self.o.forward(&y)
    }
}
