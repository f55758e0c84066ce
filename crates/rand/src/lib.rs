//! The randomness and hashing every candlecast crate shares. One generator and one
//! hash, in a leaf crate, so that a seed or a series names the same bits in the
//! tokenizer, the model and the forecaster, and a change to either is made once.

mod hash;
mod rng;

pub use hash::{fnv1a64, Fnv1a64};
pub use rng::Rng;
