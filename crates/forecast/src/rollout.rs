//! Autoregressive sample paths: from the last `context` tokens of a series, every
//! path samples a token, decodes it into a bar (a draw inside its bins), updates its
//! own scale with the bar's return, and feeds the token back through the KV cache.
//! All paths of a series decode as one batch; each has its own random streams,
//! derived from the seed, the series name and the path index, so a path does not
//! depend on which other paths or series are computed with it.
//!
//! A model with extra input channels (calendar, relative volume) gets their ids
//! with the prompt and at every step: a future bar's calendar comes from its
//! stamped timestamp ([`Stamper`], the stamps `forecast` writes), its volume id is
//! the neutral bin (the model predicts bars, not volume; see the tokenizer's
//! `inputs` module). The volatility-regime ids are the path's own: each row steps
//! a regime state beside its scale with every bar it draws, and feeds the ids of
//! both with its next token.

pub use crate::session::{future_timestamps, Stamper};
use candlecast_data::{Bar, Series, Timestamp};
use candlecast_gpt::{Decoder, Gpt, GptError, Sampling};
use candlecast_rand::{fnv1a64, Fnv1a64, Rng};
use candlecast_tokenize::inputs::FutureInputs;
use candlecast_tokenize::regime::RegimeState;
use candlecast_tokenize::{DecodeMode, TokenId, Tokenizer, VolState};

/// What to forecast and how to sample it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastParams {
    /// Tokens of context (at most the model's `max_ctx`).
    pub context_length: usize,
    pub horizon: usize,
    pub num_samples: usize,
    pub sampling: Sampling,
    pub seed: u64,
}

/// `paths[s][h]`: bar `h + 1` after the origin on path `s` (timestamps not set).
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    pub origin_close: f64,
    pub paths: Vec<Vec<Bar>>,
}

