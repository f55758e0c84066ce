//! Hand-written CPU kernels: the fused operations (with their own backward passes)
//! and the vectorised loops under them.
//!
//! They are here, apart from the model files, because a reader who comes for the
//! GPT (`config`, `attention`, `block`, `cache`, `model`, `decode`, `train`,
//! `optim`, `sample`, `checkpoint`) should not have to read them: each model file
//! calls one of these as it would call a candle op, and each kernel has a composite
//! of plain candle ops beside it that is its reference in the tests. They exist
//! for speed only (NOTES.md: candle's CPU autograd allocates, zero-fills and
//! accumulates per op; see BENCHMARKS.md for what each one buys).
//!
//! - [`attention_op`]: causal attention, forward and backward, in one op.
//! - [`linear`], [`layer_norm`], [`loss`]: linear layers, LayerNorm and
//!   cross-entropy as fused ops; [`causal_softmax`]: the masked softmax composite.
//! - [`gemm`], [`packed`]: matrix products on strided views and pre-packed weights.
//! - [`rows`]: row reductions and `exp`, written to vectorise.
//! - [`cpu`]: the one place a kernel's CPU entry reads a tensor as a slice.

pub(crate) mod attention_op;
pub(crate) mod causal_softmax;
pub(crate) mod cpu;
pub(crate) mod gemm;
pub(crate) mod layer_norm;
pub(crate) mod linear;
pub(crate) mod loss;
pub(crate) mod packed;
pub(crate) mod rows;
