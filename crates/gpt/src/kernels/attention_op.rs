//! Causal attention `softmax(Q Kᵀ * scale + mask) V` as one op with its own backward.
//!
//! Composed from candle ops, attention materialises the (B, H, T, past + T) scores
//! and weights of every layer, and candle's autograd allocates, zero-fills and
//! accumulates a gradient of that size for each: at batch 32 x 256 those are 33 MB
//! tensors, written and read about twenty times per layer and training step. This op
//! works one batch row at a time in a `T x (past + T)` scratch that stays in cache,
//! multiplies only the blocks of rows and keys the causal mask lets through, and
//! recomputes the weights in the backward pass (as FlashAttention does) instead of
//! keeping them. Inputs are read through their strides, so the heads of a projection
//! `(B, T, H, hd).transpose(1, 2)` and a cache buffer's `narrow` are not copied.
//! CPU and f32; elsewhere the composite ops, which are also the tests' reference.

use crate::kernels::causal_softmax::causal_softmax_composite;
use crate::kernels::cpu::{cpu_storage, with_cpu_f32};
use crate::kernels::gemm::{in_bounds, matmul, Mat, MatMut, Parallelism};
use crate::kernels::rows;
use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Query rows per block: a block multiplies only the keys its last row may see.
const ROWS_PER_BLOCK: usize = 64;

/// Up to this many query rows (decode steps), the products are written out as dot
/// products and weighted sums of rows (`rows::dots`, `rows::weighted_rows`): for a
/// `1 x S` product the gemm crate's set-up and its 2-wide kernel were a third of
/// batched decoding; batch-64 decoding got 1.2x faster.
const DIRECT_ROWS: usize = 4;

/// `softmax(q kᵀ * scale + causal_mask) v` for `q` `(B, H, T, hd)` and `k`, `v`
/// `(B, H, past + T, hd)`: query `i` sees keys `0 ..= past + i`. Returns
/// `(B, H, T, hd)`. Differentiable in `q`, `k` and `v`.
pub fn causal_attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Result<Tensor> {
    let (b, h, t, hd) = q.dims4()?;
    let (kb, kh, s, khd) = k.dims4()?;
    if (kb, kh, khd) != (b, h, hd) || v.dims() != k.dims() || s < t {
        bail!(
            "causal_attention: q {:?}, k {:?}, v {:?}",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    let fused = [q, k, v]
        .iter()
        .all(|x| x.device().is_cpu() && x.dtype() == DType::F32);
    if fused {
        // The op writes (B, T, H, hd): heads already interleaved as the output
        // projection wants them; the transpose is a view.
        q.apply_op3(
            k,
            v,
            CausalAttention {
                scale: scale as f32,
            },
        )?
        .transpose(1, 2)
    } else {
        causal_attention_composite(q, k, v, scale)
    }
}

/// The same function from candle's differentiable ops.
pub fn causal_attention_composite(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
) -> Result<Tensor> {
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    causal_softmax_composite(&q.matmul(&k.t()?)?, scale)?.matmul(&v)
}

struct CausalAttention {
    scale: f32,
}

/// The (B, H, rows, hd) input `x` as the matrix of one (batch row, head).
#[derive(Clone, Copy)]
struct Heads<'a> {
    data: &'a [f32],
    off: usize,
    strides: [usize; 4],
    rows: usize,
    hd: usize,
}

impl<'a> Heads<'a> {
    fn new(storage: &'a CpuStorage, layout: &Layout) -> Result<Heads<'a>> {
        let CpuStorage::F32(data) = storage else {
            bail!("causal-attention: expected f32")
        };
        let (dims, st) = (layout.dims(), layout.stride());
        if dims.len() != 4 || st.len() != 4 {
            bail!("causal-attention: expected (B, H, T, hd), got {dims:?}");
        }
        Ok(Heads {
            data,
            off: layout.start_offset(),
            strides: [st[0], st[1], st[2], st[3]],
            rows: dims[2],
            hd: dims[3],
        })
    }

    /// The rows of one (batch row, head), for the decode kernels.
    fn rows(&self, b: usize, h: usize) -> rows::Rows<'a> {
        self.of(b, h).into()
    }

    fn of(&self, b: usize, h: usize) -> Mat<'a> {
        Mat {
            data: self.data,
            off: self.off + b * self.strides[0] + h * self.strides[1],
            rows: self.rows,
            cols: self.hd,
            rs: self.strides[2],
            cs: self.strides[3],
        }
    }
}

