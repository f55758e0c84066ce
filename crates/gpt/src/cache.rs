//! The per-layer key/value cache.
//!
//! A value the caller owns, not state hidden in the model (as in candle's
//! `llama2_c`): the weights stay shared and immutable, one cache serves one decode
//! session, and nobody can forget to clear it.
//!
//! The first append of a layer (a full pass, a prompt) stores its keys and values
//! as they are, so a training forward pass keeps its gradients and copies nothing.
//! Later appends (decode steps) move them into a buffer of `capacity` positions once
//! and then write each step in place, instead of concatenating the whole history at
//! every step (which made memory copies 28% of batched decoding).

use candle_core::{Result, Tensor};

#[derive(Debug)]
struct Entry {
    /// `(B, H, len, hd)`, or the `(B, H, capacity, hd)` buffer once `grown`.
    k: Tensor,
    v: Tensor,
    len: usize,
    grown: bool,
}

/// Keys and values of every position decoded so far, per layer, each `(B, H, T, hd)`.
/// Not `Clone`: a grown cache is written in place, and a copy would share its buffers.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<Option<Entry>>,
    capacity: usize,
}

impl KvCache {
    /// A cache that concatenates on every append (no preallocation).
    pub fn new(n_layer: usize) -> KvCache {
        KvCache::with_capacity(n_layer, 0)
    }

    /// A cache that decodes in place up to `capacity` positions (the model's context).
    pub fn with_capacity(n_layer: usize, capacity: usize) -> KvCache {
        KvCache {
            layers: (0..n_layer).map(|_| None).collect(),
            capacity,
        }
    }

    /// Positions held (the same in every layer).
    pub fn len(&self) -> usize {
        match self.layers.first() {
            Some(Some(e)) => e.len,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
    }

    /// Repeats every batch row `copies` times in place (row `b` becomes rows
    /// `b * copies .. (b + 1) * copies`): many sample paths share one prompt, so the
    /// prompt is encoded once and its keys and values copied, not recomputed.
    pub fn repeat_rows(&mut self, copies: usize) -> Result<()> {
        if copies == 1 {
            return Ok(());
        }
        for e in self.layers.iter_mut().flatten() {
            let b = e.k.dim(0)?;
            let idx: Vec<u32> = (0..b as u32)
                .flat_map(|r| std::iter::repeat_n(r, copies))
                .collect();
            let idx = Tensor::from_vec(idx, b * copies, e.k.device())?;
            // A first append keeps the projection's head view, which is strided.
            e.k = e.k.contiguous()?.index_select(&idx, 0)?;
            e.v = e.v.contiguous()?.index_select(&idx, 0)?;
        }
        Ok(())
    }

    /// Appends this step's keys and values for `layer` and returns all of them.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let capacity = self.capacity;
        let slot = self
            .layers
            .get_mut(layer)
            .ok_or_else(|| candle_core::Error::Msg(format!("no cache slot for layer {layer}")))?;
        let Some(e) = slot.take() else {
            let t = k.dim(2)?;
            *slot = Some(Entry {
                k: k.clone(),
                v: v.clone(),
                len: t,
                grown: false,
            });
            return Ok((k.clone(), v.clone()));
        };
        let new_len = e.len + k.dim(2)?;
        if new_len > capacity {
            // Past the buffer (or none wanted): concatenate.
            let (k0, v0) = (e.k.narrow(2, 0, e.len)?, e.v.narrow(2, 0, e.len)?);
            let (k, v) = (Tensor::cat(&[&k0, k], 2)?, Tensor::cat(&[&v0, v], 2)?);
            *slot = Some(Entry {
                k: k.clone(),
                v: v.clone(),
                len: new_len,
                grown: false,
            });
            return Ok((k, v));
        }
        let (kb, vb) = if e.grown {
            (e.k, e.v)
        } else {
            let buffer = |t: &Tensor| -> Result<Tensor> {
                let mut shape = t.dims().to_vec();
                shape[2] = capacity;
                let b = Tensor::zeros(shape, t.dtype(), t.device())?;
                b.slice_set(&t.contiguous()?, 2, 0)?;
                Ok(b)
            };
            (buffer(&e.k)?, buffer(&e.v)?)
        };
        kb.slice_set(&k.contiguous()?, 2, e.len)?;
        vb.slice_set(&v.contiguous()?, 2, e.len)?;
        let out = (kb.narrow(2, 0, new_len)?, vb.narrow(2, 0, new_len)?);
        *slot = Some(Entry {
            k: kb,
            v: vb,
            len: new_len,
            grown: true,
        });
        Ok(out)
    }
}
