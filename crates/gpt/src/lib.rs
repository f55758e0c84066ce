/*!
A small decoder-only GPT in candle that sees token ids, nothing about markets.

# Brief overview

- [`GptConfig`]: the shape (`norm = post|pre`, `activation = relu|gelu`, ...).
- [`Gpt`]: embeddings, [`Block`]s of [`CausalSelfAttention`] and [`Mlp`], a head.
  [`Gpt::forward`] takes `(tokens, pos, &mut KvCache)`: a full pass and an
  incremental decode step are the same call.
- Extra input channels ([`InputChannel`], off by default): per-position ids whose
  embeddings are summed into the token embedding ([`Gpt::forward_with`]); what they
  mean (calendar, volume) is the caller's business.
- [`KvCache`]: per-layer keys and values, owned by the caller.
- [`Decoder`]: a decode session over a batch that slides the window when the cache
  reaches the context limit.
- `kernels/` (private): the fused CPU ops the model files call like candle ops,
  each with a composite reference; read the model files without them.

# Example

```
use candle_core::{Device, Tensor};
use candlecast_gpt::{Gpt, GptConfig};

let cfg = GptConfig::tiny(32);
let (model, _vars) = Gpt::init(&cfg, 42, &Device::Cpu)?;
let tokens = Tensor::new(&[[1u32, 2, 3]], &Device::Cpu)?;
let logits = model.forward(&tokens, 0, &mut model.new_cache())?;
assert_eq!(logits.dims(), &[1, 3, 32]);
# Ok::<(), candlecast_gpt::GptError>(())
```
*/

mod attention;
mod block;
mod cache;
pub mod checkpoint;
mod config;
mod decode;
mod ema;
mod error;
mod kernels;
mod model;
mod optim;
mod sample;
mod train;

pub use attention::CausalSelfAttention;
pub use block::{Block, Mlp};
pub use cache::KvCache;
/// Re-exported because a [`TrainState`] holds one and every sampler draws from one.
pub use candlecast_rand::Rng;
pub use config::{Activation, GptConfig, InputChannel, Norm};
pub use decode::Decoder;
pub use ema::Ema;
pub use error::{GptError, Result, RunMismatch};
pub use kernels::attention_op::{causal_attention, causal_attention_composite};
pub use kernels::causal_softmax::{causal_mask, causal_softmax_composite};
pub use kernels::layer_norm::{layer_norm_composite, LayerNorm};
pub use kernels::linear::{add_rows, Linear};
pub use kernels::loss::{cross_entropy, soft_cross_entropy, SoftTargets};
pub use model::{in_pool, Gpt};
pub use optim::{AdamW, AdamWParams};
pub use sample::Sampling;
pub use train::{
    is_frozen, CurvePoint, Event, TokenData, TrainConfig, TrainState, Trainer, Window, Windows,
};
