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
    /// Extra categorical inputs per position (calendar, relative volume, ...), each
    /// with its own embedding table summed into the token embedding before the first
    /// block. The model only sees ids: what a channel means is the caller's. Empty
    /// (the default, and left out of `meta.json` then) is the seed's model exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputChannel>,
}

/// One extra input channel: ids `0..size` at every position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputChannel {
    /// Names the embedding table (`inputs.{name}.weight`): lowercase letters,
    /// digits and `_`, so it is a safe tensor name.
    pub name: String,
    /// Number of ids (rows of the table), at least 1.
    pub size: usize,
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
            inputs: vec![],
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
        for (i, c) in self.inputs.iter().enumerate() {
            let safe = !c.name.is_empty()
                && c.name.len() <= 64
                && c.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !safe {
                return Err(GptError::Config(format!(
                    "input channel name {:?} must be 1-64 of a-z, 0-9 and _",
                    c.name
                )));
            }
            if c.size == 0 || c.size > 1 << 20 {
                return Err(GptError::Config(format!(
                    "input channel '{}' has size {}; it must be in 1..=1048576",
                    c.name, c.size
                )));
            }
            if self.inputs[..i].iter().any(|o| o.name == c.name) {
                return Err(GptError::Config(format!(
                    "input channel '{}' is listed twice",
                    c.name
                )));
            }
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
        // Last, so that switching inputs on leaves every other tensor's seeded init
        // (forked by its index here) as it was: an ablation differs in the inputs only.
        for c in &self.inputs {
            p.push((format!("inputs.{}.weight", c.name), vec![c.size, d]));
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
    fn input_channels_are_checked_and_add_their_tables_last() {
        let ch = |name: &str, size| InputChannel {
            name: name.into(),
            size,
        };
        let mut c = GptConfig::tiny(100);
        let plain = c.param_shapes();
        c.inputs = vec![ch("time_of_day", 49), ch("volume", 9)];
        assert!(c.validate().is_ok());
        let with = c.param_shapes();
        assert_eq!(&with[..plain.len()], &plain[..]);
        assert_eq!(
            &with[plain.len()..],
            &[
                ("inputs.time_of_day.weight".to_string(), vec![49, 64]),
                ("inputs.volume.weight".to_string(), vec![9, 64])
            ]
        );
        assert_eq!(c.n_params(), GptConfig::tiny(100).n_params() + 58 * 64);
        for bad in [
            vec![ch("a", 0)],
            vec![ch("a", 2), ch("a", 3)],
            vec![ch("A/b", 2)],
            vec![ch("", 2)],
        ] {
            c.inputs = bad;
            assert!(c.validate().is_err(), "{:?}", c.inputs);
        }
        // Left out of the JSON when empty, so configs without inputs read as before.
        let json = serde_json::to_string(&GptConfig::tiny(10)).unwrap_or_default();
        assert!(!json.contains("inputs"), "{json}");
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
        assert!(c.inputs.is_empty());
        let bad = serde_json::from_str::<GptConfig>(
            r#"{"vocab_size": 10, "d_model": 8, "n_head": 2, "n_layer": 1, "max_ctx": 4, "dropout": 0.1}"#,
        );
        assert!(bad.is_err());
    }
}
