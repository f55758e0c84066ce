//! Linear layers whose bias add has a fast backward.
//!
//! candle's `broadcast_add` of a bias differentiates into a strided `sum_keepdim` over
//! the leading dimensions, which walked a (B*T, out) gradient column by column and
//! took ~20% of a training step. [`add_rows`] adds a tensor to every row and sums the
//! gradient row by row instead (CPU, f32; candle's ops elsewhere).

use crate::causal_softmax::with_cpu_f32;
use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

/// Rows per partial sum of the gradient: a fixed split, so the sum does not depend on
/// the number of threads.
const ROWS_PER_TASK: usize = 64;

/// `x @ weight.T + bias`, weight `[out, in]` as in candle-nn and PyTorch.
#[derive(Debug, Clone)]
pub struct Linear {
    inner: candle_nn::Linear,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }

    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

/// A linear layer with bias, variables `weight` and `bias` under `vb`.
pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    linear_b(in_dim, out_dim, true, vb)
}

/// A linear layer with or without bias, variables named as candle-nn's `linear_b`.
pub fn linear_b(in_dim: usize, out_dim: usize, bias: bool, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get((out_dim, in_dim), "weight")?;
    let bias = match bias {
        true => Some(vb.get(out_dim, "bias")?),
        false => None,
    };
    Ok(Linear {
        inner: candle_nn::Linear::new(weight, None),
        bias,
    })
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.inner.forward(x)?;
        match &self.bias {
            Some(b) => add_rows(&y, b),
            None => Ok(y),
        }
    }
}

/// `x + r` where `r`'s shape is the trailing dimensions of `x` (a bias, or positional
/// embeddings added to every sequence of a batch). Differentiable in both.
pub fn add_rows(x: &Tensor, r: &Tensor) -> Result<Tensor> {
    let fused = x.device().is_cpu()
        && x.dtype() == DType::F32
        && r.dtype() == DType::F32
        && x.dims().ends_with(r.dims());
    if fused {
        x.contiguous()?.apply_op2(&r.contiguous()?, AddRows)
    } else {
        x.broadcast_add(r)
    }
}

struct AddRows;

impl CustomOp2 for AddRows {
    fn name(&self) -> &'static str {
        "add-rows"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, r) = match (s1, l1.contiguous_offsets(), s2, l2.contiguous_offsets()) {
            (CpuStorage::F32(x), Some((a, b)), CpuStorage::F32(r), Some((c, d))) => {
                (&x[a..b], &r[c..d])
            }
            _ => bail!("add-rows: expected contiguous f32 inputs"),
        };
        let m = r.len();
        if m == 0 || x.len() % m != 0 {
            bail!("add-rows: {:?} + {:?}", l1.dims(), l2.dims());
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(m)
            .zip(x.par_chunks(m))
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(o, x)| {
                for ((o, &x), &r) in o.iter_mut().zip(x).zip(r) {
                    *o = x + r;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    /// dx = dy; dr = dy summed over the leading rows.
    fn bwd(
        &self,
        _x: &Tensor,
        r: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let m = r.elem_count();
        let dy = dy.contiguous()?;
        let dr = with_cpu_f32(&dy, |dy| {
            let partial: Vec<Vec<f32>> = dy
                .par_chunks(ROWS_PER_TASK * m)
                .map(|rows| {
                    let mut acc = vec![0f32; m];
                    for row in rows.chunks(m) {
                        for (a, &g) in acc.iter_mut().zip(row) {
                            *a += g;
                        }
                    }
                    acc
                })
                .collect();
            let mut dr = vec![0f32; m];
            for p in &partial {
                for (a, &g) in dr.iter_mut().zip(p) {
                    *a += g;
                }
            }
            Ok(dr)
        })?;
        Ok((
            Some(dy.clone()),
            Some(Tensor::from_vec(dr, r.shape(), r.device())?),
        ))
    }
}
