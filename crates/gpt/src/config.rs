//! The model's shape, as a typed config (the `[model]` table of a TOML file).

use crate::error::{GptError, Result};
use serde::{Deserialize, Serialize};

/// Where LayerNorm sits in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// The classic GPT block: `x = LN(x + Attn(x)); x = LN(x + FFN(x))`.
    #[default]
    Post,
    /// GPT-2: `x = x + Attn(LN(x)); x = x + FFN(LN(x))`, plus a final LN before the head.
    Pre,
}

/// The feed-forward non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Relu,
    /// The tanh approximation, as in GPT-2 (`gelu_new`).
    Gelu,
}

/// A decoder-only GPT's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Token vocabulary, specials included (the tokenizer's `vocab_size()`); left out
    /// of config files, where it comes from the tokenizer.
    #[serde(default)]
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Attention heads; must divide `d_model`.
    pub n_head: usize,
    /// Number of blocks.
    pub n_layer: usize,
    /// Longest sequence the positional embedding covers; the KV cache slides beyond it.
    pub max_ctx: usize,
    /// Feed-forward width; 4 x `d_model` when not given.
    #[serde(default)]
    pub d_ff: Option<usize>,
    #[serde(default)]
    pub norm: Norm,
    #[serde(default)]
    pub activation: Activation,
    /// A final LayerNorm before the head (GPT-2 has one; the post-norm block does not need it).
    #[serde(default)]
    pub final_ln: bool,
    /// A bias on the vocabulary head.
    #[serde(default = "yes")]
    pub head_bias: bool,
    #[serde(default = "default_eps")]
    pub ln_eps: f64,
}

fn yes() -> bool {
    true
}

fn default_eps() -> f64 {
    1e-5
}

impl GptConfig {
    /// A model small enough to train on 2 CPU cores in minutes.
    pub fn tiny(vocab_size: usize) -> GptConfig {
        GptConfig {
            vocab_size,
            d_model: 64,
            n_head: 4,
            n_layer: 2,
            max_ctx: 64,
            d_ff: None,
            norm: Norm::Post,
            activation: Activation::Relu,
            final_ln: false,
            head_bias: true,
            ln_eps: 1e-5,
        }
    }

    pub fn d_ff(&self) -> usize {
        self.d_ff.unwrap_or(4 * self.d_model)
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head.max(1)
    }

    /// Refuses shapes the model cannot be built with, before any allocation.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_head", self.n_head),
            ("n_layer", self.n_layer),
            ("max_ctx", self.max_ctx),
            ("d_ff", self.d_ff()),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(GptError::Config(format!("{name} must be at least 1")));
            }
        }
        if self.d_model % self.n_head != 0 {
            return Err(GptError::Config(format!(
                "n_head = {} does not divide d_model = {}",
                self.n_head, self.d_model
            )));
        }
        // 2^31 parameters is far beyond what this tool trains; larger is a typo or hostile.
        if self.n_params() > (1 << 31) {
            return Err(GptError::Config(format!(
                "{} parameters is too large",
                self.n_params()
            )));
        }
        if !(self.ln_eps > 0.0 && self.ln_eps < 1.0) {
            return Err(GptError::Config(format!(
                "ln_eps = {} must be in (0, 1)",
                self.ln_eps
            )));
        }
        Ok(())
    }

    /// Every parameter's name and shape, in the module tree's naming.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (v, d, f) = (self.vocab_size, self.d_model, self.d_ff());
        let mut p = vec![
            ("tok_emb.weight".to_string(), vec![v, d]),
            ("pos_emb.weight".to_string(), vec![self.max_ctx, d]),
        ];
        for i in 0..self.n_layer {
            let b = format!("blocks.{i}");
            for proj in ["q", "k", "v", "o"] {
                p.push((format!("{b}.attn.{proj}.weight"), vec![d, d]));
                p.push((format!("{b}.attn.{proj}.bias"), vec![d]));
            }
            for ln in ["ln1", "ln2"] {
                p.push((format!("{b}.{ln}.weight"), vec![d]));
                p.push((format!("{b}.{ln}.bias"), vec![d]));
            }
            p.push((format!("{b}.ffn.up.weight"), vec![f, d]));
            p.push((format!("{b}.ffn.up.bias"), vec![f]));
            p.push((format!("{b}.ffn.down.weight"), vec![d, f]));
            p.push((format!("{b}.ffn.down.bias"), vec![d]));
        }
        if self.final_ln {
            p.push(("ln_f.weight".to_string(), vec![d]));
            p.push(("ln_f.bias".to_string(), vec![d]));
        }
        p.push(("head.weight".to_string(), vec![v, d]));
        if self.head_bias {
            p.push(("head.bias".to_string(), vec![v]));
        }
        p
    }

    pub fn n_params(&self) -> usize {
        self.param_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_must_divide_the_width() {
        let mut c = GptConfig::tiny(100);
        assert!(c.validate().is_ok());
        c.n_head = 5;
        let e = c.validate().map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("invalid model config: n_head = 5 does not divide d_model = 64".into())
        );
        c.n_head = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn parameter_count_matches_the_shapes() {
        let c = GptConfig::tiny(100);
        // emb 100*64 + pos 64*64 + 2 blocks * (4*(64*64+64) + 4*64 + (256*64+256) + (64*256+64)) + head 100*64+100
        let block = 4 * (64 * 64 + 64) + 4 * 64 + (256 * 64 + 256) + (64 * 256 + 64);
        assert_eq!(
            c.n_params(),
            100 * 64 + 64 * 64 + 2 * block + 100 * 64 + 100
        );
    }

    #[test]
    fn toml_defaults_and_unknown_fields() {
        let c: GptConfig = serde_json::from_str(
            r#"{"vocab_size": 10, "d_model": 8, "n_head": 2, "n_layer": 1, "max_ctx": 4}"#,
        )
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.norm, c.activation, c.head_bias, c.d_ff()),
            (Norm::Post, Activation::Relu, true, 32)
        );
        let bad = serde_json::from_str::<GptConfig>(
            r#"{"vocab_size": 10, "d_model": 8, "n_head": 2, "n_layer": 1, "max_ctx": 4, "dropout": 0.1}"#,
        );
        assert!(bad.is_err());
    }
}
