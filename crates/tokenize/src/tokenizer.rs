//! [`Tokenizer`]: fit on training series, encode a series to tokens, decode a token
//! back to a bar.

use crate::config::{ScaleKind, TokenizerConfig, SHAPE_CODES};
use crate::error::TokenizeError;
use crate::quantize::{fit_nonneg, fit_returns, BinLut, Quantizer, ReturnGrid, MARGIN};
use crate::scale::{ln_ratio, GapRule, VolParams, VolState};
use crate::volume::volume_ratio;
use candlecast_data::{Bar, Series, Timestamp};
use candlecast_rand::Rng;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// Special tokens come first; bar tokens start here.
const SPECIALS: u32 = 2;

/// Keeps the two wick-share codes apart by this much when decoding.
const SHARE_MARGIN: f64 = 1e-3;

/// Initial variance used when the training returns are all exactly zero.
const FALLBACK_VARIANCE: f64 = 1e-8;

/// One token id. Ids `0..vocab_size()`: [`TokenId::START`], [`TokenId::GAP`], then
/// the bar tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(pub u32);

impl TokenId {
    /// Stands for the first bar of a series: the anchor whose close the next bar's
    /// return is measured from.
    pub const START: TokenId = TokenId(0);
    /// Goes before the first bar after a gap (the scale warm-up restarts there).
    pub const GAP: TokenId = TokenId(1);
    /// How many ids the specials take at the bottom of the vocabulary (`START`,
    /// `GAP`); bar tokens follow them.
    pub const SPECIALS: u32 = SPECIALS;

    pub fn is_special(self) -> bool {
        self.0 < SPECIALS
    }
}

/// The factor bins of a bar token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factors {
    /// Close-return bin, ascending in z; `0` and `return_bins - 1` are the tails.
    pub return_bin: usize,
    /// Wick-range bin, ascending.
    pub wick_bin: usize,
    /// 0: open at the previous close, upper wick not longer than the lower one;
    /// 1: open at the previous close, upper wick longer; 2: open below the previous
    /// close (gap down); 3: open above it (gap up).
    pub shape: usize,
    /// Volume bin (relative to the volume EWMA), ascending; always 0 when off.
    pub volume_bin: usize,
}

/// A series as tokens, with the scale each token was measured in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Encoded {
    /// `START`, then one token per later bar, with `GAP` before a bar after a gap.
    pub tokens: Vec<TokenId>,
    /// Per token: the scale sigma_t the bar was measured in (for `START` and `GAP`,
    /// the scale the next bar will be measured in). Decode `tokens[i]` with
    /// `scale[i]` and the close of bar `bar[i] - 1`.
    pub scale: Vec<f64>,
    /// Per token: the index of the bar it describes (`START`: bar 0; `GAP`: the bar
    /// after the gap).
    pub bar: Vec<u32>,
    /// The scale of the bar after the last one (from every bar of the series): what
    /// a forecast decodes its first step with.
    pub next_scale: f64,
}

impl Encoded {
    fn with_capacity(n: usize) -> Encoded {
        Encoded {
            tokens: Vec::with_capacity(n),
            scale: Vec::with_capacity(n),
            bar: Vec::with_capacity(n),
            next_scale: f64::NAN,
        }
    }

    #[inline]
    fn push(&mut self, token: u32, scale: f64, bar: usize) {
        self.tokens.push(TokenId(token));
        self.scale.push(scale);
        self.bar.push(bar as u32);
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// How [`Tokenizer::decode`] picks values inside a token's bins.
#[derive(Debug)]
pub enum DecodeMode<'a> {
    /// The bins' representatives (the medians seen in fitting).
    Representative,
    /// A draw inside each bin (uniform, or an exponential tail for unbounded bins,
    /// with the representative as its median; a close-return tail stops at the
    /// most extreme return the tokenizer was fitted on), from the caller's seeded
    /// generator.
    Sampled(&'a mut Rng),
}

/// Representatives of the shape codes: open gap and upper share of the wicks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ShapeReps {
    /// Open gap ln(open / prev close) in scale units; 0 for codes 0 and 1.
    pub(crate) gap: [f64; SHAPE_CODES],
    /// Upper wick / (upper + lower wick), in [0, 1].
    pub(crate) share: [f64; SHAPE_CODES],
}

/// Everything a fitted tokenizer is; what `save` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub(crate) config: TokenizerConfig,
    /// Prior variance of close log-returns at a series start.
    pub(crate) initial_variance: f64,
    pub(crate) returns: Quantizer,
    pub(crate) wick: Quantizer,
    pub(crate) shape: ShapeReps,
    pub(crate) volume: Quantizer,
    /// Bins of the relative-volume input (`volume_input_bins`), when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) volume_input: Option<Quantizer>,
    /// Bins of the two regime inputs (`regime_input_bins`), when they are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) regime_input: Option<[Quantizer; 2]>,
}

