//! LayerNorm with a backward pass.
//!
//! candle-nn's `LayerNorm` calls a fused kernel without a backward pass on
//! contiguous input, which silently stops gradients (see NOTES.md). This one is a
//! fused CPU kernel with a hand-written backward (f32), and candle's differentiable
//! tensor ops on other devices and dtypes ([`layer_norm_composite`], also the
//! reference in tests).

use crate::kernels::cpu::{f32_slice, with_cpu_f32};
use crate::kernels::rows;
use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Module, Result, Shape, Tensor, D};
use candle_nn::VarBuilder;
use rayon::prelude::*;

/// Rows per rayon task, and per partial sum of the gain and bias gradients (a fixed
/// split, so the sums do not depend on the number of threads).
const ROWS_PER_TASK: usize = 64;

#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: vb.get(dim, "weight")?,
            bias: vb.get(dim, "bias")?,
            eps,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let fused = x.device().is_cpu()
            && [x.dtype(), self.weight.dtype(), self.bias.dtype()] == [DType::F32; 3];
        if fused {
            let d = x.dim(D::Minus1)?;
            x.contiguous()?.apply_op3(
                &self.weight.contiguous()?,
                &self.bias.contiguous()?,
                FusedLayerNorm { d, eps: self.eps },
            )
        } else {
            layer_norm_composite(x, &self.weight, &self.bias, self.eps)
        }
    }
}

/// LayerNorm over the last dimension from differentiable tensor ops (biased
/// variance, as in torch).
pub fn layer_norm_composite(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centred.broadcast_div(&(var + eps)?.sqrt()?)?;
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

struct FusedLayerNorm {
    d: usize,
    eps: f64,
}

impl FusedLayerNorm {
    /// Mean and 1 / sqrt(var + eps) of one row, as the composite ops compute them.
    fn stats(&self, x: &[f32]) -> (f32, f32) {
        let n = self.d as f32;
        let mean = rows::sum(x) / n;
        let var = rows::sum_by(x, |v| (v - mean) * (v - mean)) / n;
        (mean, 1.0 / (var + self.eps as f32).sqrt())
    }
}

impl CustomOp3 for FusedLayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, g, b) = (
            f32_slice(s1, l1, "layer-norm input")?,
            f32_slice(s2, l2, "layer-norm gain")?,
            f32_slice(s3, l3, "layer-norm bias")?,
        );
        let d = self.d;
        if g.len() != d || b.len() != d || x.len() % d != 0 {
            bail!(
                "layer-norm: input {:?}, gain {}, bias {}",
                l1.dims(),
                g.len(),
                b.len()
            );
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(y, x)| {
                let (mean, rstd) = self.stats(x);
                for (((y, &x), &g), &b) in y.iter_mut().zip(x).zip(g).zip(b) {
                    *y = (x - mean) * rstd * g + b;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    /// With xhat = (x - mean) * rstd and dxhat = dy * g:
    /// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),
    /// dg = sum over rows of dy * xhat, db = sum over rows of dy.
    fn bwd(
        &self,
        x: &Tensor,
        g: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.d;
        let (x, g, dy) = (x.contiguous()?, g.contiguous()?, dy.contiguous()?);
        let (dx, dg, db) = with_cpu_f32(&x, |xs| {
            with_cpu_f32(&g, |gs| {
                with_cpu_f32(&dy, |dys| {
                    let mut dx = vec![0f32; xs.len()];
                    let chunk = ROWS_PER_TASK * d;
                    // Per chunk of rows: partial (dg, db), summed in order below.
                    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
                        .par_chunks_mut(chunk)
                        .zip(xs.par_chunks(chunk).zip(dys.par_chunks(chunk)))
                        .map(|(dx, (x, dy))| {
                            let (mut dg, mut db) = (vec![0f32; d], vec![0f32; d]);
                            let mut xhat = vec![0f32; d];
                            for ((dx, x), dy) in dx.chunks_mut(d).zip(x.chunks(d)).zip(dy.chunks(d))
                            {
                                let (mean, rstd) = self.stats(x);
                                let (mut m1, mut m2) = (0f32, 0f32);
                                for i in 0..d {
                                    xhat[i] = (x[i] - mean) * rstd;
                                    let dxh = dy[i] * gs[i];
                                    m1 += dxh;
                                    m2 += dxh * xhat[i];
                                    dg[i] += dy[i] * xhat[i];
                                    db[i] += dy[i];
                                }
                                let (m1, m2) = (m1 / d as f32, m2 / d as f32);
                                for i in 0..d {
                                    dx[i] = rstd * (dy[i] * gs[i] - m1 - xhat[i] * m2);
                                }
                            }
                            (dg, db)
                        })
                        .collect();
                    let (mut dg, mut db) = (vec![0f32; d], vec![0f32; d]);
                    for (pg, pb) in &partial {
                        for i in 0..d {
                            dg[i] += pg[i];
                            db[i] += pb[i];
                        }
                    }
                    Ok((dx, dg, db))
                })
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dg, g.shape(), dev)?),
            Some(Tensor::from_vec(db, g.shape(), dev)?),
        ))
    }
}
