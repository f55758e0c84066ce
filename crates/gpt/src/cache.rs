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

use crate::kernels::cpu::cpu_storage;
use candle_core::{CpuStorage, DType, Result, Tensor};

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
            (grow(&e.k, capacity)?, grow(&e.v, capacity)?)
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

/// `t` `(B, H, len, hd)` copied into a `(B, H, capacity, hd)` buffer, positions
/// `len..` zero. On the CPU (f32, no gradient) the rows are copied straight from
/// `t`'s strides (a prompt's keys are a head view of the projection) and only the
/// unused tail is zeroed: at batch 64 the buffers are 8 MB each, and zero-filling
/// them whole, then copying the prompt twice (contiguous, then into place) cost
/// about 3% of a generation run.
fn grow(t: &Tensor, capacity: usize) -> Result<Tensor> {
    let (b, h, len, hd) = t.dims4()?;
    if t.device().is_cpu() && t.dtype() == DType::F32 && !t.track_op() && len <= capacity {
        let (storage, layout) = t.storage_and_layout();
        if let CpuStorage::F32(src) = cpu_storage(&storage, "kv-cache")? {
            let st = layout.stride();
            let off = layout.start_offset();
            let last = off
                + (b.max(1) - 1) * st[0]
                + (h.max(1) - 1) * st[1]
                + len.saturating_sub(1) * st[2]
                + hd;
            if st[3] == 1 && (b * h * len == 0 || last <= src.len()) {
                let mut data = Vec::with_capacity(b * h * capacity * hd);
                for bi in 0..b {
                    for hi in 0..h {
                        for ti in 0..len {
                            let at = off + bi * st[0] + hi * st[1] + ti * st[2];
                            data.extend_from_slice(&src[at..at + hd]);
                        }
                        data.resize(data.len() + (capacity - len) * hd, 0.0);
                    }
                }
                return Tensor::from_vec(data, (b, h, capacity, hd), t.device());
            }
        }
    }
    let mut shape = t.dims().to_vec();
    shape[2] = capacity;
    let buf = Tensor::zeros(shape, t.dtype(), t.device())?;
    buf.slice_set(&t.contiguous()?, 2, 0)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A head view (strided, as a projection's keys are) lands in the buffer as its
    /// contiguous copy would, with zeros past it; the fallback path agrees.
    #[test]
    fn grow_copies_a_strided_view_and_zeroes_the_tail() {
        let (b, t, h, hd, cap) = (2, 3, 2, 4, 5);
        let x = Tensor::arange(0f32, (b * t * h * hd) as f32, &Device::Cpu)
            .and_then(|x| x.reshape((b, t, h, hd)))
            .and_then(|x| x.transpose(1, 2))
            .unwrap();
        assert!(!x.is_contiguous());
        let buf = grow(&x, cap).unwrap();
        assert_eq!(buf.dims(), &[b, h, cap, hd]);
        let head = buf.narrow(2, 0, t).unwrap();
        let diff = (head - x.contiguous().unwrap()).unwrap().abs().unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        let tail = buf.narrow(2, t, cap - t).unwrap().abs().unwrap();
        assert_eq!(tail.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        // The generic path (here: forced with an f64 input) gives the same values.
        let slow = grow(&x.to_dtype(DType::F64).unwrap(), cap).unwrap();
        let same = (slow.to_dtype(DType::F32).unwrap() - &buf)
            .unwrap()
            .abs()
            .unwrap();
        assert_eq!(same.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    }
}
