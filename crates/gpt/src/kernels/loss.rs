//! Mean next-token cross-entropy in one pass, with a hand-written backward.
//!
//! candle-nn's `cross_entropy` is a composite log-softmax (max, sub, exp, sum, log,
//! sub) and a gather over the (B*T, V) logits, each op a full pass and a tensor
//! forward and again in autograd. This op reads the logits once forward and writes
//! their gradient once backward: d logits = g / N * (softmax - one_hot(target)).
//! CPU, f32 logits and u32 targets; candle-nn's ops elsewhere.
//!
//! [`soft_cross_entropy`] is the same op against a target distribution per class
//! ([`SoftTargets`], e.g. the tokenizer's HL-Gauss rows): loss = lse - sum q (x - max),
//! gradient g / N * (softmax - q).

use crate::kernels::cpu::{cpu_storage, f32_slice, with_cpu_f32};
use crate::kernels::rows;
use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Rows per rayon task and per partial sum of the loss (a fixed split, so the sum
/// does not depend on the number of threads).
const ROWS_PER_TASK: usize = 64;

/// Mean cross-entropy of `logits` `(N, V)` against `targets` `(N)` (class ids).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if fused(logits, targets) {
        logits.contiguous()?.apply_op2(
            &targets.contiguous()?,
            CrossEntropy {
                stats: Mutex::default(),
                soft: None,
            },
        )
    } else {
        candle_nn::loss::cross_entropy(logits, targets)
    }
}

/// Mean cross-entropy of `logits` `(N, V)` against the distributions `soft` gives
/// the classes `targets` `(N)`: `-1/N sum_i sum_k q[t_i][k] log softmax(x_i)[k]`.
pub fn soft_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    soft: &Arc<SoftTargets>,
) -> Result<Tensor> {
    let (n, v) = logits.dims2()?;
    if soft.classes() != v {
        bail!(
            "soft cross-entropy: {v} classes of logits, soft targets for {}",
            soft.classes()
        );
    }
    if fused(logits, targets) {
        return logits.contiguous()?.apply_op2(
            &targets.contiguous()?,
            CrossEntropy {
                stats: Mutex::default(),
                soft: Some(Arc::clone(soft)),
            },
        );
    }
    let t = targets.to_dtype(DType::U32)?.to_vec1::<u32>()?;
    check_targets(&t, n, v)?;
    let mut q = vec![0f32; n * v];
    for (row, &t) in q.chunks_mut(v).zip(&t) {
        for &(k, w) in soft.row(t) {
            row[k as usize] = w;
        }
    }
    let q = Tensor::from_vec(q, (n, v), logits.device())?.to_dtype(logits.dtype())?;
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    (q * logp)?.sum_all()?.affine(-1.0 / n as f64, 0.0)
}

fn fused(logits: &Tensor, targets: &Tensor) -> bool {
    logits.device().is_cpu()
        && logits.dtype() == DType::F32
        && targets.dtype() == DType::U32
        && logits.rank() == 2
}

/// Per class, the distribution a target of that class stands for: `(class, weight)`
/// pairs, weights non-negative and summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftTargets {
    rows: Vec<Vec<(u32, f32)>>,
}

impl SoftTargets {
    /// Checks that every row is a distribution over the `rows.len()` classes.
    pub fn new(rows: Vec<Vec<(u32, f32)>>) -> Result<SoftTargets> {
        let v = rows.len();
        for (c, row) in rows.iter().enumerate() {
            let sum: f32 = row.iter().map(|&(_, w)| w).sum();
            let valid = row
                .iter()
                .all(|&(k, w)| (k as usize) < v && w.is_finite() && w >= 0.0);
            if !valid || (sum - 1.0).abs() > 1e-4 {
                bail!("soft targets: class {c}'s row is not a distribution over the {v} classes (weights sum to {sum})");
            }
        }
        Ok(SoftTargets { rows })
    }

    pub fn classes(&self) -> usize {
        self.rows.len()
    }

    /// The distribution of class `t` (callers check `t < classes()`).
    fn row(&self, t: u32) -> &[(u32, f32)] {
        self.rows.get(t as usize).map_or(&[], Vec::as_slice)
    }
}

struct CrossEntropy {
    /// `(max, log sum exp)` of every row, from the forward pass, for the backward
    /// (the same values it would compute again).
    stats: Mutex<Vec<(f32, f32)>>,
    /// The targets' distributions; `None`: one-hot.
    soft: Option<Arc<SoftTargets>>,
}

impl CrossEntropy {
    /// `sum_k q[t][k] (row[k] - max)`: the target's (expected) shifted logit.
    fn target_logit(&self, row: &[f32], t: u32, max: f32) -> f32 {
        match &self.soft {
            None => row[t as usize] - max,
            Some(s) => s
                .row(t)
                .iter()
                .map(|&(k, q)| q * (row[k as usize] - max))
                .sum(),
        }
    }
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
        if self.soft.as_ref().is_some_and(|s| s.classes() != v) {
            bail!("soft cross-entropy: soft targets for another number of classes");
        }
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
                        lse - self.target_logit(row, t, max)
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
                    match &self.soft {
                        None => d[t as usize] -= g,
                        Some(s) => s.row(t).iter().for_each(|&(k, q)| d[k as usize] -= g * q),
                    }
                });
            Ok(dx)
        })?;
        Ok((Some(Tensor::from_vec(dx, (n, v), logits.device())?), None))
    }
}
