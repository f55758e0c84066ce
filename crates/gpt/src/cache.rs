//! The per-layer key/value cache.
//!
//! A value the caller owns, not state hidden in the model (as in candle's
//! `llama2_c`): the weights stay shared and immutable, one cache serves one decode
//! session, and nobody can forget to clear it.

use candle_core::{Result, Tensor};

/// Keys and values of every position decoded so far, per layer, each `(B, H, T, hd)`.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    pub fn new(n_layer: usize) -> KvCache {
        KvCache {
            layers: vec![None; n_layer],
        }
    }

    /// Positions held (the same in every layer).
    pub fn len(&self) -> usize {
        match self.layers.first() {
            Some(Some((k, _))) => k.dims().get(2).copied().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
    }

    /// Appends this step's keys and values for `layer` and returns all of them.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let slot = self
            .layers
            .get_mut(layer)
            .ok_or_else(|| candle_core::Error::Msg(format!("no cache slot for layer {layer}")))?;
        let (k, v) = match slot.take() {
            None => (k.clone(), v.clone()),
            Some((k0, v0)) => (Tensor::cat(&[&k0, k], 2)?, Tensor::cat(&[&v0, v], 2)?),
        };
        *slot = Some((k.clone(), v.clone()));
        Ok((k, v))
    }
}