/// A fitted bar <-> token map. See the crate docs for the scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    pub(crate) state: State,
    /// Derived from `state.returns`: O(1) return-bin lookup for encoding.
    returns_lut: BinLut,
    n_wick: usize,
    n_vol: usize,
    vocab: usize,
}

/// Raw factors of one bar, before binning.
struct BarFactors {
    bar: usize,
    scale: f64,
    /// ln(C_t / C_{t-1}) / scale.
    z: f64,
    /// (range - body) / scale.
    wick: f64,
    /// ln(O_t / C_{t-1}) / scale.
    gap: f64,
    /// Unscaled log wicks.
    upper: f64,
    lower: f64,
    /// Volume / its EWMA level before t (only when the volume factor is on).
    volume_ratio: f64,
}

/// Receives the tokens of a walk over a series, in order.
trait Sink {
    type Error;
    /// The scale to measure the token at `pos` in, given the series' own scale.
    fn scale(&mut self, pos: usize, own: f64) -> Result<f64, Self::Error>;
    /// Bar 0 (the `START` anchor).
    fn start(&mut self, scale: f64);
    /// A gap before bar `bar`.
    fn gap(&mut self, bar: usize, scale: f64);
    /// A bar after bar 0.
    fn bar(&mut self, f: &BarFactors);
}

/// What a walk needs before any bins exist.
struct WalkParams {
    vol: VolParams,
    gap_multiple: f64,
    volume: Option<f64>,
}

/// Walks a series bar by bar with the causal scale and gap rule, handing `sink`
/// each token's factors. Returns the scale after the last bar.
#[inline(always)]
fn walk<S: Sink>(p: &WalkParams, s: &Series, sink: &mut S) -> Result<f64, S::Error> {
    let (ts, open, high, low, close, volume) = (
        s.timestamps(),
        s.open(),
        s.high(),
        s.low(),
        s.close(),
        s.volume(),
    );
    let n = ts
        .len()
        .min(open.len())
        .min(high.len())
        .min(low.len())
        .min(close.len())
        .min(volume.len());
    let mut vol = VolState::new(&p.vol);
    if n == 0 {
        return Ok(vol.scale());
    }
    let mut gaps = GapRule::new(p.gap_multiple);
    let mut pos = 0usize;
    let scale = sink.scale(pos, vol.scale())?;
    sink.start(scale);
    pos += 1;
    let mut level = volume[0];
    let mut prev_close = close[0];
    for t in 1..n {
        let gap = gaps.step(ts[t].0 - ts[t - 1].0);
        if gap {
            // The restart itself happens in `vol.step` after the bar: it leaves the
            // variance (the scale read here) as it is.
            let scale = sink.scale(pos, vol.scale())?;
            sink.gap(t, scale);
            pos += 1;
        }
        let scale = sink.scale(pos, vol.scale())?;
        pos += 1;
        let inv = 1.0 / scale;
        let (o, h, l, c) = (open[t], high[t], low[t], close[t]);
        // Branch-free: ln_ratio(x, x) is exactly 0, and whether a bar has wicks or
        // an open gap is as good as random to the branch predictor.
        let d = ln_ratio(c, prev_close);
        let g = ln_ratio(o, prev_close);
        let (body_hi, body_lo) = (o.max(c), o.min(c));
        let upper = ln_ratio(h, body_hi).max(0.0);
        let lower = ln_ratio(body_lo, l).max(0.0);
        let volume_ratio = match p.volume {
            Some(lambda) => volume_ratio(&mut level, lambda, volume[t]),
            None => 1.0,
        };
        sink.bar(&BarFactors {
            bar: t,
            scale,
            z: d * inv,
            wick: (upper + lower) * inv,
            gap: g * inv,
            upper,
            lower,
            volume_ratio,
        });
        // The return across a gap spans many intervals: it is tokenized, but it does
        // not feed the variance of the new segment.
        vol.step(gap, d, h, l);
        prev_close = c;
    }
    Ok(vol.scale())
}

