//! Inference linear layers whose weights are laid out for the kernel once, at load.
//!
//! The gemm crate packs its operands into panels on every call. For a decode step
//! that is the whole weight matrix repacked to multiply 64 rows (one per batch row):
//! a tenth of batch-64 decoding went to packing and zero-filling its buffers. A
//! model that is not being trained keeps its weights fixed, so here they are packed
//! once into panels of [`NR`] output columns, `k`-major, and every call runs an
//! `MR x NR` register-tile kernel straight over them.
//!
//! Every output is `bias + Σₖ x[k] w[k]` summed in order of `k` with one fused
//! multiply-add per term, whatever the number of rows, their position in the batch or
//! the number of threads: a batch row's logits do not depend on what is decoded
//! beside it. AVX2 and FMA only (checked at run time); elsewhere [`PackedWeight::new`]
//! returns `None` and the layer keeps the gemm path.

use candle_core::{bail, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Output columns per panel: two AVX registers.
const NR: usize = 16;
/// Rows per register tile: 6 x 2 accumulators, 2 weight registers, 1 broadcast.
const MR: usize = 6;
/// Most rows per parallel task, so that a full pass (thousands of rows) still
/// balances over threads that the machine's other work may slow.
const MAX_ROWS_PER_TASK: usize = 64;

/// A `[out, in]` weight (and optional bias) in panels of [`NR`] outputs: element
/// `(o, k)` at `(o / NR) * in * NR + k * NR + o % NR`, zero past `out`.
#[derive(Debug)]
pub(crate) struct PackedWeight {
    panels: Vec<f32>,
    /// The bias padded to whole panels (zeros when the layer has none).
    bias: Vec<f32>,
    out: usize,
    inp: usize,
}

impl PackedWeight {
    /// Packs a row-major `[out, in]` weight; `None` without AVX2 and FMA.
    pub fn new(w: &[f32], bias: Option<&[f32]>, out: usize, inp: usize) -> Result<Option<Self>> {
        // An empty input dimension (output = bias) is left to the gemm path.
        if !supported() || inp == 0 {
            return Ok(None);
        }
        if w.len() != out * inp || bias.is_some_and(|b| b.len() != out) {
            bail!(
                "packed linear: a ({out}, {inp}) weight with {} values, bias {:?}",
                w.len(),
                bias.map(<[f32]>::len)
            );
        }
        let n_panels = out.div_ceil(NR);
        let mut panels = vec![0f32; n_panels * inp * NR];
        for (o, row) in w.chunks_exact(inp.max(1)).enumerate().take(out) {
            let panel = &mut panels[(o / NR) * inp * NR..(o / NR + 1) * inp * NR];
            for (k, &v) in row.iter().enumerate() {
                panel[k * NR + o % NR] = v;
            }
        }
        let mut padded = vec![0f32; n_panels * NR];
        if let Some(b) = bias {
            padded[..out].copy_from_slice(b);
        }
        Ok(Some(PackedWeight {
            panels,
            bias: padded,
            out,
            inp,
        }))
    }

    /// `[relu](x Wᵀ + b)` for `rows` row-major rows of `in` values.
    pub fn forward(&self, x: &[f32], rows: usize, relu: bool) -> Result<Vec<f32>> {
        let (out, inp) = (self.out, self.inp);
        if x.len() != rows * inp {
            bail!("packed linear: {} inputs for {rows} rows of {inp}", x.len());
        }
        let n = rows * out;
        // Every element is written exactly once below, so the buffer is not zeroed first.
        let mut y: Vec<f32> = Vec::with_capacity(n);
        if n == 0 {
            return Ok(y);
        }
        // A decode step's rows (one per batch row) in one task per thread, in whole
        // tiles: its products take tens of microseconds, and splitting them finer
        // (tasks of 12 rows) cost more in rayon's hand-offs than it balanced (batch-64
        // decoding at 2 threads: ~7% slower). Every output is the same sum however the
        // rows are split, so the split may follow the thread count.
        let threads = rayon::current_num_threads();
        let per = rows
            .div_ceil(threads.max(1))
            .div_ceil(MR)
            .saturating_mul(MR)
            .clamp(MR, MAX_ROWS_PER_TASK);
        let task = |(t, yt): (usize, &mut [MaybeUninit<f32>])| {
            let r0 = t * per;
            let xt = &x[r0 * inp..r0 * inp + yt.len() / out * inp];
            self.rows(xt, yt, relu);
        };
        let spare = &mut y.spare_capacity_mut()[..n];
        if threads > 1 {
            spare.par_chunks_mut(per * out).enumerate().for_each(task);
        } else {
            spare.chunks_mut(per * out).enumerate().for_each(task);
        }
        // SAFETY: `rows` wrote all `n` elements (every row, every panel's columns).
        unsafe { y.set_len(n) };
        Ok(y)
    }

    /// `y = x Wᵀ + b` for the rows of `x` (`y.len() / out` of them, `x` sized to match):
    /// panel by panel, so a panel stays in cache for all the rows. Writes every element.
    fn rows(&self, x: &[f32], y: &mut [MaybeUninit<f32>], relu: bool) {
        let (out, inp) = (self.out, self.inp);
        let n = y.len() / out;
        for p in 0..out.div_ceil(NR) {
            let panel = &self.panels[p * inp * NR..(p + 1) * inp * NR];
            let bias = &self.bias[p * NR..(p + 1) * NR];
            let cols = NR.min(out - p * NR);
            for r0 in (0..n).step_by(MR) {
                let m = MR.min(n - r0);
                let tile = Tile {
                    x: &x[r0 * inp..(r0 + m) * inp],
                    panel,
                    bias,
                    inp,
                    relu,
                };
                let start = r0 * out + p * NR;
                tile.run(&mut y[start..start + (m - 1) * out + cols], out, cols);
            }
        }
    }
}

/// Up to [`MR`] rows of `x` against one panel.
struct Tile<'a> {
    x: &'a [f32],
    panel: &'a [f32],
    bias: &'a [f32],
    inp: usize,
    relu: bool,
}

