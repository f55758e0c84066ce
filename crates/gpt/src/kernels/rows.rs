//! Reductions and `exp` over f32 rows, written so the compiler vectorises them.
//!
//! A plain `iter().sum()` or `fold(f32::max)` is a serial chain the compiler may not
//! reorder, and `f32::exp` is a libm call per element: in the fused softmax and
//! cross-entropy kernels those took more time than the matrix products around them.
//! Here sums and maxima run in [`LANES`] independent accumulators combined at the end
//! (a fixed order, so results do not depend on threads or batch composition), and
//! [`exp`] is a branch-free polynomial the compiler turns into SIMD code.

use crate::kernels::gemm::{in_bounds, Mat};
use candle_core::{bail, Result};

/// Independent accumulators: two AVX or four SSE registers.
const LANES: usize = 16;

/// Largest element (`-inf` for an empty row). Compiled twice like [`exp_in_place`]:
/// the AVX2 copy where the CPU has it (a maximum is exact, so the width cannot change
/// the result).
pub(crate) fn max(xs: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn avx2(xs: &[f32]) -> f32 {
            max_lanes(xs)
        }
        // SAFETY: the CPU has AVX2 (detected just above).
        return unsafe { avx2(xs) };
    }
    max_lanes(xs)
}

#[inline(always)]
fn max_lanes(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    let tail = chunks.remainder().iter().copied();
    acc.into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// Sum of `f(x)` over the row.
#[inline(always)]
pub(crate) fn sum_by(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    acc.iter().sum::<f32>() + tail
}

pub(crate) fn sum(xs: &[f32]) -> f32 {
    sum_by(xs, |x| x)
}

/// `sum(exp(x - shift))`, without storing the exponentials.
pub(crate) fn sum_exp(xs: &[f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn avx2(xs: &[f32], shift: f32) -> f32 {
            sum_exp_lanes(xs, shift)
        }
        // SAFETY: the CPU has AVX2 (detected just above).
        return unsafe { avx2(xs, shift) };
    }
    sum_exp_lanes(xs, shift)
}

#[inline(always)]
fn sum_exp_lanes(xs: &[f32], shift: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += exp(x - shift);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&x| exp(x - shift)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `sum(a * b)`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `x <- exp(x - shift)` in place; returns the sum of the new values.
///
/// The two exp loops are compiled twice, and the AVX2 copy runs where the CPU has it:
/// 8-wide registers instead of the 4-wide SSE2 every x86-64 has. Same operations in
/// the same order (no FMA), so the results do not depend on the machine.
pub(crate) fn exp_in_place(xs: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn avx2(xs: &mut [f32], shift: f32) -> f32 {
            exp_in_place_lanes(xs, shift)
        }
        // SAFETY: the CPU has AVX2 (detected just above).
        return unsafe { avx2(xs, shift) };
    }
    exp_in_place_lanes(xs, shift)
}

#[inline(always)]
fn exp_in_place_lanes(xs: &mut [f32], shift: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = xs.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *x = exp(*x - shift);
            *a += *x;
        }
    }
    let mut tail = 0f32;
    for x in chunks.into_remainder() {
        *x = exp(*x - shift);
        tail += *x;
    }
    acc.iter().sum::<f32>() + tail
}

/// `e^x` with relative error < 3e-7 for `x` in `[-87, 88]`; 0 below (`e^-87` is about
/// 1.6e-38, the bottom of f32's normal range; softmax arguments after subtracting the
/// row maximum are <= 0, so only negligible weights are flushed), `+inf` above, NaN
/// for NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so `n * LN2_HI` is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let underflow = x < -87.0;
    let overflow = x > 88.0;
    let xc = x.clamp(-87.0, 88.0);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO; // |r| <= ln2 / 2
                                            // Taylor series of e^r to r^7 / 7!: relative error < 2e-8 for |r| <= 0.35.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n from its exponent bits: n is in [-126, 127] after the clamp.
    let n_bits = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let two_n = f32::from_bits((n_bits.wrapping_add(127) << 23) as u32);
    // Selects, not branches, so the loops around this stay vectorised.
    let y = if underflow { 0.0 } else { p * two_n };
    let y = if overflow { f32::INFINITY } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// Rows of `data` at `off + j * rs`: the keys or values of one head in a cache buffer.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub data: &'a [f32],
    pub off: usize,
    pub rs: usize,
}

