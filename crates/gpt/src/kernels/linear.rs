//! Linear layers as one op each, and a bias add with a fast backward.
//!
//! A candle-nn `Linear` is several graph nodes (reshape or broadcast of the weight, its
//! transpose, a batched matmul, a broadcast bias add), and candle's autograd gives each
//! node a gradient of the full activation size, zero-filled and then accumulated:
//! that bookkeeping, not the products, was a fifth of a training step. [`Linear`] is a
//! single node on the CPU in f32: forward `y = x Wᵀ + b` is one gemm into rows that
//! start as the bias (and the ReLU of the feed-forward layer is applied in the same
//! pass), backward is `dx = dy W`, `dW = dyᵀ x` (one gemm over all B*T rows) and
//! `db` = row sums. When nothing needs a gradient (a loaded model forecasting or
//! decoding), the weight is packed once for the inference kernel of [`crate::kernels::packed`]
//! instead. [`add_rows`] adds a tensor to every row (positional embeddings).

use crate::kernels::cpu::{f32_slice, with_cpu_f32};
use crate::kernels::gemm::{matmul, Mat, MatMut, Parallelism};
use crate::kernels::packed::PackedWeight;
use candle_core::{
    bail, CpuStorage, CustomOp2, CustomOp3, DType, Layout, Module, Result, Shape, Tensor,
};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// Rows per partial sum of the gradient: a fixed split, so the sum does not depend on
/// the number of threads.
const ROWS_PER_TASK: usize = 64;

/// `x @ weight.T + bias`, weight `[out, in]` as in candle-nn and PyTorch.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
    /// The weight laid out for the inference kernel, made on the first call that
    /// needs no gradient (`None` inside when the CPU lacks AVX2/FMA).
    packed: Arc<OnceLock<Option<PackedWeight>>>,
}

impl Linear {
    /// From a `[out, in]` weight and an optional `[out]` bias.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Linear {
        Linear {
            weight,
            bias,
            packed: Arc::default(),
        }
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// `relu(x @ weight.T + bias)`, the activation in the same pass.
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, true)
    }

    fn apply(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let (out, inp) = self.weight.dims2()?;
        let fused = x.device().is_cpu()
            && [Some(x), Some(&self.weight), self.bias.as_ref()]
                .iter()
                .flatten()
                .all(|t| t.dtype() == DType::F32);
        if !fused {
            let y = x.broadcast_matmul(&self.weight.t()?)?;
            let y = match &self.bias {
                Some(b) => y.broadcast_add(b)?,
                None => y,
            };
            return if relu { y.relu() } else { Ok(y) };
        }
        if x.dims().last() != Some(&inp) {
            bail!("linear: input {:?} for a ({out}, {inp}) weight", x.dims());
        }
        // Nothing to differentiate (a loaded model decoding): the packed kernel.
        let tracked = [Some(x), Some(&self.weight), self.bias.as_ref()]
            .iter()
            .flatten()
            .any(|t| t.track_op());
        if !tracked {
            if let Some(p) = self.packed(out, inp)? {
                let x = x.contiguous()?;
                let rows = x.elem_count() / inp.max(1);
                let y = with_cpu_f32(&x, |xs| p.forward(xs, rows, relu))?;
                let mut shape = x.dims().to_vec();
                if let Some(last) = shape.last_mut() {
                    *last = out;
                }
                return Tensor::from_vec(y, shape, x.device());
            }
        }
        let bias = match &self.bias {
            Some(b) => b.clone(),
            // Not a variable, so autograd never asks for its gradient.
            None => Tensor::zeros(out, DType::F32, x.device())?,
        };
        x.contiguous()?.apply_op3(
            &self.weight.contiguous()?,
            &bias.contiguous()?,
            LinearOp { relu },
        )
    }

    /// The packed weight, made on first use; `None` without AVX2/FMA.
    fn packed(&self, out: usize, inp: usize) -> Result<Option<&PackedWeight>> {
        if self.packed.get().is_none() {
            let w = self.weight.contiguous()?;
            let p = with_cpu_f32(&w, |ws| match &self.bias {
                Some(b) => with_cpu_f32(&b.contiguous()?, |bs| {
                    PackedWeight::new(ws, Some(bs), out, inp)
                }),
                None => PackedWeight::new(ws, None, out, inp),
            })?;
            // A racing thread may have set it first: the same values either way.
            let _ = self.packed.set(p);
        }
        Ok(self.packed.get().and_then(Option::as_ref))
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
    Ok(Linear::new(weight, bias))
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, false)
    }
}

/// The gemm split candle's own matmul would use.
fn parallelism() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// Runs `f` compiled for AVX2 where the CPU has it, else as built: for element-wise
/// loops, which then do the same operations in the same order on 8 lanes instead of
/// SSE2's 4 (no FMA), so the results do not depend on the machine.
#[inline(always)]
fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        #[inline]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has AVX2 (detected just above).
        return unsafe { avx2(f) };
    }
    f()
}