#[inline]
fn shape_code(gap: f64, upper: f64, lower: f64) -> usize {
    // 0/1 (flat open: is the upper wick longer?) or 2/3 (gap down/up), without
    // branches.
    let flat = usize::from(gap == 0.0);
    flat * usize::from(upper > lower) + (1 - flat) * (2 + usize::from(gap > 0.0))
}

fn median_sorted(v: &[f64]) -> Option<f64> {
    match v {
        [] => None,
        s => Some((s[(s.len() - 1) / 2] + s[s.len() / 2]) / 2.0),
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// A finite positive price: NaN becomes `fallback`, overflow `f64::MAX`,
/// underflow the smallest normal number.
#[inline]
fn price(x: f64, fallback: f64) -> f64 {
    if x.is_nan() {
        fallback
    } else {
        x.clamp(f64::MIN_POSITIVE, f64::MAX)
    }
}

/// Collects the raw factors of the training bars.
struct Collector {
    volume_on: bool,
    z: Vec<f64>,
    wick: Vec<f64>,
    ratio: Vec<f64>,
    gaps: [Vec<f64>; SHAPE_CODES],
    shares: [Vec<f64>; SHAPE_CODES],
}

impl Sink for Collector {
    type Error = Infallible;

    fn scale(&mut self, _: usize, own: f64) -> Result<f64, Infallible> {
        Ok(own)
    }

    fn start(&mut self, _: f64) {}

    fn gap(&mut self, _: usize, _: f64) {}

    fn bar(&mut self, f: &BarFactors) {
        self.z.push(f.z);
        self.wick.push(f.wick);
        if self.volume_on {
            self.ratio.push(f.volume_ratio);
        }
        let code = shape_code(f.gap, f.upper, f.lower);
        let total = f.upper + f.lower;
        let share = if total > 0.0 { f.upper / total } else { 0.5 };
        self.gaps[code].push(f.gap);
        self.shares[code].push(share);
    }
}

impl Collector {
    /// Walks every training series with the fitted scale prior. Volume ratios are
    /// kept only when the volume factor is on, so a volume-less corpus costs
    /// nothing for them.
    fn collect(
        config: &TokenizerConfig,
        series: &[Series],
        initial_variance: f64,
        volume_on: bool,
    ) -> Collector {
        let params = WalkParams {
            vol: vol_params(config, initial_variance),
            gap_multiple: config.gap_multiple,
            volume: volume_on.then_some(config.volume_lambda),
        };
        let bars: usize = series.iter().map(|s| s.len().saturating_sub(1)).sum();
        let mut c = Collector {
            volume_on,
            z: Vec::with_capacity(bars),
            wick: Vec::with_capacity(bars),
            ratio: Vec::with_capacity(if volume_on { bars } else { 0 }),
            gaps: Default::default(),
            shares: Default::default(),
        };
        for s in series {
            let Ok(_) = walk(&params, s, &mut c);
        }
        c
    }
}

/// The representatives of the shape codes: medians of what training put in each
/// code, kept inside the code's own range (a gap code never decodes to a flat
/// open, a wick code never to the other code's side) so that decoding and
/// re-encoding a bar gives the same code. A code never seen keeps its default.
fn fit_shape(mut gaps: [Vec<f64>; SHAPE_CODES], mut shares: [Vec<f64>; SHAPE_CODES]) -> ShapeReps {
    let mut shape = ShapeReps {
        gap: [0.0; SHAPE_CODES],
        share: [0.25, 0.75, 0.5, 0.5],
    };
    for code in 0..SHAPE_CODES {
        let g = sorted(std::mem::take(&mut gaps[code]));
        let sh = sorted(std::mem::take(&mut shares[code]));
        shape.gap[code] = match code {
            2 => median_sorted(&g).unwrap_or(-1.0).min(-MARGIN),
            3 => median_sorted(&g).unwrap_or(1.0).max(MARGIN),
            _ => 0.0,
        };
        let share = median_sorted(&sh).unwrap_or(shape.share[code]);
        shape.share[code] = match code {
            0 => share.clamp(0.0, 0.5 - SHARE_MARGIN),
            1 => share.clamp(0.5 + SHARE_MARGIN, 1.0),
            _ => share.clamp(0.0, 1.0),
        };
    }
    shape
}

/// Bins each bar's factors into its token.
struct Encoder<'a, P> {
    tok: &'a Tokenizer,
    enc: Encoded,
    pick: P,
}

impl<E, P: FnMut(usize, f64) -> Result<f64, E>> Sink for Encoder<'_, P> {
    type Error = E;

    #[inline(always)]
    fn scale(&mut self, pos: usize, own: f64) -> Result<f64, E> {
        (self.pick)(pos, own)
    }

    #[inline(always)]
    fn start(&mut self, scale: f64) {
        self.enc.push(TokenId::START.0, scale, 0);
    }

    #[inline(always)]
    fn gap(&mut self, bar: usize, scale: f64) {
        self.enc.push(TokenId::GAP.0, scale, bar);
    }

    #[inline(always)]
    fn bar(&mut self, f: &BarFactors) {
        let t = self.tok;
        let st = &t.state;
        let r = t.returns_lut.bin(&st.returns, f.z);
        let w = if t.n_wick > 1 { st.wick.bin(f.wick) } else { 0 };
        let v = if t.n_vol > 1 {
            st.volume.bin(f.volume_ratio)
        } else {
            0
        };
        let code = shape_code(f.gap, f.upper, f.lower);
        let i = ((r * t.n_wick + w) * SHAPE_CODES + code) * t.n_vol + v;
        self.enc.push(SPECIALS + i as u32, f.scale, f.bar);
    }
}