impl<'a> From<Mat<'a>> for Rows<'a> {
    fn from(m: Mat<'a>) -> Self {
        Rows {
            data: m.data,
            off: m.off,
            rs: m.rs,
        }
    }
}

impl Rows<'_> {
    /// Row `j`, `n` floats long (the caller checked it lies inside `data`).
    fn row(&self, j: usize, n: usize) -> &[f32] {
        &self.data[self.off + j * self.rs..self.off + j * self.rs + n]
    }
}

/// `rows` rows of `n` floats (a multiple of 8) lie inside `r.data`: checked before the
/// AVX2 loops read them through raw pointers.
fn check_rows(what: &str, rows: usize, n: usize, r: Rows<'_>) -> Result<()> {
    let Rows { data, off, rs } = r;
    if n % 8 != 0 || !in_bounds(data.len(), off, rows, n, rs, 1) {
        bail!(
            "{what}: {rows} rows of {n} at {off} + j * {rs} in {}",
            data.len()
        );
    }
    Ok(())
}

/// Whether the AVX2/FMA decode kernels can run here.
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `out[j] = q · k[j]` for rows `j` of `k`, each `q.len()` long: dot products of a
/// query with cached keys in one decode step. Rows are short (a head, 32 floats), so
/// the compiler's vectorisation of a generic loop was poor (2 floats at a time); with
/// AVX2 this is written out in 8-wide intrinsics. Both versions sum in the same order,
/// with fused multiply-adds (`f32::mul_add` is exact on every CPU): 8 lanes over the
/// row, then the lanes in pairs ([`lanes_sum`]), the order in which horizontal adds
/// reduce four keys at once; so the result does not depend on the CPU.
pub(crate) fn dots(out: &mut [f32], q: &[f32], k: Rows<'_>) -> Result<()> {
    check_rows("dots", out.len(), q.len(), k)?;
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (detected just above); bounds checked above.
        unsafe { x86::dots(out, q, k) };
        return Ok(());
    }
    dots_portable(out, q, k);
    Ok(())
}

fn dots_portable(out: &mut [f32], q: &[f32], k: Rows<'_>) {
    for (j, o) in out.iter_mut().enumerate() {
        let row = k.row(j, q.len());
        let mut acc = [0f32; 8];
        for (x, y) in q.chunks_exact(8).zip(row.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] = x[l].mul_add(y[l], acc[l]);
            }
        }
        *o = lanes_sum(acc);
    }
}

/// The eight lanes summed in pairs, `((0+1)+(2+3)) + ((4+5)+(6+7))`: the order of the
/// AVX2 code's horizontal adds.
fn lanes_sum(a: [f32; 8]) -> f32 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// `y = sum_j w[j] * v[j]` for rows `j` of `v`, each `y.len()` long: attention
/// weights times cached values. Each element sums the first half of the rows and the
/// second half separately, each in order, then adds the two (so two streams of values
/// are read at once: attention over a batch-64 cache is bound by memory, and one core
/// read one stream at ~15 GB/s, two at ~20), in both versions, with fused
/// multiply-adds.
pub(crate) fn weighted_rows(y: &mut [f32], w: &[f32], v: Rows<'_>) -> Result<()> {
    check_rows("weighted_rows", w.len(), y.len(), v)?;
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (detected just above); bounds checked above.
        unsafe { x86::weighted_rows(y, w, v) };
        return Ok(());
    }
    weighted_rows_portable(y, w, v);
    Ok(())
}

fn weighted_rows_portable(y: &mut [f32], w: &[f32], v: Rows<'_>) {
    let n = y.len();
    let h = w.len() / 2;
    let mut second = vec![0f32; n];
    y.fill(0.0);
    for (j, &wj) in w.iter().enumerate() {
        let acc = if j < h { &mut *y } else { &mut second[..] };
        let row = v.row(j, n);
        for (a, &v) in acc.iter_mut().zip(row) {
            *a = wj.mul_add(v, *a);
        }
    }
    for (y, s) in y.iter_mut().zip(second) {
        *y += s;
    }
}

