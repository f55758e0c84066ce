//! One transformer block: attention and feed-forward, each with a residual add and
//! a LayerNorm, post-norm (the classic GPT block, default) or pre-norm (GPT-2).

use crate::attention::CausalSelfAttention;
use crate::cache::KvCache;
use crate::config::{Activation, GptConfig, Norm};
use crate::kernels::layer_norm::LayerNorm;
use crate::kernels::linear::{linear, Linear};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// Linear(d, d_ff) -> activation -> Linear(d_ff, d).
#[derive(Debug, Clone)]
pub struct Mlp {
    up: Linear,
    down: Linear,
    activation: Activation,
}

impl Mlp {
    pub fn new(cfg: &GptConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Mlp {
            up: linear(cfg.d_model, cfg.d_ff(), vb.pp("up"))?,
            down: linear(cfg.d_ff(), cfg.d_model, vb.pp("down"))?,
            activation: cfg.activation,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = match self.activation {
            Activation::Relu => self.up.forward_relu(x)?,
            Activation::Gelu => self.up.forward(x)?.gelu()?, // tanh approximation
        };
        self.down.forward(&h)
    }
}

#[derive(Debug, Clone)]
pub struct Block {
    attn: CausalSelfAttention,
    ln1: LayerNorm,
    ffn: Mlp,
    ln2: LayerNorm,
    norm: Norm,
}

impl Block {
    pub fn new(cfg: &GptConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Block {
            attn: CausalSelfAttention::new(cfg, vb.pp("attn"))?,
            ln1: LayerNorm::new(cfg.d_model, cfg.ln_eps, vb.pp("ln1"))?,
            ffn: Mlp::new(cfg, vb.pp("ffn"))?,
            ln2: LayerNorm::new(cfg.d_model, cfg.ln_eps, vb.pp("ln2"))?,
            norm: cfg.norm,
        })
    }

    pub fn forward(&self, x: &Tensor, cache: &mut KvCache, layer: usize) -> Result<Tensor> {
        match self.norm {
            Norm::Post => {
                let x = self
                    .ln1
                    .forward(&(x + self.attn.forward(x, cache, layer)?)?)?;
                self.ln2.forward(&(&x + self.ffn.forward(&x)?)?)
            }
            Norm::Pre => {
                let h = self.ln1.forward(x)?;
                let x = (x + self.attn.forward(&h, cache, layer)?)?;
                let h = self.ln2.forward(&x)?;
                &x + self.ffn.forward(&h)?
            }
        }
    }
}
