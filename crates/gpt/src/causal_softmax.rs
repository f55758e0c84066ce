//! Scale, causal mask and softmax of attention scores in one pass, with a
//! hand-written backward.
//!
//! The composite version (`scores * scale`, `+ mask`, `candle_nn::ops::softmax`) runs
//! about ten element-wise passes over the (B, H, T, past + T) scores forward and as
//! many again in candle's autograd, each allocating a tensor of that size; this op
//! runs one pass forward and one backward. CPU and f32 only: [`causal_softmax`] falls
//! back to the composite ops elsewhere.

use candle_core::{
    bail, CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Storage, Tensor, D,
};
use rayon::prelude::*;

/// Rows per rayon task: small rows are not worth a task each.
const MIN_ROWS_PER_TASK: usize = 32;

/// `softmax(scores * scale + causal_mask)` over the last dimension of `scores`
/// `(..., T, past + T)`, where query row `i` (of `T`) sees keys `0 ..= past + i`.
/// Differentiable; fused on the CPU for f32, the composite ops elsewhere.
pub fn causal_softmax(scores: &Tensor, scale: f64) -> Result<Tensor> {
    let (t, s) = (scores.dim(D::Minus2)?, scores.dim(D::Minus1)?);
    if s < t {
        bail!("causal_softmax: {t} queries but only {s} keys");
    }
    if scores.device().is_cpu() && scores.dtype() == DType::F32 {
        scores
            .contiguous()?
            .apply_op1(CausalSoftmax { scale, t, s })
    } else {
        causal_softmax_composite(scores, scale)
    }
}

/// The same function from candle's differentiable ops: the reference for tests and
/// the path on devices without the fused kernel.
pub fn causal_softmax_composite(scores: &Tensor, scale: f64) -> Result<Tensor> {
    let (t, s) = (scores.dim(D::Minus2)?, scores.dim(D::Minus1)?);
    let scores = (scores * scale)?;
    let scores = match causal_mask(t, s - t, scores.device())? {
        Some(m) => scores.broadcast_add(&m.to_dtype(scores.dtype())?)?,
        None => scores,
    };
    candle_nn::ops::softmax(&scores, D::Minus1)
}

/// `(T, past + T)`: 0 where query `past + i` may see key `j` (j <= past + i), -inf after.
/// `None` for a single token, which may see everything cached.
pub fn causal_mask(t: usize, past: usize, device: &Device) -> Result<Option<Tensor>> {
    if t == 1 {
        return Ok(None);
    }
    let total = past + t;
    let m: Vec<f32> = (0..t)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(m, (t, total), device).map(Some)
}

/// Runs `f` on the data of a contiguous f32 CPU tensor.
pub(crate) fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => f(&v[a..b]),
        _ => bail!("expected a contiguous f32 CPU tensor"),
    }
}

struct CausalSoftmax {
    scale: f64,
    /// Queries (rows per head) and keys (row length).
    t: usize,
    s: usize,
}

impl CausalSoftmax {
    /// Number of keys query row `r` (counted over all heads) may see.
    fn visible(&self, r: usize) -> usize {
        self.s - self.t + r % self.t + 1
    }
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(v), Some((a, b))) => &v[a..b],
            _ => bail!("causal-softmax: expected contiguous f32 input"),
        };
        let (s, scale) = (self.s, self.scale as f32);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(s)
            .zip(x.par_chunks(s))
            .enumerate()
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(r, (o, x))| {
                let n = self.visible(r);
                let (o, x) = (&mut o[..n], &x[..n]);
                let mut max = f32::NEG_INFINITY;
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = x * scale;
                    max = max.max(*o);
                }
                let mut sum = 0f32;
                for o in o.iter_mut() {
                    *o = (*o - max).exp();
                    sum += *o;
                }
                for o in o.iter_mut() {
                    *o /= sum;
                }
                // Masked keys stay 0.
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// dS = scale * P ⊙ (dP − rowsum(dP ⊙ P)); masked entries have P = 0, so dS = 0.
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (s, scale) = (self.s, self.scale as f32);
        let p = res.contiguous()?;
        let dp = grad_res.contiguous()?;
        let ds = with_cpu_f32(&p, |p| {
            with_cpu_f32(&dp, |dp| {
                let mut ds = vec![0f32; p.len()];
                ds.par_chunks_mut(s)
                    .zip(p.par_chunks(s).zip(dp.par_chunks(s)))
                    .enumerate()
                    .with_min_len(MIN_ROWS_PER_TASK)
                    .for_each(|(r, (ds, (p, dp)))| {
                        let n = self.visible(r);
                        let (ds, p, dp) = (&mut ds[..n], &p[..n], &dp[..n]);
                        let dot: f32 = p.iter().zip(dp).map(|(p, dp)| p * dp).sum();
                        for ((ds, &p), &dp) in ds.iter_mut().zip(p).zip(dp) {
                            *ds = scale * p * (dp - dot);
                        }
                    });
                Ok(ds)
            })
        })?;
        Tensor::from_vec(ds, res.shape(), res.device()).map(Some)
    }
}
