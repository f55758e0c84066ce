//! Reductions and `exp` over f32 rows, written so the compiler vectorises them.
//!
//! A plain `iter().sum()` or `fold(f32::max)` is a serial chain the compiler may not
//! reorder, and `f32::exp` is a libm call per element: in the fused softmax and
//! cross-entropy kernels those took more time than the matrix products around them.
//! Here sums and maxima run in [`LANES`] independent accumulators combined at the end
//! (a fixed order, so results do not depend on threads or batch composition), and
//! [`exp`] is a branch-free polynomial the compiler turns into SIMD code.

/// Independent accumulators: two AVX or four SSE registers.
const LANES: usize = 16;

/// Largest element (`-inf` for an empty row).
pub(crate) fn max(xs: &[f32]) -> f32 {
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

/// `e^x` within 2 ulp-ish (relative error < 3e-7) for `x` in `[-87, 88]`; 0 below
/// (softmax arguments after subtracting the row maximum are <= 0, and `e^-87` is
/// already below f32's normal range), `+inf` above, NaN for NaN.
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
}
