#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The same seed trains the same bits on any x86-64 machine only if candle's CPU
//! matmul forms its sums the same way whatever the machine's caches: gemm cuts a
//! long dot product into blocks whose depth it derived from the L1 cache (512 on a
//! 32 KiB 8-way L1d, 1,024 on a 48 KiB 12-way one). `vendor/gemm-common` pins it.

use candle_core::{Device, Tensor};
use candlecast_rand::Rng;

fn matrix(rng: &mut Rng, rows: usize, cols: usize) -> Tensor {
    let v: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
    Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
}

/// A product over 1,024 (a weight gradient's depth: 32 windows x 32 tokens) is
/// the sum of its two halves over 512, to the bit, on every machine; on a machine
/// whose own L1 gave gemm a depth of 1,024 it was one sum of 1,024 products.
#[test]
fn a_long_dot_product_is_cut_at_512_whatever_the_l1_cache() {
    let mut rng = Rng::new(3);
    // Wider than 64 both ways: smaller products skip gemm's cache-derived blocking.
    let (m, k, n) = (128, 1024, 96);
    let (a, b) = (matrix(&mut rng, m, k), matrix(&mut rng, k, n));
    let half = |i: usize| {
        let a = a.narrow(1, i * 512, 512).unwrap().contiguous().unwrap();
        let b = b.narrow(0, i * 512, 512).unwrap().contiguous().unwrap();
        a.matmul(&b).unwrap()
    };
    let whole = a.matmul(&b).unwrap().to_vec2::<f32>().unwrap();
    let halves = (half(0) + half(1)).unwrap().to_vec2::<f32>().unwrap();
    let differ = whole
        .iter()
        .flatten()
        .zip(halves.iter().flatten())
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differ, 0, "{differ} of {} entries differ", m * n);
}