impl Tokenizer {
    /// Fits the scale prior and every bin on `series`, which should be training
    /// data only: nothing else is looked at.
    pub fn fit(config: &TokenizerConfig, series: &[Series]) -> Result<Tokenizer, TokenizeError> {
        config.validate()?;
        let initial_variance = initial_variance(config, series)?;
        let volume_on =
            config.volume_bins > 1 && series.iter().any(|s| s.volume().iter().any(|&v| v > 0.0));
        let Collector {
            z,
            wick,
            ratio,
            gaps,
            shares,
            ..
        } = Collector::collect(config, series, initial_variance, volume_on);
        if z.is_empty() {
            return Err(TokenizeError::NoTrainingData(
                "no bar after a series' first one (every series needs at least 2 bars)",
            ));
        }
        let returns = fit_returns(
            &sorted(z),
            ReturnGrid {
                bins: config.return_bins as usize,
                clip: config.return_clip,
                max_width: config.return_max_width,
                max_rel_width: config.return_max_rel_width,
                zero_bin: config.zero_return_bin,
            },
        );
        let wick = fit_nonneg(&sorted(wick), config.wick_bins as usize);
        let volume = if volume_on {
            fit_nonneg(&sorted(ratio), config.volume_bins as usize)
        } else {
            Quantizer::single(1.0, true)
        };
        let shape = fit_shape(gaps, shares);
        Tokenizer::from_state(State {
            config: config.clone(),
            initial_variance,
            returns,
            wick,
            shape,
            volume,
            volume_input: crate::volume::fit_volume(
                config.volume_input_bins,
                config.volume_lambda,
                series,
            ),
            regime_input: crate::regime::fit_regime(
                config.regime_input_bins,
                &vol_params(config, initial_variance),
                config.gap_multiple,
                config.ewma_lambda,
                series,
            ),
        })
        .map_err(TokenizeError::Inconsistent)
    }

