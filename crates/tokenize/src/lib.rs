/*!
Bar <-> token discretisation for candlecast: one token per OHLCV bar, so a GPT sees
a price series as a sequence of ids and every id decodes back into a valid bar.

# The scheme

For bar t with previous close `C[t-1]`:

- **Scale** `sigma_t`: EWMA volatility (`ewma_lambda`, default 0.94) of close
  log-returns of the bars *before* t. A segment (series start, or after a gap)
  starts from a prior variance — the fitted initial variance at a series start, the
  variance reached before the gap after one — weighted as `warmup_prior_bars` (2)
  returns: until the EWMA weight is reached the variance is the running mean of
  squared returns shrunk towards the prior. With `scale = "reverting"` (default)
  every step blends the EWMA towards the series' own long-run level, a slow EWMA of
  its squared returns: `var' = (1 - reversion) ewma + reversion level` (0.15;
  half-life of the level `long_run_halflife`, 200 bars), so a forecast rollout's
  scale forgets extreme draws instead of compounding them; `scale = "ewma"` is the
  plain EWMA. The variance has a floor of 1e-6 times the initial variance. See
  [`VolState`].
- **Return** `z = ln(C[t] / C[t-1]) / sigma_t` in `return_bins` (64) bins: a bin
  for an exact zero return (25% of 1-minute FX bars), bins of the negative and of
  the positive values inside `+-return_clip` (32 scale units; the sides share the
  61 inner bins by their counts), and two tail bins outside. Inner bins are
  equal-frequency with a width cap: none starting at `|z| = a` is wider than
  `max(return_max_width, return_max_rel_width * a)` (0.5, 0.25). Plain
  equal-frequency bins left one bin for all of |z| in about [2.8, 8] and a tail
  beyond, and fat tails (|z| up to 74 on real files) then gave a reconstruction
  RMSE of 0.29-0.48 scale units; with the cap about 17 bins a side stay
  equal-frequency (|z| < ~2) and the rest grow geometrically out to the clip, and
  the RMSE is 0.05-0.12 on every shared file. A sampled tail bar is an
  exponential beyond the clip with the tail's median as its median, cut at the
  most extreme fitted return, so a rollout never draws a bar beyond what the
  fitting bars held.
- **Wick range** `(ln(H/L) - |ln(C/O)|) / sigma_t`, the high-low range less the
  body, in `wick_bins` (4) equal-frequency bins, bin 0 holding exactly zero when
  bars without wicks are common. Given the return and the open this carries the
  intrabar range (range = body + wicks), and unlike the range itself it is
  independent of them, so every combination of bins is a bar and decoding is an
  exact inverse of binning.
- **Shape** (4 codes): open at the previous close with the upper wick not longer /
  longer than the lower one; open below / above the previous close (gap down / up).
- **Volume** (off by default, `volume_bins = 1`): volume over its EWMA level of the
  bars before t, equal-frequency; off when the training volume is all zero.

Besides the token, [`Tokenizer::input_ids`] gives per-token ids of the model's
extra input channels (off by default): the calendar (`calendar = true`: time of
day, day of week in the series' zone), relative volume (`volume_input_bins`) and
the volatility regime (`regime_input_bins`: the scale against its long-run level
and against the bars' ranges, see [`regime`]); see [`inputs`].

Token id = 2 + ((return * wick_bins + wick) * 4 + shape) * volume_bins + volume,
after the specials [`TokenId::START`] (0, stands for the first bar, whose close
anchors the next return) and [`TokenId::GAP`] (1, before the first bar after a
gap). Defaults: 2 + 64 x 4 x 4 = 1026 ids. Bin representatives are within-bin
medians of the training values (nudged 1e-7 inside the bin's edges).

A bar follows a **gap** when it comes more than `gap_multiple` (10) times the
series' interval after the previous bar; the interval is the lower median of the
series' first 32 spacings, so only past timestamps decide. The gap token goes
before the bar, the bar's return is still encoded (from the close before the gap),
and the scale warm-up restarts without that return.

Nothing looks ahead: the tokens and scales of bars up to t depend on bars up to t
only, and [`Tokenizer::fit`] sees only the series it is given.

# Example

```
use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_tokenize::{DecodeMode, TokenId, Tokenizer, TokenizerConfig};

let bars: Vec<Bar> = (0..300)
    .map(|i| {
        let c = 100.0 * (1.0 + 0.01 * ((i * 7 % 13) as f64 - 6.0) / 6.0);
        Bar { ts: Timestamp(i * 60_000), open: c, high: c * 1.002, low: c * 0.997, close: c, volume: 1.0 }
    })
    .collect();
let series = Series::from_bars(None, SourceZone::Utc, &bars)?;
let tok = Tokenizer::fit(&TokenizerConfig::default(), &[series.slice(0..240)])?;
let enc = tok.encode(&series);
assert_eq!(enc.tokens[0], TokenId::START);
assert_eq!(enc.tokens.len(), series.len());
let bar = tok.decode(series.close()[10], enc.scale[11], enc.tokens[11], DecodeMode::Representative)?;
assert!(bar.check().is_ok());
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

mod config;
mod error;
pub mod inputs;
mod persist;
mod quantize;
pub mod regime;
mod scale;
mod smooth;
pub mod stats;
mod tokenizer;
mod volume;

/// Re-exported because [`DecodeMode::Sampled`] draws from one.
pub use candlecast_rand::Rng;
/// The name the tokenizer's generator had before it became the shared [`Rng`]; kept
/// so callers and tests written against it still compile.
pub use candlecast_rand::Rng as SplitMix64;
pub use config::{ScaleKind, TokenizerConfig, MAX_VOCAB, SHAPE_CODES};
pub use error::TokenizeError;
pub use persist::FORMAT_VERSION;
pub use scale::VolState;
pub use tokenizer::{DecodeMode, Encoded, Factors, TokenId, Tokenizer};