/// Why a forecast could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("horizon must be at least 1")]
    ZeroHorizon,
    #[error("samples must be at least 1")]
    ZeroSamples,
    #[error("the series has {bars} bars; the forecast needs at least {need} (the context)")]
    TooShort { bars: usize, need: usize },
    #[error("the model's vocabulary ({model}) does not match the tokenizer's ({tokenizer})")]
    VocabMismatch { model: usize, tokenizer: usize },
    #[error("the model's input channels ({model}) do not match the tokenizer's ({tokenizer})")]
    InputsMismatch { model: String, tokenizer: String },
    #[error("an origin lacks the input ids of the model's {channels} channels")]
    OriginInputs { channels: usize },
    #[error(transparent)]
    Model(#[from] GptError),
    #[error(transparent)]
    Tokens(#[from] candlecast_tokenize::TokenizeError),
    #[error(transparent)]
    Baseline(#[from] crate::baselines::BaselineError),
}

/// The scale state after the whole series, replaying the tokenizer's own rule
/// ([`VolState::step`]: a gap restarts the warm-up and its return is not observed).
pub fn scale_after(
    tok: &Tokenizer,
    series: &Series,
    enc: &candlecast_tokenize::Encoded,
) -> VolState {
    let mut vs = tok.scale_state();
    let mut after_gap = vec![false; series.len()];
    for (t, &b) in enc.tokens.iter().zip(&enc.bar) {
        if *t == TokenId::GAP {
            if let Some(g) = after_gap.get_mut(b as usize) {
                *g = true;
            }
        }
    }
    let (c, h, l) = (series.close(), series.high(), series.low());
    for t in 1..series.len() {
        vs.step(after_gap[t], (c[t] / c[t - 1]).ln(), h[t], l[t]);
    }
    vs
}

/// The regime state after bar `last` of `series` (`None` when off).
fn regime_after(tok: &Tokenizer, series: &Series, last: usize) -> Option<RegimeState> {
    let mut rs = tok.regime_state()?;
    for (&h, &l) in series.high().iter().zip(series.low()).take(last + 1) {
        rs.observe(h, l);
    }
    Some(rs)
}

/// A stable 64-bit hash of a name, for per-series random streams.
pub fn name_hash(name: &str) -> u64 {
    fnv1a64(name.as_bytes())
}

/// Where a set of paths starts: the context tokens up to and including the origin
/// bar, the scale state and close after it, and the key of its random streams.
#[derive(Debug, Clone)]
pub struct Origin {
    pub prompt: Vec<u32>,
    /// The prompt's input ids (`C` per token; empty for a model without channels).
    pub inputs: Vec<u32>,
    /// The input ids of the bars after the origin (`None` without channels).
    pub future: Option<FutureIds>,
    pub vol: VolState,
    /// The regime state after the origin bar (`None` when the regime inputs are off).
    pub regime: Option<RegimeState>,
    pub close: f64,
    /// Path `i` draws its tokens from `Rng::fork(key, 2i)` and its within-bin
    /// values from `Rng::fork(key, 2i + 1)`: a path never depends on its batch.
    pub key: u64,
}

/// How the bars after an origin get their input ids: stamped `stamper` apart after
/// `last`, then given ids by the tokenizer.
#[derive(Debug, Clone, PartialEq)]
pub struct FutureIds {
    pub last: Timestamp,
    pub stamper: Stamper,
    pub inputs: FutureInputs,
}

impl FutureIds {
    /// Ids of the first `horizon` bars after the origin, `C` per bar.
    pub fn ids(&self, horizon: usize) -> Vec<u32> {
        self.inputs.ids(&self.stamper.after(self.last, horizon))
    }
}

/// The model's input channels must be the tokenizer's, by name and size.
pub fn check_inputs(model: &Gpt, tok: &Tokenizer) -> Result<(), ForecastError> {
    let m: Vec<(String, usize)> = model
        .config()
        .inputs
        .iter()
        .map(|c| (c.name.clone(), c.size))
        .collect();
    let t = tok.input_channels();
    if m != t {
        let show = |v: &[(String, usize)]| match v {
            [] => "none".to_string(),
            v => v
                .iter()
                .map(|(n, s)| format!("{n}:{s}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        return Err(ForecastError::InputsMismatch {
            model: show(&m),
            tokenizer: show(&t),
        });
    }
    Ok(())
}

/// Rows (origins x samples) decoded together at most; bounds the logits buffer
/// (rows x vocabulary floats) and the cache.
pub const MAX_BATCH_ROWS: usize = 4096;

/// A stable 64-bit hash of a series' bars (FNV-1a over every bar's timestamp,
/// open, high, low, close and volume bits): its identity for random streams.
///
/// `forecast` keys a series' paths by this, not by the path the file was given as:
/// `data/x.csv`, `./data/x.csv` and a copy of the file hold the same bars and get
/// the same forecast, while any change to a bar (the only thing that can change
/// the forecast itself) gives other streams. The bars, not the file name, because
/// a name says nothing about content (two files called `spx.csv` in two folders
/// may differ) and one series may travel under many names. With `--origin` the
/// bars hashed are those up to the origin, so the forecast (random streams
/// included) depends on nothing after it.
pub fn series_key(series: &Series) -> u64 {
    let mut h = Fnv1a64::new();
    let cols = [
        series.open(),
        series.high(),
        series.low(),
        series.close(),
        series.volume(),
    ];
    for (i, t) in series.timestamps().iter().enumerate() {
        h.write_u64(t.0 as u64);
        for col in cols {
            h.write_u64(col.get(i).map_or(0, |v| v.to_bits()));
        }
    }
    h.finish()
}

/// The origin after the last bar of `series`, keyed by `seed` and the series' name.
pub fn origin_at_end(
    model: &Gpt,
    tok: &Tokenizer,
    name: &str,
    series: &Series,
    context_length: usize,
    seed: u64,
) -> Result<Origin, ForecastError> {
    origin_at_end_keyed(model, tok, series, context_length, seed ^ name_hash(name))
}

/// [`origin_at_end`] with its random streams keyed by `key` (e.g. the seed and
/// [`series_key`]).
pub fn origin_at_end_keyed(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    context_length: usize,
    key: u64,
) -> Result<Origin, ForecastError> {
    let ctx = context_length.clamp(1, model.config().max_ctx);
    if series.len() < ctx + 1 {
        return Err(ForecastError::TooShort {
            bars: series.len(),
            need: ctx + 1,
        });
    }
    let enc = tok.encode(series);
    let start = enc.len().saturating_sub(ctx);
    let last_close = *series.close().last().ok_or(ForecastError::TooShort {
        bars: 0,
        need: ctx + 1,
    })?;
    let c = tok.n_inputs();
    let inputs = tok.input_ids(series, &enc)?;
    let last = series.len() - 1;
    Ok(Origin {
        prompt: enc.tokens[start..].iter().map(|t| t.0).collect(),
        inputs: inputs.get(start * c..).map_or(vec![], <[u32]>::to_vec),
        future: future_ids(tok, series, last, &Stamper::of(series))?,
        vol: scale_after(tok, series, &enc),
        regime: regime_after(tok, series, last),
        close: last_close,
        key,
    })
}

/// The future input ids after bar `origin` (`None` when the tokenizer has no
/// input channels).
fn future_ids(
    tok: &Tokenizer,
    series: &Series,
    origin: usize,
    stamper: &Stamper,
) -> Result<Option<FutureIds>, ForecastError> {
    let Some(inputs) = tok.future_inputs(series, origin)? else {
        return Ok(None);
    };
    Ok(series.timestamps().get(origin).map(|&last| FutureIds {
        last,
        stamper: stamper.clone(),
        inputs,
    }))
}

/// Origins after each bar in `bars` (ascending) of one series, from a single
/// encoding and a single pass of the scale recursion. Each prompt holds the last
/// `context_length` tokens up to the origin bar (fewer near the series start).
/// Future bars are stamped with the interval of the whole series (a property of
/// the file, like its zone, not of its prices).
pub fn origins_at(
    tok: &Tokenizer,
    series: &Series,
    bars: &[usize],
    context_length: usize,
    key: impl Fn(usize) -> u64,
) -> Result<Vec<Origin>, ForecastError> {
    let enc = tok.encode(series);
    let c = tok.n_inputs();
    let inputs = tok.input_ids(series, &enc)?;
    let stamper = Stamper::of(series);
    let mut last_token = vec![usize::MAX; series.len()];
    let mut after_gap = vec![false; series.len()];
    for (i, (t, &b)) in enc.tokens.iter().zip(&enc.bar).enumerate() {
        if let Some(slot) = last_token.get_mut(b as usize) {
            *slot = i;
        }
        if *t == TokenId::GAP {
            if let Some(g) = after_gap.get_mut(b as usize) {
                *g = true;
            }
        }
    }
    let (close, high, low) = (series.close(), series.high(), series.low());
    let mut vs = tok.scale_state();
    let mut rs = tok.regime_state();
    if let (Some(r), Some(&h), Some(&l)) = (rs.as_mut(), high.first(), low.first()) {
        r.observe(h, l);
    }
    let mut next = 0usize;
    let mut out = Vec::with_capacity(bars.len());
    for (k, &o) in bars.iter().enumerate() {
        if o >= series.len() {
            break;
        }
        while next < o {
            next += 1;
            vs.step(
                after_gap[next],
                (close[next] / close[next - 1]).ln(),
                high[next],
                low[next],
            );
            if let Some(r) = rs.as_mut() {
                r.observe(high[next], low[next]);
            }
        }
        let end = last_token[o].saturating_add(1).min(enc.len());
        let start = end.saturating_sub(context_length.max(1));
        out.push(Origin {
            prompt: enc.tokens[start..end].iter().map(|t| t.0).collect(),
            inputs: inputs
                .get(start * c..end * c)
                .map_or(vec![], <[u32]>::to_vec),
            future: future_ids(tok, series, o, &stamper)?,
            vol: vs.clone(),
            regime: rs.clone(),
            close: close[o],
            key: key(k),
        });
    }
    Ok(out)
}

/// Samples `num_samples` paths of `horizon` bars after the last bar of `series`.
pub fn sample_paths(
    model: &Gpt,
    tok: &Tokenizer,
    name: &str,
    series: &Series,
    p: &ForecastParams,
) -> Result<Paths, ForecastError> {
    check(model, tok, p)?;
    let o = origin_at_end(model, tok, name, series, p.context_length, p.seed)?;
    let mut out = rollout(model, tok, &[o], p, false)?;
    out.pop().ok_or(ForecastError::ZeroSamples)
}

fn check(model: &Gpt, tok: &Tokenizer, p: &ForecastParams) -> Result<(), ForecastError> {
    if p.horizon == 0 {
        return Err(ForecastError::ZeroHorizon);
    }
    if p.num_samples == 0 {
        return Err(ForecastError::ZeroSamples);
    }
    if model.config().vocab_size != tok.vocab_size() {
        return Err(ForecastError::VocabMismatch {
            model: model.config().vocab_size,
            tokenizer: tok.vocab_size(),
        });
    }
    check_inputs(model, tok)?;
    p.sampling.validate()?;
    Ok(())
}

/// Paths after every origin (`p.context_length` and `p.seed` are not used: the
/// origins carry their prompts and keys). Origins with prompts of equal length
/// decode as one batch of origins x samples rows, every step one cached decode
/// (or, with `uncached`, one full pass over the window: the benchmark's yardstick).
///
/// Holds every path of every origin: memory grows with origins x samples x horizon
/// bars. Callers with many samples use [`rollout_chunked`], which hands the paths
/// over in bounded chunks instead.
pub fn rollout(
    model: &Gpt,
    tok: &Tokenizer,
    origins: &[Origin],
    p: &ForecastParams,
    uncached: bool,
) -> Result<Vec<Paths>, ForecastError> {
    let mut out: Vec<Paths> = origins
        .iter()
        .map(|o| Paths {
            origin_close: o.close,
            paths: Vec::with_capacity(p.num_samples),
        })
        .collect();
    rollout_chunked(
        model,
        tok,
        origins,
        p,
        uncached,
        MAX_BATCH_ROWS,
        |c: PathChunk<'_>| -> Result<(), ForecastError> {
            if let Some(slot) = out.get_mut(c.origin) {
                slot.paths.extend_from_slice(c.paths);
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// Paths `first .. first + paths.len()` of origin number `origin`, as
/// [`rollout_chunked`] hands them over (`paths[i][h]`: bar `h + 1` of path
/// `first + i`).
#[derive(Debug, Clone, Copy)]
pub struct PathChunk<'a> {
    pub origin: usize,
    pub first: usize,
    pub paths: &'a [Vec<Bar>],
}

/// [`rollout`] in bounded memory: at most `max_rows` paths (origins x samples, at
/// least one) decode at once, and each batch's paths go to `sink` before the next
/// batch starts, so the model state and the paths held are those of one batch
/// whatever `p.num_samples` is. An origin with more samples than `max_rows` is
/// split into batches of consecutive paths.
///
/// Every path draws from its own streams (keyed by its origin's key and its
/// index, see [`Origin::key`]), and a batch row's logits do not depend on the
/// other rows, so the paths are the same whatever `max_rows` is; only their
/// grouping into chunks changes. Chunks of one origin arrive in path order;
/// origins arrive grouped by prompt length (shortest first) and, within a length,
/// in the order given: in the order given when all prompts are of one length (as
/// at the end of series with enough history).
pub fn rollout_chunked<E: From<ForecastError>>(
    model: &Gpt,
    tok: &Tokenizer,
    origins: &[Origin],
    p: &ForecastParams,
    uncached: bool,
    max_rows: usize,
    mut sink: impl FnMut(PathChunk<'_>) -> Result<(), E>,
) -> Result<(), E> {
    check(model, tok, p)?;
    let s = p.num_samples;
    let max_rows = max_rows.max(1);
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, o) in origins.iter().enumerate() {
        if o.prompt.is_empty() {
            return Err(ForecastError::TooShort { bars: 0, need: 1 }.into());
        }
        groups.entry(o.prompt.len()).or_default().push(i);
    }
    // Whole origins per batch while they fit; else one origin in runs of paths.
    let per_batch = (max_rows / s).max(1);
    let per_run = s.min(max_rows);
    for members in groups.values() {
        for chunk in members.chunks(per_batch) {
            let batch: Vec<&Origin> = chunk.iter().map(|&i| &origins[i]).collect();
            let mut first = 0;
            while first < s {
                let n = per_run.min(s - first);
                let rows = rollout_batch(model, tok, &batch, p, first..first + n, uncached)?;
                for (&origin, paths) in chunk.iter().zip(rows.chunks(n)) {
                    sink(PathChunk {
                        origin,
                        first,
                        paths,
                    })?;
                }
                first += n;
            }
        }
    }
    Ok(())
}

/// Paths `range` of every origin in `origins`: `range.len()` rows per origin,
/// origin by origin.
fn rollout_batch(
    model: &Gpt,
    tok: &Tokenizer,
    origins: &[&Origin],
    p: &ForecastParams,
    range: std::ops::Range<usize>,
    uncached: bool,
) -> Result<Vec<Vec<Bar>>, ForecastError> {
    let s = range.len();
    let rows = origins.len() * s;
    let mut state = RowState::new(origins, range);
    let mut paths: Vec<Vec<Bar>> = vec![Vec::with_capacity(p.horizon); rows];
    let mut dec = Decoder::new(model);
    if uncached {
        dec = dec.uncached();
    }
    let prompts: Vec<Vec<u32>> = origins.iter().map(|o| o.prompt.clone()).collect();
    let c = model.n_inputs();
    // The last `cp` channels follow each path's own bars (the regime); the rest
    // are the same for every path of an origin.
    let cp = tok.n_path_inputs().min(c);
    let (prompt_ids, future) = input_ids(origins, p.horizon, c, cp)?;
    let mut logits = dec
        .prefill_repeated_with(&prompts, &prompt_ids, s)?
        .to_vec2::<f32>()
        .map_err(GptError::from)?;
    let mut step_ids: Vec<u32> = Vec::with_capacity(rows * c);
    for h in 0..p.horizon {
        let mut next = Vec::with_capacity(rows);
        state.sample(tok, &p.sampling, &mut logits, &mut paths, &mut next)?;
        if h + 1 < p.horizon {
            // Row i feeds bar h + 1 after its origin (i / s).
            step_ids.clear();
            let cf = c - cp;
            for (k, f) in future.iter().enumerate() {
                for j in 0..s {
                    step_ids.extend_from_slice(&f[h * cf..(h + 1) * cf]);
                    if cp > 0 {
                        state.push_path_ids(tok, k * s + j, &mut step_ids)?;
                    }
                }
            }
            logits = dec
                .step_with(&next, &step_ids)?
                .to_vec2::<f32>()
                .map_err(GptError::from)?;
        }
    }
    Ok(paths)
}

/// One row of input ids per origin, `C` per token or bar.
type IdsPerOrigin = Vec<Vec<u32>>;

/// Input ids for a model with `c` channels: the prompts' own, and those of the
/// `horizon` future bars of each origin but for the last `cp` (per path), checked
/// here so the decoding loop can slice them freely. Both empty without channels.
fn input_ids(
    origins: &[&Origin],
    horizon: usize,
    c: usize,
    cp: usize,
) -> Result<(IdsPerOrigin, IdsPerOrigin), ForecastError> {
    if c == 0 {
        return Ok((vec![], vec![]));
    }
    let pairs = origins
        .iter()
        .map(|o| {
            let f = o.future.as_ref().map_or(vec![], |f| f.ids(horizon));
            if o.inputs.len() != o.prompt.len() * c
                || f.len() != horizon * (c - cp)
                || (cp > 0 && o.regime.is_none())
            {
                return Err(ForecastError::OriginInputs { channels: c });
            }
            Ok((o.inputs.clone(), f))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pairs.into_iter().unzip())
}

/// What each row of a batch carries from step to step, one entry per row. Kept in
/// parallel vectors, filled once per batch, so a step allocates nothing per row.
struct RowState {
    token_rng: Vec<Rng>,
    bar_rng: Vec<Rng>,
    vol: Vec<VolState>,
    /// The row's regime state (empty when the regime inputs are off).
    regime: Vec<RegimeState>,
    /// The close of the row's last bar (the origin's before the first step).
    prev: Vec<f64>,
}

impl RowState {
    fn new(origins: &[&Origin], range: std::ops::Range<usize>) -> Self {
        let rows = origins.len() * range.len();
        let mut st = RowState {
            token_rng: Vec::with_capacity(rows),
            bar_rng: Vec::with_capacity(rows),
            vol: Vec::with_capacity(rows),
            regime: Vec::new(),
            prev: Vec::with_capacity(rows),
        };
        for o in origins {
            for i in range.clone() {
                let i = i as u64;
                st.token_rng.push(Rng::fork(o.key, 2 * i));
                st.bar_rng
                    .push(Rng::new(Rng::fork(o.key, 2 * i + 1).next_u64()));
                // The long-run level stays the history's: a path's draws move its
                // variance, not the level it reverts to (VolState::hold_level).
                let mut v = o.vol.clone();
                v.hold_level();
                st.vol.push(v);
                st.regime.extend(o.regime.clone());
                st.prev.push(o.close);
            }
        }
        st
    }

    /// One step of every row: a token sampled from the row's `logits`, decoded into
    /// the row's next bar (appended to its path), its token pushed to `next`.
    fn sample(
        &mut self,
        tok: &Tokenizer,
        sampling: &Sampling,
        logits: &mut [Vec<f32>],
        paths: &mut [Vec<Bar>],
        next: &mut Vec<u32>,
    ) -> Result<(), ForecastError> {
        for i in 0..self.prev.len() {
            let row = &mut logits[i];
            // A forecast continues the series: no series-start or gap tokens.
            for t in row.iter_mut().take(TokenId::SPECIALS as usize) {
                *t = f32::NEG_INFINITY;
            }
            let token = TokenId(sampling.sample(row, &mut self.token_rng[i]));
            let bar = tok.decode(
                self.prev[i],
                self.vol[i].scale(),
                token,
                DecodeMode::Sampled(&mut self.bar_rng[i]),
            )?;
            self.vol[i].observe((bar.close / self.prev[i]).ln(), bar.high, bar.low);
            if let Some(r) = self.regime.get_mut(i) {
                r.observe(bar.high, bar.low);
            }
            self.prev[i] = bar.close;
            paths[i].push(bar);
            next.push(token.0);
        }
        Ok(())
    }

    /// Appends row `i`'s path-following input ids (the regime's after its last bar).
    fn push_path_ids(
        &self,
        tok: &Tokenizer,
        i: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), ForecastError> {
        let ids = self
            .regime
            .get(i)
            .and_then(|r| tok.regime_ids(&self.vol[i], r))
            .ok_or(ForecastError::OriginInputs {
                channels: tok.n_inputs(),
            })?;
        out.extend_from_slice(&ids);
        Ok(())
    }
}

/// Per-step summary of the paths' closes.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSummary {
    pub step: usize,
    pub mean: f64,
    pub quantiles: Vec<f64>,
    /// Share of paths whose close is above the origin's close.
    pub p_up: f64,
}

pub fn summarise_paths(p: &Paths, quantile_levels: &[f64]) -> Vec<StepSummary> {
    let h = p.paths.first().map_or(0, Vec::len);
    let columns: Vec<Vec<f64>> = (0..h)
        .map(|k| p.paths.iter().map(|path| path[k].close).collect())
        .collect();
    summarise_columns(p.origin_close, &columns, quantile_levels)
}

/// [`summarise_paths`] from the closes alone, step by step: `columns[k][i]` is the
/// close of path `i` at step `k + 1`. A forecast keeps these (8 bytes per path and
/// step) instead of whole paths, so its memory is the closes plus one batch of
/// decoding; the summary is the same to the bit (each step sorted, then summed).
pub fn summarise_columns(
    origin_close: f64,
    columns: &[Vec<f64>],
    quantile_levels: &[f64],
) -> Vec<StepSummary> {
    let mut closes: Vec<f64> = Vec::new();
    columns
        .iter()
        .enumerate()
        .map(|(k, column)| {
            closes.clear();
            closes.extend_from_slice(column);
            closes.sort_by(f64::total_cmp);
            let n = closes.len() as f64;
            StepSummary {
                step: k + 1,
                mean: closes.iter().sum::<f64>() / n,
                quantiles: quantile_levels
                    .iter()
                    .map(|&q| crate::score::quantile_sorted(&closes, q))
                    .collect(),
                p_up: closes.iter().filter(|&&c| c > origin_close).count() as f64 / n,
            }
        })
        .collect()
}