    /// Builds the derived sizes from a state and checks it (a loaded file is
    /// untrusted).
    pub(crate) fn from_state(state: State) -> Result<Tokenizer, String> {
        state.config.validate().map_err(|e| e.to_string())?;
        let c = &state.config;
        if !(state.initial_variance.is_finite() && state.initial_variance > 0.0) {
            return Err(format!(
                "initial_variance {} is not finite and > 0",
                state.initial_variance
            ));
        }
        state.returns.validate("returns", c.return_bins as usize)?;
        if state.returns.nonneg {
            return Err("returns: marked non-negative".into());
        }
        state.wick.validate("wick", c.wick_bins as usize)?;
        let n_vol = state.volume.bins();
        if n_vol != 1 && n_vol != c.volume_bins as usize {
            return Err(format!(
                "volume: {n_vol} bins, config says {}",
                c.volume_bins
            ));
        }
        state.volume.validate("volume", n_vol)?;
        match (&state.volume_input, c.volume_input_bins) {
            (None, 0) => {}
            (Some(q), n) if n > 0 => {
                q.validate("volume_input", n as usize)?;
                if !q.nonneg {
                    return Err("volume_input: must be non-negative".into());
                }
            }
            (_, n) => {
                return Err(format!(
                    "volume_input: bins present or missing for volume_input_bins = {n}"
                ))
            }
        }
        match (&state.regime_input, c.regime_input_bins) {
            (None, 0) => {}
            (Some(qs), n) if n > 0 => {
                for (q, name) in qs.iter().zip(["regime_input[0]", "regime_input[1]"]) {
                    q.validate(name, n as usize)?;
                    if !q.nonneg {
                        return Err(format!("{name}: must be non-negative"));
                    }
                }
            }
            (_, n) => {
                return Err(format!(
                    "regime_input: bins present or missing for regime_input_bins = {n}"
                ))
            }
        }
        if !(state.wick.nonneg && state.volume.nonneg) {
            return Err("wick and volume factors must be non-negative".into());
        }
        let g = &state.shape;
        if g.gap.iter().chain(&g.share).any(|x| !x.is_finite())
            || g.share.iter().any(|s| !(0.0..=1.0).contains(s))
        {
            return Err("shape: representatives out of range".into());
        }
        let n_wick = state.wick.bins();
        let vocab = SPECIALS as usize + state.returns.bins() * n_wick * SHAPE_CODES * n_vol;
        Ok(Tokenizer {
            returns_lut: BinLut::new(&state.returns),
            state,
            n_wick,
            n_vol,
            vocab,
        })
    }

    fn walk_params(&self) -> WalkParams {
        let c = &self.state.config;
        WalkParams {
            vol: vol_params(c, self.state.initial_variance),
            gap_multiple: c.gap_multiple,
            volume: (self.n_vol > 1).then_some(c.volume_lambda),
        }
    }

    /// Number of token ids, specials included.
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    pub fn config(&self) -> &TokenizerConfig {
        &self.state.config
    }

    /// The scale a series starts with (square root of the fitted initial variance).
    pub fn initial_scale(&self) -> f64 {
        self.state.initial_variance.sqrt()
    }

    /// Number of close-return bins (the two tails included).
    pub fn return_bins(&self) -> usize {
        self.state.returns.bins()
    }

    /// Whether the volume factor is in use (on in the config and volume seen).
    pub fn volume_factor(&self) -> bool {
        self.n_vol > 1
    }

    /// A scale state at the start of a series, for callers that extend a series bar
    /// by bar (forecast rollouts): `observe` each new close-to-close log-return.
    pub fn scale_state(&self) -> VolState {
        VolState::new(&self.vol_params())
    }

    pub(crate) fn vol_params(&self) -> VolParams {
        vol_params(&self.state.config, self.state.initial_variance)
    }

    /// The factor bins of a bar token; `None` for specials and unknown ids.
    pub fn factors(&self, token: TokenId) -> Option<Factors> {
        if token.is_special() || token.0 as usize >= self.vocab {
            return None;
        }
        let mut i = (token.0 - SPECIALS) as usize;
        let volume_bin = i % self.n_vol;
        i /= self.n_vol;
        let shape = i % SHAPE_CODES;
        i /= SHAPE_CODES;
        Some(Factors {
            return_bin: i / self.n_wick,
            wick_bin: i % self.n_wick,
            shape,
            volume_bin,
        })
    }

    /// The token of a set of factor bins; `None` when a bin is out of range.
    pub fn token(&self, f: Factors) -> Option<TokenId> {
        if f.return_bin >= self.return_bins()
            || f.wick_bin >= self.n_wick
            || f.shape >= SHAPE_CODES
            || f.volume_bin >= self.n_vol
        {
            return None;
        }
        let i = ((f.return_bin * self.n_wick + f.wick_bin) * SHAPE_CODES + f.shape) * self.n_vol
            + f.volume_bin;
        Some(TokenId(SPECIALS + i as u32))
    }

    /// Whether a token's close return is in one of the two tail bins.
    pub fn is_tail(&self, token: TokenId) -> bool {
        self.factors(token)
            .is_some_and(|f| f.return_bin == 0 || f.return_bin + 1 == self.return_bins())
    }

