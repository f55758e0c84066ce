//! A bounds-checked front to the `gemm` crate (the kernel under candle's CPU matmul),
//! for fused ops that multiply strided sub-matrices of one buffer without copying
//! them into tensors first.

use candle_core::{bail, Result};
pub(crate) use gemm::Parallelism;

/// A read-only `rows x cols` matrix inside `data`: element `(i, j)` is at
/// `off + i * rs + j * cs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub off: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows x cols` matrix at the start of `data`.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat {
            data,
            off: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, as a view.
    pub fn t(self) -> Mat<'a> {
        Mat {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Rows `r0 .. r0 + n` and columns `c0 .. c0 + m`.
    pub fn sub(self, r0: usize, n: usize, c0: usize, m: usize) -> Mat<'a> {
        Mat {
            off: self.off + r0 * self.rs + c0 * self.cs,
            rows: n,
            cols: m,
            ..self
        }
    }

    /// Row `i` as a slice, when rows are contiguous (`cs == 1`) and in bounds.
    pub fn row(&self, i: usize) -> Option<&'a [f32]> {
        let start = self.off + i * self.rs;
        match self.cs {
            1 => self.data.get(start..start + self.cols),
            _ => None,
        }
    }

    fn in_bounds(&self) -> bool {
        in_bounds(
            self.data.len(),
            self.off,
            self.rows,
            self.cols,
            self.rs,
            self.cs,
        )
    }
}

/// A writable `rows x cols` matrix inside `data`, laid out as [`Mat`].
#[derive(Debug)]
pub(crate) struct MatMut<'a> {
    pub data: &'a mut [f32],
    pub off: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatMut<'a> {
    /// A row-major `rows x cols` matrix at the start of `data`.
    pub fn dense(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        MatMut {
            data,
            off: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// Rows `r0 .. r0 + n` and columns `c0 .. c0 + m`, borrowing `self`.
    pub fn sub(&mut self, r0: usize, n: usize, c0: usize, m: usize) -> MatMut<'_> {
        MatMut {
            data: self.data,
            off: self.off + r0 * self.rs + c0 * self.cs,
            rows: n,
            cols: m,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// The same matrix, read-only.
    pub fn as_mat(&self) -> Mat<'_> {
        Mat {
            data: self.data,
            off: self.off,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

/// Whether every element `off + i * rs + j * cs` (`i < rows`, `j < cols`) is below
/// `len`, without overflowing.
pub(crate) fn in_bounds(
    len: usize,
    off: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    (rows - 1)
        .checked_mul(rs)
        .zip((cols - 1).checked_mul(cs))
        .and_then(|(a, b)| a.checked_add(b)?.checked_add(off))
        .is_some_and(|last| last < len)
}

/// `dst = a @ b`, or `dst += a @ b` when `accumulate`.
pub(crate) fn matmul(
    dst: MatMut<'_>,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    parallelism: Parallelism,
) -> Result<()> {
    let (m, n, k) = (dst.rows, dst.cols, a.cols);
    if a.rows != m || b.rows != k || b.cols != n {
        bail!(
            "gemm: ({m}, {n}) = ({}, {}) @ ({}, {})",
            a.rows,
            a.cols,
            b.rows,
            b.cols
        );
    }
    let dst_ok = in_bounds(dst.data.len(), dst.off, m, n, dst.rs, dst.cs);
    if !(dst_ok && a.in_bounds() && b.in_bounds()) {
        bail!("gemm: a matrix reaches past its buffer");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[dst.off + i * dst.rs + j * dst.cs] = 0.0;
                }
            }
        }
        return Ok(());
    }
    // Strides fit in isize: every reachable index was checked against a slice length.
    let s = |x: usize| x as isize;
    // SAFETY: every element the call reads or writes lies inside its slice (checked
    // above, indices are `off + i * rs + j * cs` for i < rows, j < cols); `dst` is a
    // unique borrow, so it does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr().add(dst.off),
            s(dst.cs),
            s(dst.rs),
            accumulate,
            a.data.as_ptr().add(a.off),
            s(a.cs),
            s(a.rs),
            b.data.as_ptr().add(b.off),
            s(b.cs),
            s(b.rs),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_of_views_match_the_naive_product() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, n, k);
        let mut c = vec![1.0; m * n];
        let dst = MatMut {
            data: &mut c,
            off: 0,
            rows: m,
            cols: n,
            rs: n,
            cs: 1,
        };
        matmul(
            dst,
            Mat::dense(&a, m, k),
            Mat::dense(&b, k, n),
            false,
            Parallelism::None,
        )
        .unwrap();
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        // Transposed views: (bᵀ aᵀ)ᵀ = a b, written column-major, accumulated twice.
        let mut ct = vec![0.0; m * n];
        for _ in 0..2 {
            let dst = MatMut {
                data: &mut ct,
                off: 0,
                rows: n,
                cols: m,
                rs: 1,
                cs: n,
            };
            let (at, bt) = (Mat::dense(&a, m, k).t(), Mat::dense(&b, k, n).t());
            matmul(dst, bt, at, true, Parallelism::None).unwrap();
        }
        for (x, y) in ct.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-5);
        }
    }

    #[test]
    fn views_past_the_buffer_and_mismatched_shapes_are_errors() {
        let a = vec![0.0; 6];
        let mut c = vec![0.0; 4];
        fn dst(c: &mut [f32]) -> MatMut<'_> {
            MatMut {
                data: c,
                off: 0,
                rows: 2,
                cols: 2,
                rs: 2,
                cs: 1,
            }
        }
        let short = Mat {
            off: 1,
            ..Mat::dense(&a, 2, 3)
        };
        assert!(matmul(
            dst(&mut c),
            short,
            Mat::dense(&a, 3, 2),
            false,
            Parallelism::None
        )
        .is_err());
        assert!(matmul(
            dst(&mut c),
            Mat::dense(&a, 2, 3),
            Mat::dense(&a, 2, 3),
            false,
            Parallelism::None
        )
        .is_err());
    }
}