/// The `(T, H, hd)` block of one batch row of a `(B, T, H, hd)` output, as the
/// writable matrix of head `h`.
fn head_of(chunk: &mut [f32], h: usize, rows: usize, n_head: usize, hd: usize) -> MatMut<'_> {
    MatMut {
        data: chunk,
        off: h * hd,
        rows,
        cols: hd,
        rs: n_head * hd,
        cs: 1,
    }
}

/// The shape of one attention problem and its blocks of query rows.
#[derive(Clone, Copy)]
struct Dims {
    n_head: usize,
    t: usize,
    s: usize,
    hd: usize,
}

impl Dims {
    /// `(first row, rows, keys visible to the block's last row)` for each block.
    fn blocks(self) -> impl Iterator<Item = (usize, usize, usize)> {
        let past = self.s - self.t;
        (0..self.t).step_by(ROWS_PER_BLOCK).map(move |r0| {
            let n = ROWS_PER_BLOCK.min(self.t - r0);
            (r0, n, past + r0 + n)
        })
    }

    /// Keys visible to query row `i`.
    fn visible(self, i: usize) -> usize {
        self.s - self.t + i + 1
    }

    fn scratch(self) -> Scratch {
        Scratch {
            data: vec![0f32; self.t * self.s],
            rows: self.t,
            cols: self.s,
        }
    }
}

/// A row-major `T x S` scratch matrix.
struct Scratch {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Scratch {
    fn view(&mut self) -> MatMut<'_> {
        MatMut::dense(&mut self.data, self.rows, self.cols)
    }
}

/// `p` = causal softmax of `q kᵀ * scale` for one (batch row, head); entries past a
/// row's visible keys but inside its block are set to 0 (the block products read them).
fn weights(p: &mut Scratch, q: Mat<'_>, k: Mat<'_>, dims: Dims, scale: f32) -> Result<()> {
    for (r0, n, vis) in dims.blocks() {
        if n > DIRECT_ROWS || !scores_direct(p, q, k, dims, r0..r0 + n, vis) {
            let mut pv = p.view();
            matmul(
                pv.sub(r0, n, 0, vis),
                q.sub(r0, n, 0, dims.hd),
                k.sub(0, vis, 0, dims.hd).t(),
                false,
                Parallelism::None,
            )?;
        }
        for i in r0..r0 + n {
            let row = &mut p.data[i * dims.s..i * dims.s + vis];
            let (seen, masked) = row.split_at_mut(dims.visible(i));
            softmax_in_place(seen, scale);
            masked.fill(0.0);
        }
    }
    Ok(())
}

/// Scores of query rows `rows` against keys `..vis` as dot products; `false` when rows
/// of `q` or `k` are not contiguous or `hd` is not a multiple of 8 (the caller then
/// multiplies the block with gemm, overwriting anything written here).
fn scores_direct(
    p: &mut Scratch,
    q: Mat<'_>,
    k: Mat<'_>,
    dims: Dims,
    rows: std::ops::Range<usize>,
    vis: usize,
) -> bool {
    let contiguous = q.cs == 1 && k.cs == 1 && dims.hd % 8 == 0;
    let fits = |m: &Mat<'_>, n: usize| n == 0 || m.row(n - 1).is_some();
    if !(contiguous && fits(&q, rows.end) && fits(&k, vis)) {
        return false;
    }
    for i in rows {
        let (qi, out) = (q.off + i * q.rs, &mut p.data[i * dims.s..i * dims.s + vis]);
        if rows::dots(out, &q.data[qi..qi + dims.hd], k.into()).is_err() {
            return false;
        }
    }
    true
}

/// `y[rows] = p[rows, ..vis] v[..vis]` as weighted sums of value rows; `false` when
/// rows of `v` or `y` are not contiguous or `hd` is not a multiple of 8 (the caller
/// then uses gemm, overwriting anything written here).
fn values_direct(
    y: &mut MatMut<'_>,
    p: &Scratch,
    v: Mat<'_>,
    dims: Dims,
    rows: std::ops::Range<usize>,
    vis: usize,
) -> bool {
    let fits = vis == 0 || v.row(vis - 1).is_some();
    let y_fits = in_bounds(y.data.len(), y.off, rows.end, dims.hd, y.rs, 1);
    if !(v.cs == 1 && y.cs == 1 && fits && y_fits) {
        return false;
    }
    for i in rows {
        let start = y.off + i * y.rs;
        let yi = &mut y.data[start..start + dims.hd];
        let w = &p.data[i * dims.s..i * dims.s + vis];
        if rows::weighted_rows(yi, w, v.into()).is_err() {
            return false;
        }
    }
    true
}