/// Column sums of a row-major `(rows, m)` matrix, in fixed chunks of rows.
fn column_sums(dy: &[f32], m: usize) -> Vec<f32> {
    let partial: Vec<Vec<f32>> = dy
        .par_chunks(ROWS_PER_TASK * m)
        .map(|rows| {
            let mut acc = vec![0f32; m];
            wide(
                #[inline(always)]
                || {
                    for row in rows.chunks(m) {
                        for (a, &g) in acc.iter_mut().zip(row) {
                            *a += g;
                        }
                    }
                },
            );
            acc
        })
        .collect();
    let mut sums = vec![0f32; m];
    for p in &partial {
        for (a, &g) in sums.iter_mut().zip(p) {
            *a += g;
        }
    }
    sums
}

/// `dy` where the ReLU's output `y` is positive, 0 where it clipped.
fn relu_mask(dy: &[f32], y: &[f32], out: usize) -> Result<Vec<f32>> {
    if y.len() != dy.len() {
        bail!("linear: {} outputs but {} gradients", y.len(), dy.len());
    }
    let mut dz = vec![0f32; dy.len()];
    let chunk = ROWS_PER_TASK * out.max(1);
    dz.par_chunks_mut(chunk)
        .zip(dy.par_chunks(chunk).zip(y.par_chunks(chunk)))
        .for_each(|(dz, (dy, y))| {
            wide(
                #[inline(always)]
                || {
                    for ((dz, &dy), &y) in dz.iter_mut().zip(dy).zip(y) {
                        *dz = if y > 0.0 { dy } else { 0.0 };
                    }
                },
            )
        });
    Ok(dz)
}

/// `(x, weight, bias) -> [relu](x Wᵀ + b)` over the last dimension of `x`.
struct LinearOp {
    relu: bool,
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
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
        let (x, w, b) = (
            f32_slice(s1, l1, "linear input")?,
            f32_slice(s2, l2, "linear weight")?,
            f32_slice(s3, l3, "linear bias")?,
        );
        let (out, inp) = l2.shape().dims2()?;
        let lead = match l1.dims() {
            [lead @ .., last] if *last == inp && b.len() == out => lead,
            _ => bail!(
                "linear: {:?} @ {:?}ᵀ + {:?}",
                l1.dims(),
                l2.dims(),
                l3.dims()
            ),
        };
        let rows: usize = lead.iter().product();
        let mut y: Vec<f32> = Vec::with_capacity(rows * out);
        for _ in 0..rows {
            y.extend_from_slice(b);
        }
        matmul(
            MatMut::dense(&mut y, rows, out),
            Mat::dense(x, rows, inp),
            Mat::dense(w, out, inp).t(),
            true,
            parallelism(),
        )?;
        if self.relu {
            y.par_chunks_mut(ROWS_PER_TASK * out.max(1))
                .for_each(|c| c.iter_mut().for_each(|v| *v = v.max(0.0)));
        }
        let mut shape = lead.to_vec();
        shape.push(out);
        Ok((CpuStorage::F32(y), Shape::from(shape)))
    }

    /// dz = dy (⊙ [y > 0] after a ReLU); dx = dz W, dW = dzᵀ x, db = column sums of dz.
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (out, inp) = w.dims2()?;
        let rows = x.elem_count() / inp.max(1);
        let dy = dy.contiguous()?;
        let (x, w) = (x.contiguous()?, w.contiguous()?);
        let (dx, dw, db) = with_cpu_f32(&dy, |dy| {
            // After a ReLU, the gradient is masked where the output was clipped.
            let masked = match self.relu {
                true => Some(with_cpu_f32(y, |y| relu_mask(dy, y, out))?),
                false => None,
            };
            let dz = masked.as_deref().unwrap_or(dy);
            if dz.len() != rows * out {
                bail!(
                    "linear: a ({rows}, {out}) output with {} gradients",
                    dz.len()
                );
            }
            let (dx, dw) = with_cpu_f32(&x, |xs| {
                with_cpu_f32(&w, |ws| {
                    let mut dx = vec![0f32; rows * inp];
                    let mut dw = vec![0f32; out * inp];
                    let dzm = Mat::dense(dz, rows, out);
                    matmul(
                        MatMut::dense(&mut dx, rows, inp),
                        dzm,
                        Mat::dense(ws, out, inp),
                        false,
                        parallelism(),
                    )?;
                    matmul(
                        MatMut::dense(&mut dw, out, inp),
                        dzm.t(),
                        Mat::dense(xs, rows, inp),
                        false,
                        parallelism(),
                    )?;
                    Ok((dx, dw))
                })
            })?;
            Ok((dx, dw, column_sums(dz, out)))
        })?;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), x.device())?),
            Some(Tensor::from_vec(dw, (out, inp), w.device())?),
            Some(Tensor::from_vec(db, b.shape(), b.device())?),
        ))
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
        let (x, r) = (
            f32_slice(s1, l1, "add-rows input")?,
            f32_slice(s2, l2, "add-rows row")?,
        );
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
        let dr = with_cpu_f32(&dy, |dy| Ok(column_sums(dy, m)))?;
        Ok((
            Some(dy.clone()),
            Some(Tensor::from_vec(dr, r.shape(), r.device())?),
        ))
    }
}