/// [`weighted_rows`] of one head and [`dots`] of the next in one pass over both
/// (`y`, `w`, `v` as the first's arguments, `out`, `q`, `k` as the second's): in a
/// decode step the keys of head `h + 1` and the values of head `h` are then read
/// together, four streams instead of two, while the softmax between the two loops of
/// one head no longer leaves the memory idle. The same sums as the two calls, bit for
/// bit.
pub(crate) fn weighted_rows_and_dots(
    y: &mut [f32],
    w: &[f32],
    v: Rows<'_>,
    out: &mut [f32],
    q: &[f32],
    k: Rows<'_>,
) -> Result<()> {
    check_rows("weighted_rows", w.len(), y.len(), v)?;
    check_rows("dots", out.len(), q.len(), k)?;
    #[cfg(target_arch = "x86_64")]
    if y.len() == q.len() && avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (detected just above); sizes and bounds
        // checked above.
        unsafe { x86::weighted_rows_and_dots(y, w, v, out, q, k) };
        return Ok(());
    }
    weighted_rows(y, w, v)?;
    dots(out, q, k)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Rows of `C` 8-float chunks (a head of `8 * C` floats) are handled by code
    //! specialised for `C`, so the loops unroll and the accumulators stay in registers:
    //! generic over the row length, `weighted_rows` stored and reloaded its sums through
    //! memory for every key and `dots` ran one key's dependent chain at a time.
    use std::arch::x86_64::*;

    /// See [`super::dots`]; the caller checked AVX2 and FMA, `q.len() % 8 == 0` and that every
    /// row lies inside `k`'s slice.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dots(out: &mut [f32], q: &[f32], k: super::Rows<'_>) {
        // SAFETY (all arms): as this function's.
        unsafe {
            match q.len() / 8 {
                1 => dots_c::<1>(out, q, k),
                2 => dots_c::<2>(out, q, k),
                4 => dots_c::<4>(out, q, k),
                8 => dots_c::<8>(out, q, k),
                16 => dots_c::<16>(out, q, k),
                // Other head sizes: the portable loop (the same order of sums).
                _ => super::dots_portable(out, q, k),
            }
        }
    }

    /// The lanes of `acc` summed as [`super::lanes_sum`] does.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum(acc: __m256) -> f32 {
        let t = _mm256_hadd_ps(acc, acc);
        let t = _mm256_hadd_ps(t, t);
        _mm_cvtss_f32(_mm_add_ss(
            _mm256_castps256_ps128(t),
            _mm256_extractf128_ps(t, 1),
        ))
    }

    /// The lane sums of four registers at once, in the order of [`super::lanes_sum`].
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum4(a: [__m256; 4]) -> [f32; 4] {
        let t = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
        let s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        let mut out = [0f32; 4];
        // SAFETY: `out` holds four floats.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), s) };
        out
    }

    /// Rows of `C` 8-float chunks at `off + j * rs` from `base`: the AVX2 code's view of
    /// rows the caller checked lie inside one slice.
    #[derive(Clone, Copy)]
    struct Rows<const C: usize> {
        base: *const f32,
        off: usize,
        rs: usize,
    }

    impl<const C: usize> Rows<C> {
        fn new(r: super::Rows<'_>) -> Self {
            Rows {
                base: r.data.as_ptr(),
                off: r.off,
                rs: r.rs,
            }
        }

        /// Chunk `c < C` of row `j`.
        ///
        /// # Safety
        /// Row `j` lies inside the slice (`off + j * rs + 8 * C <= len`); the CPU has AVX.
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn load(self, j: usize, c: usize) -> __m256 {
            // SAFETY: as this function's.
            unsafe { _mm256_loadu_ps(self.base.add(self.off + j * self.rs + 8 * c)) }
        }
    }

    /// `q.len() == 8 * C` floats as `C` registers.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn query<const C: usize>(q: &[f32]) -> [__m256; C] {
        // SAFETY: q.len() == 8 * C (every caller's dispatch).
        std::array::from_fn(|c| unsafe { _mm256_loadu_ps(q.as_ptr().add(8 * c)) })
    }

    /// Dot products of `q` with rows `j, j + 1, h + j, h + j + 1`, `h = out.len() / 4 * 2`:
    /// four independent chains in flight, two from the first half of the rows and two
    /// from the second, so two streams of keys are read at once (one streamed at about
    /// 15 GB/s on this machine's cores, two at 20).
    ///
    /// # Safety
    /// Every row below `out.len()` lies inside `k`'s slice; `j + 1 < h`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots_quad<const C: usize>(out: &mut [f32], qv: &[__m256; C], k: Rows<C>, j: usize) {
        let h = out.len() / 4 * 2;
        let rows = [j, j + 1, h + j, h + j + 1];
        let mut acc = [_mm256_setzero_ps(); 4];
        for (c, qc) in qv.iter().enumerate() {
            for (a, &r) in acc.iter_mut().zip(&rows) {
                // SAFETY: r < 2h <= out.len() (as this function's).
                *a = _mm256_fmadd_ps(*qc, unsafe { k.load(r, c) }, *a);
            }
        }
        for (s, &r) in hsum4(acc).iter().zip(&rows) {
            out[r] = *s;
        }
    }

    /// The rows past the last quad, one at a time.
    ///
    /// # Safety
    /// Every row below `out.len()` lies inside `k`'s slice.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots_rest<const C: usize>(out: &mut [f32], qv: &[__m256; C], k: Rows<C>) {
        let h = out.len() / 4 * 2;
        for (j, o) in out.iter_mut().enumerate().skip(2 * h) {
            let mut acc = _mm256_setzero_ps();
            for (c, qc) in qv.iter().enumerate() {
                // SAFETY: j < out.len() (as this function's).
                acc = _mm256_fmadd_ps(*qc, unsafe { k.load(j, c) }, acc);
            }
            *o = hsum(acc);
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots_c<const C: usize>(out: &mut [f32], q: &[f32], k: super::Rows<'_>) {
        let (qv, k) = (query::<C>(q), Rows::<C>::new(k));
        // SAFETY (both): every row below out.len() lies inside k's slice (the caller).
        for j in (0..out.len() / 4 * 2).step_by(2) {
            unsafe { dots_quad(out, &qv, k, j) };
        }
        unsafe { dots_rest(out, &qv, k) };
    }

    /// See [`super::weighted_rows`]; the caller checked AVX2 and FMA, `y.len() % 8 == 0` and
    /// that every row lies inside `v`'s slice.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weighted_rows(y: &mut [f32], w: &[f32], v: super::Rows<'_>) {
        // SAFETY (all arms): as this function's.
        unsafe {
            match y.len() / 8 {
                1 => weighted_rows_c::<1>(y, w, v),
                2 => weighted_rows_c::<2>(y, w, v),
                4 => weighted_rows_c::<4>(y, w, v),
                8 => weighted_rows_c::<8>(y, w, v),
                _ => super::weighted_rows_portable(y, w, v),
            }
        }
    }

    /// The `2C` sums of [`super::weighted_rows`] (two halves), kept in registers
    /// across all keys.
    struct Weighted<const C: usize> {
        first: [__m256; C],
        second: [__m256; C],
    }

    impl<const C: usize> Weighted<C> {
        #[inline]
        #[target_feature(enable = "avx2")]
        fn new() -> Self {
            Weighted {
                first: [_mm256_setzero_ps(); C],
                second: [_mm256_setzero_ps(); C],
            }
        }

        /// Adds `w[j]` times row `j` to the first half, `w[h + j]` times row `h + j` to
        /// the second, `h = w.len() / 2`.
        ///
        /// # Safety
        /// Every row below `w.len()` lies inside `v`'s slice; `j < h`.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn step(&mut self, w: &[f32], v: Rows<C>, j: usize) {
            let h = w.len() / 2;
            let (w1, w2) = (_mm256_set1_ps(w[j]), _mm256_set1_ps(w[h + j]));
            for c in 0..C {
                // SAFETY: j < h + j < w.len() (as this function's).
                let (a, b) = unsafe { (v.load(j, c), v.load(h + j, c)) };
                self.first[c] = _mm256_fmadd_ps(w1, a, self.first[c]);
                self.second[c] = _mm256_fmadd_ps(w2, b, self.second[c]);
            }
        }

        /// The odd last row (into the second half), then `y = first + second`.
        ///
        /// # Safety
        /// As [`Weighted::step`]; `y.len() == 8 * C`.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn finish(mut self, w: &[f32], v: Rows<C>, y: &mut [f32]) {
            if w.len() % 2 == 1 {
                let (j, wv) = (w.len() - 1, _mm256_set1_ps(w[w.len() - 1]));
                for (c, s) in self.second.iter_mut().enumerate() {
                    // SAFETY: j < w.len() (as this function's).
                    *s = _mm256_fmadd_ps(wv, unsafe { v.load(j, c) }, *s);
                }
            }
            for (c, (a, b)) in self.first.iter().zip(&self.second).enumerate() {
                // SAFETY: y.len() == 8 * C (as this function's).
                unsafe { _mm256_storeu_ps(y.as_mut_ptr().add(8 * c), _mm256_add_ps(*a, *b)) };
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn weighted_rows_c<const C: usize>(y: &mut [f32], w: &[f32], v: super::Rows<'_>) {
        let (v, mut acc) = (Rows::<C>::new(v), Weighted::<C>::new());
        // SAFETY (both): every row below w.len() lies inside v's slice, y.len() == 8 * C
        // (the caller).
        for j in 0..w.len() / 2 {
            unsafe { acc.step(w, v, j) };
        }
        unsafe { acc.finish(w, v, y) };
    }

    /// See [`super::weighted_rows_and_dots`]; the caller checked AVX2 and FMA, the
    /// sizes (`y` and `q` equally long, a multiple of 8) and that every row lies inside
    /// its slice.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weighted_rows_and_dots(
        y: &mut [f32],
        w: &[f32],
        v: super::Rows<'_>,
        out: &mut [f32],
        q: &[f32],
        k: super::Rows<'_>,
    ) {
        // SAFETY (all arms): as this function's.
        unsafe {
            match y.len() / 8 {
                1 => weighted_rows_and_dots_c::<1>(y, w, v, out, q, k),
                2 => weighted_rows_and_dots_c::<2>(y, w, v, out, q, k),
                4 => weighted_rows_and_dots_c::<4>(y, w, v, out, q, k),
                8 => weighted_rows_and_dots_c::<8>(y, w, v, out, q, k),
                _ => {
                    super::weighted_rows_portable(y, w, v);
                    super::dots_portable(out, q, k);
                }
            }
        }
    }

    /// The loops of [`weighted_rows_c`] and [`dots_c`] run side by side: two value
    /// rows and a quad of keys per round.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn weighted_rows_and_dots_c<const C: usize>(
        y: &mut [f32],
        w: &[f32],
        v: super::Rows<'_>,
        out: &mut [f32],
        q: &[f32],
        k: super::Rows<'_>,
    ) {
        let (v, mut acc) = (Rows::<C>::new(v), Weighted::<C>::new());
        let (qv, k) = (query::<C>(q), Rows::<C>::new(k));
        let (quads, steps) = (out.len() / 4 * 2, w.len() / 2);
        let mut j = 0;
        // SAFETY (all calls): every row below w.len() lies inside v's slice and every
        // row below out.len() inside k's; y.len() == 8 * C (the caller).
        for jq in (0..quads).step_by(2) {
            unsafe { dots_quad(out, &qv, k, jq) };
            for _ in 0..2 {
                if j < steps {
                    unsafe { acc.step(w, v, j) };
                    j += 1;
                }
            }
        }
        unsafe { dots_rest(out, &qv, k) };
        for j in j..steps {
            unsafe { acc.step(w, v, j) };
        }
        unsafe { acc.finish(w, v, y) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_across_the_range() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_3;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn reductions_match_the_serial_ones() {
        for n in [0usize, 1, 5, 16, 17, 100, 1027] {
            let xs: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0)
                .collect();
            let ys: Vec<f32> = xs.iter().map(|x| x * 0.5 + 1.0).collect();
            let serial_max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(max(&xs), serial_max);
            let close = |a: f32, b: f64| (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs());
            assert!(close(sum(&xs), xs.iter().map(|&x| x as f64).sum()));
            let d: f64 = xs.iter().zip(&ys).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!(close(dot(&xs, &ys), d));
            let se: f64 = xs.iter().map(|&x| ((x - 1.0) as f64).exp()).sum();
            assert!(close(sum_exp(&xs, 1.0), se));
            let mut e = xs.clone();
            let s = exp_in_place(&mut e, 1.0);
            assert!(close(s, se));
            for (e, &x) in e.iter().zip(&xs) {
                assert!(
                    (*e as f64 - ((x - 1.0) as f64).exp()).abs() < 1e-6 * (1.0 + e.abs() as f64)
                );
            }
        }
    }

    #[test]
    fn dots_and_weighted_rows_match_the_naive_sums_and_the_portable_code_exactly() {
        // Head sizes with specialised code (8, 16, 32, 64, 128) and without (24); an odd
        // and an even number of keys (the two halves), and one key.
        for n in [8, 16, 24, 32, 64, 128] {
            for rows in [1, 8, 9] {
                check_dots_and_weighted_rows(n, rows);
            }
        }
    }

    fn check_dots_and_weighted_rows(n: usize, rows: usize) {
        let (rs, off) = (n + 8, 3);
        let data: Vec<f32> = (0..off + rows * rs)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let q: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
        let v = Rows {
            data: &data,
            off,
            rs,
        };
        let mut out = vec![0.0; rows];
        dots(&mut out, &q, v).unwrap();
        let mut portable = vec![0.0; rows];
        dots_portable(&mut portable, &q, v);
        assert_eq!(out, portable, "same order of sums on every CPU");
        for (j, &o) in out.iter().enumerate() {
            let want: f64 = (0..n)
                .map(|c| q[c] as f64 * data[off + j * rs + c] as f64)
                .sum();
            assert!((o as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "n {n}");
        }
        let w: Vec<f32> = (0..rows).map(|j| 1.0 / (j + 1) as f32).collect();
        let (mut y, mut y_portable) = (vec![7.0; n], vec![0.0; n]);
        weighted_rows(&mut y, &w, v).unwrap();
        weighted_rows_portable(&mut y_portable, &w, v);
        assert_eq!(y, y_portable);
        for (c, &yc) in y.iter().enumerate() {
            let want: f64 = (0..rows)
                .map(|j| w[j] as f64 * data[off + j * rs + c] as f64)
                .sum();
            assert!(
                (yc as f64 - want).abs() < 1e-5 * (1.0 + want.abs()),
                "n {n}"
            );
        }
        // Values of one head and keys of the next in one pass: the same bits as the two
        // calls, also where the key count differs from the value count (two loops).
        let q2: Vec<f32> = q.iter().map(|x| x * 0.5 - 0.25).collect();
        let k = Rows {
            data: &data,
            off: off + 5,
            rs,
        };
        for keys in [rows, rows - 1] {
            let (mut y_both, mut out_both) = (vec![0.0; n], vec![0.0; keys]);
            weighted_rows_and_dots(&mut y_both, &w, v, &mut out_both, &q2, k).unwrap();
            let (mut y_apart, mut out_apart) = (vec![0.0; n], vec![0.0; keys]);
            weighted_rows(&mut y_apart, &w, v).unwrap();
            dots(&mut out_apart, &q2, k).unwrap();
            assert_eq!(
                (y_both, out_both),
                (y_apart, out_apart),
                "n {n}, keys {keys}"
            );
        }
        let past_the_end = Rows {
            data: &data,
            off: data.len() - n + 1,
            rs,
        };
        let mut one = [0.0];
        assert!(weighted_rows_and_dots(&mut y, &w, v, &mut one, &q2, past_the_end).is_err());
        // Rows past the buffer, or not a multiple of 8 long: errors, not panics.
        assert!(dots(&mut vec![0.0; rows + 1], &q, v).is_err());
        assert!(dots(&mut out, &q[..n - 4], v).is_err());
        assert!(weighted_rows(&mut y, &vec![1.0; rows + 1], v).is_err());
    }
}