/// A decode step's attention for one batch row (one query per head), the heads in a
/// pipeline: head `h`'s weighted values and head `h + 1`'s scores are computed in one
/// pass ([`rows::weighted_rows_and_dots`]), so the values of one head and the keys of
/// the next are read together and the softmax between no longer stalls the reads.
/// The same sums as [`weights`] and [`values_direct`]. `false` (nothing usable
/// written; the caller takes the general path, which overwrites `yb`) when there is
/// more than one query row, rows are not contiguous or `hd` is not a multiple of 8.
fn decode_heads(yb: &mut [f32], qkv: [Heads<'_>; 3], bi: usize, dims: Dims, scale: f32) -> bool {
    let [q, k, v] = qkv;
    let Dims { n_head, t, s, hd } = dims;
    let contiguous = qkv.iter().all(|x| x.strides[3] == 1);
    if t != 1 || n_head == 0 || hd % 8 != 0 || !contiguous || yb.len() != n_head * hd {
        return false;
    }
    let query = |h: usize| {
        let m = q.of(bi, h);
        m.data.get(m.off..m.off + hd)
    };
    let mut scores = [vec![0f32; s], vec![0f32; s]];
    match query(0) {
        Some(q0) if rows::dots(&mut scores[0], q0, k.rows(bi, 0)).is_ok() => {}
        _ => return false,
    }
    softmax_in_place(&mut scores[0], scale);
    for (h, y) in yb.chunks_exact_mut(hd).enumerate() {
        let [even, odd] = &mut scores;
        let (cur, next) = if h % 2 == 0 { (even, odd) } else { (odd, even) };
        let vals = v.rows(bi, h);
        if h + 1 == n_head {
            return rows::weighted_rows(y, cur, vals).is_ok();
        }
        let Some(qn) = query(h + 1) else {
            return false;
        };
        if rows::weighted_rows_and_dots(y, cur, vals, next, qn, k.rows(bi, h + 1)).is_err() {
            return false;
        }
        softmax_in_place(next, scale);
    }
    true
}

fn softmax_in_place(row: &mut [f32], scale: f32) {
    row.iter_mut().for_each(|x| *x *= scale);
    let sum = rows::exp_in_place(row, rows::max(row));
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
}

impl CausalAttention {
    fn dims(l1: &Layout, l2: &Layout, l3: &Layout) -> Result<(usize, Dims)> {
        let (b, n_head, t, hd) = l1.shape().dims4()?;
        let (kb, kh, s, khd) = l2.shape().dims4()?;
        if (kb, kh, khd) != (b, n_head, hd) || s < t || l3.dims() != l2.dims() {
            bail!(
                "causal-attention: q {:?}, k {:?}, v {:?}",
                l1.dims(),
                l2.dims(),
                l3.dims()
            );
        }
        Ok((b, Dims { n_head, t, s, hd }))
    }
}

impl CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
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
        let (q, k, v) = (
            Heads::new(s1, l1)?,
            Heads::new(s2, l2)?,
            Heads::new(s3, l3)?,
        );
        let (b, dims) = Self::dims(l1, l2, l3)?;
        let Dims { n_head, t, hd, .. } = dims;
        let mut y = vec![0f32; b * t * n_head * hd];
        if !y.is_empty() {
            y.par_chunks_mut(t * n_head * hd).enumerate().try_for_each(
                |(bi, yb)| -> Result<()> {
                    if decode_heads(yb, [q, k, v], bi, dims, self.scale) {
                        return Ok(());
                    }
                    let mut p = dims.scratch();
                    for h in 0..n_head {
                        weights(&mut p, q.of(bi, h), k.of(bi, h), dims, self.scale)?;
                        let mut y = head_of(yb, h, t, n_head, hd);
                        for (r0, n, vis) in dims.blocks() {
                            let direct = n <= DIRECT_ROWS
                                && values_direct(&mut y, &p, v.of(bi, h), dims, r0..r0 + n, vis);
                            if direct {
                                continue;
                            }
                            let pv = p.view();
                            matmul(
                                y.sub(r0, n, 0, hd),
                                pv.as_mat().sub(r0, n, 0, vis),
                                v.of(bi, h).sub(0, vis, 0, hd),
                                false,
                                Parallelism::None,
                            )?;
                        }
                    }
                    Ok(())
                },
            )?;
        }
        Ok((CpuStorage::F32(y), Shape::from((b, t, n_head, hd))))
    }

    /// With P recomputed: dP = dY Vᵀ, dS = scale * P ⊙ (dP − rowsum(dP ⊙ P)),
    /// dQ = dS K, dK = dSᵀ Q, dV = Pᵀ dY, block by block.
    // long: one fused kernel; the five products share the recomputed P of a block
    // in registers and scratch rows, and splitting them would cost a pass each.
    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let (sq, lq) = q.storage_and_layout();
        let (sk, lk) = k.storage_and_layout();
        let (sv, lv) = v.storage_and_layout();
        let (b, dims) = Self::dims(lq, lk, lv)?;
        let Dims { n_head, t, s, hd } = dims;
        let (qh, kh, vh) = (
            Heads::new(cpu_storage(&sq, "causal-attention")?, lq)?,
            Heads::new(cpu_storage(&sk, "causal-attention")?, lk)?,
            Heads::new(cpu_storage(&sv, "causal-attention")?, lv)?,
        );
        let (mut dq, mut dk, mut dv) = (
            vec![0f32; b * t * n_head * hd],
            vec![0f32; b * s * n_head * hd],
            vec![0f32; b * s * n_head * hd],
        );
        let scale = self.scale;
        with_cpu_f32(&dy, |dy| {
            if dq.is_empty() {
                return Ok(());
            }
            dq.par_chunks_mut(t * n_head * hd)
                .zip(dk.par_chunks_mut(s * n_head * hd))
                .zip(dv.par_chunks_mut(s * n_head * hd))
                .enumerate()
                .try_for_each(|(bi, ((dqb, dkb), dvb))| -> Result<()> {
                    let (mut p, mut ds) = (dims.scratch(), dims.scratch());
                    let dyb = &dy[bi * t * n_head * hd..(bi + 1) * t * n_head * hd];
                    for h in 0..n_head {
                        let (qm, km, vm) = (qh.of(bi, h), kh.of(bi, h), vh.of(bi, h));
                        let dym = Mat {
                            data: dyb,
                            off: h * hd,
                            rows: t,
                            cols: hd,
                            rs: n_head * hd,
                            cs: 1,
                        };
                        weights(&mut p, qm, km, dims, scale)?;
                        for (r0, n, vis) in dims.blocks() {
                            let mut dsv = ds.view();
                            matmul(
                                dsv.sub(r0, n, 0, vis),
                                dym.sub(r0, n, 0, hd),
                                vm.sub(0, vis, 0, hd).t(),
                                false,
                                Parallelism::None,
                            )?;
                            for i in r0..r0 + n {
                                let row = i * s..i * s + dims.visible(i);
                                let (pr, dr) = (&p.data[row.clone()], &mut ds.data[row]);
                                let dot = rows::dot(pr, dr);
                                for (d, &p) in dr.iter_mut().zip(pr) {
                                    *d = scale * p * (*d - dot);
                                }
                                ds.data[i * s + dims.visible(i)..i * s + vis].fill(0.0);
                            }
                            let (pm, dsm) = (p.view(), ds.view());
                            let (pm, dsm) = (pm.as_mat(), dsm.as_mat());
                            let (ps, dss) = (pm.sub(r0, n, 0, vis), dsm.sub(r0, n, 0, vis));
                            matmul(
                                head_of(dqb, h, t, n_head, hd).sub(r0, n, 0, hd),
                                dss,
                                km.sub(0, vis, 0, hd),
                                false,
                                Parallelism::None,
                            )?;
                            matmul(
                                head_of(dkb, h, s, n_head, hd).sub(0, vis, 0, hd),
                                dss.t(),
                                qm.sub(r0, n, 0, hd),
                                true,
                                Parallelism::None,
                            )?;
                            matmul(
                                head_of(dvb, h, s, n_head, hd).sub(0, vis, 0, hd),
                                ps.t(),
                                dym.sub(r0, n, 0, hd),
                                true,
                                Parallelism::None,
                            )?;
                        }
                    }
                    Ok(())
                })
        })?;
        // Gradients were written as (B, T or S, H, hd); the transpose is a view.
        let grad = |g: Vec<f32>, rows: usize, like: &Tensor| -> Result<Tensor> {
            Tensor::from_vec(g, (b, rows, n_head, hd), like.device())?.transpose(1, 2)
        };
        Ok((
            Some(grad(dq, t, q)?),
            Some(grad(dk, s, k)?),
            Some(grad(dv, s, v)?),
        ))
    }
}
