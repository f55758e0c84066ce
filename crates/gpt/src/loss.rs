//! Mean next-token cross-entropy in one pass, with a hand-written backward.
//!
//! candle-nn's `cross_entropy` is a composite log-softmax (max, sub, exp, sum, log,
//! sub) and a gather over the (B*T, V) logits, each op a full pass and a tensor
//! forward and again in autograd. This op reads the logits once forward and writes
//! their gradient once backward: d logits = g / N * (softmax - one_hot(target)).
//! CPU, f32 logits and u32 targets; candle-nn's ops elsewhere.

use crate::cpu::{cpu_storage, f32_slice, with_cpu_f32};
use crate::rows;
use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Rows per rayon task and per partial sum of the loss (a fixed split, so the sum
/// does not depend on the number of threads).
const ROWS_PER_TASK: usize = 64;

/// Mean cross-entropy of `logits` `(N, V)` against `targets` `(N)` (class ids).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let fused = logits.device().is_cpu()
        && logits.dtype() == DType::F32
        && targets.dtype() == DType::U32
        && logits.rank() == 2;
    if fused {
        logits
            .contiguous()?
            .apply_op2(&targets.contiguous()?, CrossEntropy)
    } else {
        candle_nn::loss::cross_entropy(logits, targets)
    }
}

struct CrossEntropy;

/// log(sum(exp(row))) computed stably, as log-softmax does.
fn log_sum_exp(row: &[f32]) -> (f32, f32) {
    let max = rows::max(row);
    (max, rows::sum_exp(row, max).ln())
}

/// The class ids of a contiguous u32 target tensor.
fn u32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [u32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::U32(t), Some((a, b))) => Ok(&t[a..b]),
        _ => bail!("cross-entropy: expected contiguous u32 targets"),
    }
}

fn check_targets(targets: &[u32], n: usize, v: usize) -> Result<()> {
    if targets.len() != n {
        bail!(
            "cross-entropy: {n} rows of logits, {} targets",
            targets.len()
        );
    }
    if let Some(&t) = targets.iter().find(|&&t| t as usize >= v) {
        bail!("cross-entropy: target {t} outside the {v} classes");
    }
    Ok(())
}

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, t) = (
            f32_slice(s1, l1, "cross-entropy logits")?,
            u32_slice(s2, l2)?,
        );
        let (n, v) = l1.shape().dims2()?;
        check_targets(t, n, v)?;
        if n == 0 {
            bail!("cross-entropy: no rows");
        }
        let partial: Vec<f32> = x
            .par_chunks(ROWS_PER_TASK * v)
            .zip(t.par_chunks(ROWS_PER_TASK))
            .map(|(rows, targets)| {
                rows.chunks(v)
                    .zip(targets)
                    .map(|(row, &t)| {
                        let (max, lse) = log_sum_exp(row);
                        lse - (row[t as usize] - max)
                    })
                    .sum::<f32>()
            })
            .collect();
        let loss = partial.iter().sum::<f32>() / n as f32;
        Ok((CpuStorage::F32(vec![loss]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, v) = logits.dims2()?;
        let g = grad_res.to_dtype(DType::F32)?.to_scalar::<f32>()? / n as f32;
        let (x, t) = (logits.contiguous()?, targets.contiguous()?);
        let dx = with_cpu_f32(&x, |x| {
            let (storage, layout) = t.storage_and_layout();
            let t = u32_slice(cpu_storage(&storage, "cross-entropy")?, layout)?;
            check_targets(t, n, v)?;
            let mut dx = vec![0f32; x.len()];
            dx.par_chunks_mut(v)
                .zip(x.par_chunks(v).zip(t.par_iter()))
                .with_min_len(ROWS_PER_TASK)
                .for_each(|(d, (row, &t))| {
                    let (max, lse) = log_sum_exp(row);
                    for (d, &x) in d.iter_mut().zip(row) {
                        *d = g * rows::exp(x - max - lse);
                    }
                    d[t as usize] -= g;
                });
            Ok(dx)
        })?;
        Ok((Some(Tensor::from_vec(dx, (n, v), logits.device())?), None))
    }
}
