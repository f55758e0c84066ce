//! Mean next-token cross-entropy in one pass, with a hand-written backward.
//!
//! candle-nn's `cross_entropy` is a composite log-softmax (max, sub, exp, sum, log,
//! sub) and a gather over the (B*T, V) logits, each op a full pass and a tensor
//! forward and again in autograd. This op reads the logits once forward and writes
//! their gradient once backward: d logits = g / N * (softmax - one_hot(target)).
//! CPU, f32 logits and u32 targets; candle-nn's ops elsewhere.

use crate::kernels::cpu::{cpu_storage, f32_slice, with_cpu_f32};
use crate::kernels::rows;
use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

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
        logits.contiguous()?.apply_op2(
            &targets.contiguous()?,
            CrossEntropy {
                stats: Mutex::default(),
            },
        )
    } else {
        candle_nn::loss::cross_entropy(logits, targets)
    }
}

struct CrossEntropy {
    /// `(max, log sum exp)` of every row, from the forward pass, for the backward
    /// (the same values it would compute again).
    stats: Mutex<Vec<(f32, f32)>>,
}

/// log(sum(exp(row))) computed stably, as log-softmax does.
fn log_sum_exp(row: &[f32]) -> (f32, f32) {
    let max = rows::max(row);
    (max, rows::sum_exp(row, max).ln())
}

/// `d = g * softmax(row)` given the row's `max` and `lse`: the exponentials in the AVX2
/// copy of the loop where the CPU has it (same operations in the same order, no FMA,
/// as in [`rows::exp_in_place`]).
fn softmax_times(d: &mut [f32], row: &[f32], max: f32, lse: f32, g: f32) {
    #[inline(always)]
    fn lanes(d: &mut [f32], row: &[f32], max: f32, lse: f32, g: f32) {
        for (d, &x) in d.iter_mut().zip(row) {
            *d = g * rows::exp(x - max - lse);
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn avx2(d: &mut [f32], row: &[f32], max: f32, lse: f32, g: f32) {
            lanes(d, row, max, lse, g)
        }
        // SAFETY: the CPU has AVX2 (detected just above).
        return unsafe { avx2(d, row, max, lse, g) };
    }
    lanes(d, row, max, lse, g)
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
        let partial: Vec<(f32, Vec<(f32, f32)>)> = x
            .par_chunks(ROWS_PER_TASK * v)
            .zip(t.par_chunks(ROWS_PER_TASK))
            .map(|(rows, targets)| {
                let mut stats = Vec::with_capacity(targets.len());
                let sum = rows
                    .chunks(v)
                    .zip(targets)
                    .map(|(row, &t)| {
                        let (max, lse) = log_sum_exp(row);
                        stats.push((max, lse));
                        lse - (row[t as usize] - max)
                    })
                    .sum::<f32>();
                (sum, stats)
            })
            .collect();
        let loss = partial.iter().map(|(s, _)| s).sum::<f32>() / n as f32;
        if let Ok(mut stats) = self.stats.lock() {
            *stats = partial.into_iter().flat_map(|(_, s)| s).collect();
        }
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
            let stats = self
                .stats
                .lock()
                .map_err(|_| candle_core::Error::Msg("cross-entropy: lock poisoned".into()))?;
            // The forward's row statistics (a backward through an op that never ran
            // forward here, or ran on other logits, computes them again).
            let cached = (stats.len() == n).then_some(stats.as_slice());
            let mut dx = vec![0f32; x.len()];
            dx.par_chunks_mut(v)
                .zip(x.par_chunks(v).zip(t.par_iter()))
                .enumerate()
                .with_min_len(ROWS_PER_TASK)
                .for_each(|(i, (d, (row, &t)))| {
                    let (max, lse) = cached.map_or_else(|| log_sum_exp(row), |s| s[i]);
                    softmax_times(d, row, max, lse, g);
                    d[t as usize] -= g;
                });
            Ok(dx)
        })?;
        Ok((Some(Tensor::from_vec(dx, (n, v), logits.device())?), None))
    }
}
