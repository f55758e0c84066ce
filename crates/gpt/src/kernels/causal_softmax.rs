//! The causal softmax of attention scores from candle's differentiable ops.
//!
//! On the CPU in f32, attention runs as one fused op ([`crate::causal_attention`]);
//! these composite ops are the path on other devices and the tests' reference.

use candle_core::{bail, Device, Result, Tensor, D};

/// `softmax(scores * scale + causal_mask)` over the last dimension of `scores`
/// `(..., T, past + T)`, where query row `i` (of `T`) sees keys `0 ..= past + i`.
pub fn causal_softmax_composite(scores: &Tensor, scale: f64) -> Result<Tensor> {
    let (t, s) = (scores.dim(D::Minus2)?, scores.dim(D::Minus1)?);
    if s < t {
        bail!("causal_softmax: {t} queries but only {s} keys");
    }
    let scores = (scores * scale)?;
    let scores = match causal_mask(t, s - t, scores.device())? {
        Some(m) => scores.broadcast_add(&m.to_dtype(scores.dtype())?)?,
        None => scores,
    };
    candle_nn::ops::softmax(&scores, D::Minus1)
}

/// `(T, past + T)`: 0 where query `past + i` may see key `j` (j <= past + i), -inf after.
/// `None` for a single token, which may see everything cached.
pub fn causal_mask(t: usize, past: usize, device: &Device) -> Result<Option<Tensor>> {
    if t == 1 {
        return Ok(None);
    }
    let total = past + t;
    let m: Vec<f32> = (0..t)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(m, (t, total), device).map(Some)
}