impl Tile<'_> {
    /// Row `i` of the tile: `y[i * ys + c] = [relu](bias[c] + Σₖ x[i][k] panel[k][c])`
    /// for `c < cols`; the tile has `x.len() / inp` rows and `y` ends at the last one's
    /// last column.
    fn run(&self, y: &mut [MaybeUninit<f32>], ys: usize, cols: usize) {
        let m = self.x.len() / self.inp.max(1);
        let fits = m > 0
            && m <= MR
            && cols <= NR
            && self.panel.len() >= self.inp * NR
            && self.bias.len() >= NR
            && y.len() == (m - 1) * ys + cols;
        if !fits {
            return self.portable(y, ys, cols);
        }
        #[cfg(target_arch = "x86_64")]
        if supported() {
            // SAFETY: AVX2 and FMA were just checked, and the sizes above are the ones
            // the kernel reads and writes.
            unsafe {
                match m {
                    1 => return x86::tile::<1>(self, y, ys, cols),
                    2 => return x86::tile::<2>(self, y, ys, cols),
                    3 => return x86::tile::<3>(self, y, ys, cols),
                    4 => return x86::tile::<4>(self, y, ys, cols),
                    5 => return x86::tile::<5>(self, y, ys, cols),
                    6 => return x86::tile::<6>(self, y, ys, cols),
                    _ => {}
                }
            }
        }
        self.portable(y, ys, cols);
    }

    /// The same sums in the same order (one fused multiply-add per term).
    fn portable(&self, y: &mut [MaybeUninit<f32>], ys: usize, cols: usize) {
        let inp = self.inp.max(1);
        for (i, xi) in self.x.chunks_exact(inp).enumerate() {
            let mut s = [0f32; NR];
            for (k, &xv) in xi.iter().enumerate().take(self.inp) {
                let w = &self.panel[k * NR..(k + 1) * NR];
                for (s, &w) in s.iter_mut().zip(w) {
                    *s = xv.mul_add(w, *s);
                }
            }
            let row = y.iter_mut().skip(i * ys).take(cols);
            for ((d, s), &b) in row.zip(s).zip(self.bias) {
                let v = s + b;
                d.write(if self.relu { v.max(0.0) } else { v });
            }
        }
    }
}

fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, NR};
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// `R` rows x 16 columns in 2R registers; the weights of step `k` are two loads
    /// shared by all rows, each row's `x[k]` one broadcast.
    ///
    /// # Safety
    /// AVX2 and FMA; `t.x.len() == R * t.inp`, `t.panel.len() >= t.inp * NR`,
    /// `t.bias.len() >= NR`, `cols <= NR`, `y.len() == (R - 1) * ys + cols`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const R: usize>(
        t: &Tile<'_>,
        y: &mut [MaybeUninit<f32>],
        ys: usize,
        cols: usize,
    ) {
        let (x, w) = (t.x.as_ptr(), t.panel.as_ptr());
        let mut s = [[_mm256_setzero_ps(); 2]; R];
        for k in 0..t.inp {
            // SAFETY: k < inp, so k * NR + 16 <= inp * NR and i * inp + k < R * inp.
            let (w0, w1) = unsafe {
                (
                    _mm256_loadu_ps(w.add(k * NR)),
                    _mm256_loadu_ps(w.add(k * NR + 8)),
                )
            };
            for (i, si) in s.iter_mut().enumerate() {
                let xv = unsafe { _mm256_broadcast_ss(&*x.add(i * t.inp + k)) };
                si[0] = _mm256_fmadd_ps(xv, w0, si[0]);
                si[1] = _mm256_fmadd_ps(xv, w1, si[1]);
            }
        }
        // SAFETY: bias holds at least NR values.
        let b = unsafe {
            [
                _mm256_loadu_ps(t.bias.as_ptr()),
                _mm256_loadu_ps(t.bias.as_ptr().add(8)),
            ]
        };
        let zero = _mm256_setzero_ps();
        let dst = y.as_mut_ptr().cast::<f32>();
        for (i, si) in s.iter().enumerate() {
            let mut v = [_mm256_add_ps(si[0], b[0]), _mm256_add_ps(si[1], b[1])];
            if t.relu {
                // max(v, 0) gives 0 for NaN, as f32::max(v, 0.0) does.
                v = [_mm256_max_ps(v[0], zero), _mm256_max_ps(v[1], zero)];
            }
            // SAFETY: row i's columns ..cols start at i * ys and end inside `y`.
            unsafe {
                let row = dst.add(i * ys);
                if cols == NR {
                    _mm256_storeu_ps(row, v[0]);
                    _mm256_storeu_ps(row.add(8), v[1]);
                } else {
                    let mut tmp = [0f32; NR];
                    _mm256_storeu_ps(tmp.as_mut_ptr(), v[0]);
                    _mm256_storeu_ps(tmp.as_mut_ptr().add(8), v[1]);
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), row, cols);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], w: &[f32], b: &[f32], rows: usize, out: usize, inp: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * out];
        for i in 0..rows {
            for o in 0..out {
                let mut s = 0f32;
                for k in 0..inp {
                    s = x[i * inp + k].mul_add(w[o * inp + k], s);
                }
                y[i * out + o] = s + b[o];
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                    / 16_777_216.0
                    - 0.5
            })
            .collect()
    }

    /// Every tile height and a partial panel; bit-identical to the sum in `k` order,
    /// with and without ReLU.
    #[test]
    fn matches_the_ordered_sum_bit_for_bit() {
        for (rows, out, inp) in [
            (1, 16, 8),
            (5, 20, 13),
            (13, 33, 64),
            (64, 128, 128),
            (7, 1, 3),
        ] {
            let (x, w, b) = (values(rows * inp, 1), values(out * inp, 2), values(out, 3));
            let Some(p) = PackedWeight::new(&w, Some(&b), out, inp).unwrap() else {
                return; // no AVX2: the layer keeps the gemm path
            };
            let want = reference(&x, &w, &b, rows, out, inp);
            assert_eq!(
                p.forward(&x, rows, false).unwrap(),
                want,
                "{rows}x{out}x{inp}"
            );
            let relu: Vec<f32> = want.iter().map(|v| v.max(0.0)).collect();
            assert_eq!(p.forward(&x, rows, true).unwrap(), relu);
        }
    }

    #[test]
    fn the_portable_tile_sums_in_the_same_order() {
        let (m, inp) = (5, 37);
        let (x, panel, bias) = (values(m * inp, 4), values(inp * NR, 5), values(NR, 6));
        // Rows 20 apart, 11 columns (a partial panel), with and without ReLU.
        let (ys, cols) = (20, 11);
        for relu in [false, true] {
            let t = Tile {
                x: &x,
                panel: &panel,
                bias: &bias,
                inp,
                relu,
            };
            let len = (m - 1) * ys + cols;
            let (mut a, mut b) = (
                vec![MaybeUninit::new(7f32); len],
                vec![MaybeUninit::new(7f32); len],
            );
            t.run(&mut a, ys, cols);
            t.portable(&mut b, ys, cols);
            // SAFETY: initialised above (and overwritten in part by the tiles).
            let (a, b): (Vec<f32>, Vec<f32>) = unsafe {
                (
                    a.iter().map(|v| v.assume_init()).collect(),
                    b.iter().map(|v| v.assume_init()).collect(),
                )
            };
            assert_eq!(a, b);
            // The gaps between rows are left alone.
            assert!(a[cols..ys].iter().all(|&v| v == 7.0));
        }
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let w = values(16 * 4, 1);
        assert!(PackedWeight::new(&w, None, 16, 5).is_err());
        if let Some(p) = PackedWeight::new(&w, None, 16, 4).unwrap() {
            assert!(p.forward(&values(7, 2), 2, false).is_err());
        }
    }
}