    /// The representative close return of a token, in scale units (`None` for
    /// specials and unknown ids).
    pub fn return_representative(&self, token: TokenId) -> Option<f64> {
        self.factors(token)
            .map(|f| self.state.returns.rep(f.return_bin))
    }

    /// Encodes a series: `START` for bar 0, then one token per bar (with `GAP`
    /// before a bar after a gap), each measured in the scale from the bars before it.
    pub fn encode(&self, series: &Series) -> Encoded {
        match self.encode_core(series, |_, own| Ok::<f64, Infallible>(own)) {
            Ok(e) => e,
            Err(never) => match never {},
        }
    }

    /// Encodes a series measuring token `i` in `scale[i]` instead of the series' own
    /// scale (same length as the series' encoding). Used to check that decoding is
    /// the inverse of encoding: re-encoding decoded bars in the scales they were
    /// decoded with gives the tokens back.
    pub fn encode_with_scale(
        &self,
        series: &Series,
        scale: &[f64],
    ) -> Result<Encoded, TokenizeError> {
        let enc = self.encode_core(series, |pos, _| match scale.get(pos) {
            Some(&s) if s.is_finite() && s > 0.0 => Ok(s),
            Some(&s) => Err(TokenizeError::ScaleSequence(format!(
                "scale[{pos}] = {s} is not finite and > 0"
            ))),
            None => Err(TokenizeError::ScaleSequence(format!(
                "{} scales for a series that needs more",
                scale.len()
            ))),
        })?;
        if enc.len() != scale.len() {
            return Err(TokenizeError::ScaleSequence(format!(
                "{} scales for {} tokens",
                scale.len(),
                enc.len()
            )));
        }
        Ok(enc)
    }

    fn encode_core<E>(
        &self,
        series: &Series,
        pick: impl FnMut(usize, f64) -> Result<f64, E>,
    ) -> Result<Encoded, E> {
        let mut sink = Encoder {
            tok: self,
            enc: Encoded::with_capacity(series.len() + 8),
            pick,
        };
        let next = walk(&self.walk_params(), series, &mut sink)?;
        let mut enc = sink.enc;
        enc.next_scale = next;
        Ok(enc)
    }

    /// Decodes one token into a bar from the previous close and the scale, both
    /// finite and > 0. The close comes from the return bin, the open from the shape
    /// code's gap, the high and low from the wick range split by the shape code's
    /// wick share; the bar is always valid (high >= max(open, close), low <=
    /// min(open, close), prices finite and > 0, clamped to the f64 range at the
    /// extremes). `START` and `GAP` decode to a flat bar at `prev_close`. The
    /// volume is 0 (the volume factor is relative to a level the token does not
    /// carry) and the timestamp `Timestamp(0)`: the caller stamps the bar.
    pub fn decode(
        &self,
        prev_close: f64,
        scale: f64,
        token: TokenId,
        mode: DecodeMode<'_>,
    ) -> Result<Bar, TokenizeError> {
        if !(prev_close.is_finite() && prev_close > 0.0 && scale.is_finite() && scale > 0.0) {
            return Err(TokenizeError::DecodeInput { prev_close, scale });
        }
        if token.0 as usize >= self.vocab {
            return Err(TokenizeError::UnknownToken {
                token: token.0,
                vocab_size: self.vocab,
            });
        }
        let Some(f) = self.factors(token) else {
            return Ok(Bar {
                ts: Timestamp(0),
                open: prev_close,
                high: prev_close,
                low: prev_close,
                close: prev_close,
                volume: 0.0,
            });
        };
        let st = &self.state;
        let (z, w, g, share) = match mode {
            DecodeMode::Representative => (
                st.returns.rep(f.return_bin),
                st.wick.rep(f.wick_bin),
                st.shape.gap[f.shape],
                st.shape.share[f.shape],
            ),
            DecodeMode::Sampled(rng) => {
                let z = st.returns.sample(f.return_bin, rng);
                let w = st.wick.sample(f.wick_bin, rng);
                let u = rng.uniform();
                let rep = st.shape.gap[f.shape];
                let tail = rep.abs() * -(1.0 - u).ln() / std::f64::consts::LN_2;
                let g = match f.shape {
                    2 => (-tail).min(-MARGIN),
                    3 => tail.max(MARGIN),
                    _ => 0.0,
                };
                let u = rng.uniform();
                let share = match f.shape {
                    0 => u * (0.5 - SHARE_MARGIN),
                    1 => 0.5 + SHARE_MARGIN + u * (0.5 - SHARE_MARGIN),
                    _ => u,
                };
                (z, w, g, share)
            }
        };
        Ok(bar_from(prev_close, scale, z, w, g, share))
    }
}

/// The bar with close return `z`, wick range `w`, open gap `g` (scale units) and
/// upper wick share `share`, from `prev_close`.
#[inline]
fn bar_from(prev_close: f64, scale: f64, z: f64, w: f64, g: f64, share: f64) -> Bar {
    let close = price(prev_close * (z * scale).exp(), prev_close);
    let open = if g == 0.0 {
        prev_close
    } else {
        price(prev_close * (g * scale).exp(), prev_close)
    };
    let (body_hi, body_lo) = (open.max(close), open.min(close));
    let upper = (share * w) * scale;
    let lower = ((1.0 - share) * w) * scale;
    let high = if upper > 0.0 {
        price(body_hi * upper.exp(), body_hi).max(body_hi)
    } else {
        body_hi
    };
    let low = if lower > 0.0 {
        price(body_lo * (-lower).exp(), body_lo).min(body_lo)
    } else {
        body_lo
    };
    Bar {
        ts: Timestamp(0),
        open,
        high,
        low,
        close,
        volume: 0.0,
    }
}

/// The scale recursion's parameters: one place for encoding and rollouts.
fn vol_params(c: &TokenizerConfig, initial_variance: f64) -> VolParams {
    VolParams {
        initial_variance,
        lambda: c.ewma_lambda,
        prior_bars: c.warmup_prior_bars,
        reversion: match c.scale {
            ScaleKind::Ewma => 0.0,
            ScaleKind::Reverting => c.reversion,
        },
        level_lambda: c.long_run_lambda(),
        shock_cap: if c.shock_cap > 0.0 {
            c.shock_cap
        } else {
            f64::INFINITY
        },
        range_weight: match c.scale {
            ScaleKind::Ewma => 0.0,
            ScaleKind::Reverting => c.range_weight,
        },
    }
}

/// The prior variance at a series start: per series, the mean squared close
/// log-return within segments (returns across gaps left out); then the median over
/// the series.
fn initial_variance(config: &TokenizerConfig, series: &[Series]) -> Result<f64, TokenizeError> {
    let mut per_series = Vec::with_capacity(series.len());
    for s in series {
        let (ts, close) = (s.timestamps(), s.close());
        let mut gaps = GapRule::new(config.gap_multiple);
        let (mut sum, mut n) = (0.0f64, 0usize);
        for (t, c) in ts.windows(2).zip(close.windows(2)) {
            if !gaps.step(t[1].0 - t[0].0) {
                let d = ln_ratio(c[1], c[0]);
                sum += d * d;
                n += 1;
            }
        }
        if n > 0 {
            per_series.push(sum / n as f64);
        }
    }
    if per_series.is_empty() {
        return Err(TokenizeError::NoTrainingData(
            "no close-to-close return (every series needs at least 2 bars)",
        ));
    }
    let v = median_sorted(&sorted(per_series)).unwrap_or(0.0);
    Ok(if v.is_finite() && v > 0.0 {
        v
    } else {
        FALLBACK_VARIANCE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_from_is_valid_at_the_extremes() {
        for &(p, s) in &[
            (1e-300, 1e300),
            (1e300, 1e300),
            (f64::MIN_POSITIVE, 1e-300),
            (f64::MAX, 1.0),
            (1.0, f64::MAX),
        ] {
            for &z in &[-50.0, 0.0, 50.0] {
                for &g in &[-3.0, 0.0, 3.0] {
                    for &share in &[0.0, 0.3, 1.0] {
                        let b = bar_from(p, s, z, 2.0, g, share);
                        assert!(b.check().is_ok(), "{p} {s} {z} {g} {share}: {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn shape_codes() {
        assert_eq!(shape_code(0.0, 0.0, 0.0), 0);
        assert_eq!(shape_code(0.0, 1.0, 1.0), 0);
        assert_eq!(shape_code(0.0, 2.0, 1.0), 1);
        assert_eq!(shape_code(-1e-9, 2.0, 1.0), 2);
        assert_eq!(shape_code(1e-9, 0.0, 1.0), 3);
    }
}
