//! The GPT as a one-step forecaster: at every test bar, the next-token distribution
//! from the preceding `context` tokens, marginalised to the close-return bins and
//! placed at the bins' representative returns times the bar's scale. The result is
//! a finite mixture, so its CRPS is exact (no sampling noise).

use crate::baselines::{summarise, OneStep, Predictive, Summary};
use crate::rollout::{check_inputs, ForecastError};
use candle_core::{Device, Tensor};
use candlecast_data::Series;
use candlecast_gpt::{Gpt, GptError, Sampling};
use candlecast_tokenize::{TokenId, Tokenizer};
use rayon::prelude::*;

/// How to run the model as a forecaster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GptForecastParams {
    /// Tokens of context (at most the model's `max_ctx`).
    pub context: usize,
    /// Logits are divided by this before the softmax (1 = the model as trained).
    pub temperature: f64,
    /// Origins per forward pass.
    pub batch: usize,
}

/// The model's raw next-token logits at every target bar, kept so that the
/// predictive mixture can be formed at any temperature without another forward pass.
#[derive(Debug, Clone)]
pub struct GptLogits {
    /// Per target: logits over the vocabulary (temperature 1).
    rows: Vec<Vec<f32>>,
    /// Per target: the bar's scale (return units per scale unit).
    scales: Vec<f64>,
    /// Per target, on a calibration slice: its bar tokens most likely first
    /// ([`Sampling::logit_order`]), so that the fit's top-p cuts, some 200 per
    /// row, need no sort each (`None` elsewhere: a row is then formed once or twice).
    orders: Option<Vec<Vec<u16>>>,
    targets: Vec<f64>,
    bins: Bins,
}

/// How token ids map to close returns.
#[derive(Debug, Clone)]
struct Bins {
    /// Return bin of every token id (`None` for specials).
    of: Vec<Option<usize>>,
    /// Representative return (scale units) of every bin.
    rep: Vec<f64>,
}

impl Bins {
    fn of(tok: &Tokenizer) -> Bins {
        let vocab = tok.vocab_size();
        let mut of = vec![None; vocab];
        let mut rep = vec![0.0; tok.return_bins()];
        for t in 0..vocab as u32 {
            let id = TokenId(t);
            if let (Some(f), Some(r)) = (tok.factors(id), tok.return_representative(id)) {
                of[t as usize] = Some(f.return_bin);
                rep[f.return_bin] = r;
            }
        }
        Bins { of, rep }
    }
}

/// The next-token `logits` as a distribution of the close log-return: specials
/// excluded, `sampling` applied, the mass of every bar token summed into its
/// return bin, placed at the bin's representative return times `scale`.
/// `order`, where given, is [`Sampling::logit_order`] of that masked row ([`masked`]).
fn mixture(
    logits: &[f32],
    scale: f64,
    bins: &Bins,
    sampling: Sampling,
    order: Option<&[u16]>,
) -> Predictive {
    let row = masked(logits, bins);
    let probs = match order {
        Some(o) => sampling.probs_ordered(&row, o),
        None => sampling.probs(&row),
    };
    let mut mass = vec![0.0f64; bins.rep.len()];
    for (p, b) in probs.into_iter().zip(&bins.of) {
        if let Some(b) = b {
            mass[*b] += p;
        }
    }
    Predictive::atoms(
        bins.rep
            .iter()
            .zip(&mass)
            .map(|(&r, &m)| (r * scale, m))
            .collect(),
    )
}

/// The logits with the specials (series start, gap) at -inf: never forecast.
fn masked(logits: &[f32], bins: &Bins) -> Vec<f32> {
    logits
        .iter()
        .zip(&bins.of)
        .map(|(&l, b)| if b.is_some() { l } else { f32::NEG_INFINITY })
        .collect()
}

/// The model's one-step predictive distribution of the close log-return of the
/// bar after the last one of `series`, exactly (the mixture [`gpt_logits`]
/// gives at a bar that exists, without sampling): one forward pass over the
/// last `context` tokens, so a strategy can ask for it at every bar.
pub fn gpt_next(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    context: usize,
    sampling: Sampling,
) -> Result<Predictive, ForecastError> {
    if model.config().vocab_size != tok.vocab_size() {
        return Err(ForecastError::VocabMismatch {
            model: model.config().vocab_size,
            tokenizer: tok.vocab_size(),
        });
    }
    check_inputs(model, tok)?;
    sampling.validate()?;
    let enc = tok.encode(series);
    if enc.tokens.is_empty() {
        return Err(ForecastError::TooShort { bars: 0, need: 1 });
    }
    let c = tok.n_inputs();
    let inputs = tok.input_ids(series, &enc)?;
    let start = enc
        .tokens
        .len()
        .saturating_sub(context.clamp(1, model.config().max_ctx));
    let len = enc.tokens.len() - start;
    let device = Device::Cpu;
    let ids: Vec<u32> = enc.tokens[start..].iter().map(|t| t.0).collect();
    let x = Tensor::from_vec(ids, (1, len), &device).map_err(GptError::from)?;
    let ids = match c {
        0 => None,
        _ => {
            let flat = inputs.get(start * c..).map_or(vec![], <[u32]>::to_vec);
            Some(Tensor::from_vec(flat, (1, len, c), &device).map_err(GptError::from)?)
        }
    };
    let logits = model
        .forward_last_with(&x, ids.as_ref(), 0, &mut model.new_cache())?
        .to_vec2::<f32>()
        .map_err(GptError::from)?;
    let row = logits
        .first()
        .ok_or(ForecastError::TooShort { bars: 0, need: 1 })?;
    Ok(mixture(row, enc.next_scale, &Bins::of(tok), sampling, None))
}

impl GptLogits {
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The one-step forecasts with logits divided by `temperature`.
    pub fn at(&self, name: &'static str, temperature: f64) -> OneStep {
        self.sampled(
            name,
            Sampling {
                temperature,
                top_k: None,
                top_p: None,
            },
        )
    }

    /// The one-step forecasts as the rollout samples them: series-start and gap
    /// tokens excluded, then `sampling`'s temperature, top-k and top-p.
    pub fn sampled(&self, name: &'static str, sampling: Sampling) -> OneStep {
        self.calibrated(
            name,
            Calibration {
                sampling,
                spread: 1.0,
            },
        )
    }

    /// [`Self::sampled`] with every return also multiplied by `cal.spread`. The
    /// rows are independent, and `gpt-cal`'s fit forms all of them some 260 times:
    /// on all cores, collected in order, so the result does not depend on how many.
    pub fn calibrated(&self, name: &'static str, cal: Calibration) -> OneStep {
        let order = |i: usize| {
            self.orders
                .as_ref()
                .and_then(|o| o.get(i))
                .map(Vec::as_slice)
        };
        let preds = self
            .rows
            .par_iter()
            .zip(self.scales.par_iter())
            .enumerate()
            .map(|(i, (logits, &scale))| {
                mixture(
                    logits,
                    scale * cal.spread,
                    &self.bins,
                    cal.sampling,
                    order(i),
                )
            })
            .collect();
        OneStep {
            name,
            preds,
            targets: self.targets.clone(),
        }
    }

    /// Mean exact CRPS of `cal`'s forecasts on these targets.
    /// (Each CRPS on all cores, summed in order: the same sum as one thread's.)
    fn mean_crps(&self, cal: Calibration) -> f64 {
        let o = self.calibrated("gpt", cal);
        let crps: Vec<f64> = o
            .preds
            .par_iter()
            .zip(o.targets.par_iter())
            .map(|(p, &y)| p.crps(y))
            .collect();
        crps.iter().sum::<f64>() / o.targets.len().max(1) as f64
    }

    /// The temperature (0.25 ..= 4) with the lowest mean exact CRPS on these
    /// targets, at a given top-p and spread: a golden-section search on log T.
    /// CRPS, not log-loss, because CRPS is what the scorecard judges and log-loss
    /// over-rewards wide tails.
    pub fn fit_temperature(&self, top_p: Option<f64>, spread: f64) -> (f64, f64) {
        let at = |log_t: f64| Calibration {
            sampling: Sampling {
                temperature: log_t.exp(),
                top_k: None,
                top_p,
            },
            spread,
        };
        let (log_t, c) = golden_min(|x| self.mean_crps(at(x)), 0.25f64.ln(), 4f64.ln());
        (log_t.exp(), c)
    }

    /// Temperature and top-p fitted together by exact CRPS on these targets at a
    /// given spread, with their mean CRPS: the model's far tails are where a small
    /// network is least sure (a little mass spread over many extreme bins), and
    /// over several steps that mass compounds through each path's volatility.
    fn fit_sampling_at(&self, spread: f64) -> (Sampling, f64) {
        let mut best = (f64::INFINITY, 1.0, None);
        for top_p in [None, Some(0.99), Some(0.97), Some(0.94), Some(0.9)] {
            let (t, c) = self.fit_temperature(top_p, spread);
            if c < best.0 {
                best = (c, t, top_p);
            }
        }
        let sampling = Sampling {
            temperature: best.1,
            top_k: None,
            top_p: best.2,
        };
        (sampling, best.0)
    }

    /// Temperature and top-p alone, spread 1: a temperature that is to be shipped
    /// with a model and applied to every series (the base model's), where a
    /// per-series width has no meaning.
    pub fn fit_sampling(&self) -> Calibration {
        Calibration {
            sampling: self.fit_sampling_at(1.0).0,
            spread: 1.0,
        }
    }

    /// `gpt-cal`'s calibration by exact CRPS on these targets: the width first (a
    /// spread in 0.5 ..= 2 on the returns of the model as trained), then the shape
    /// (temperature and top-p, [`Self::fit_sampling_at`]) at that width, then the
    /// width again. A model that has not seen the series (zero-shot) is most often
    /// wrong in width: its returns in scale units are wider or narrower than this
    /// market's. The temperature moves the width only by reshaping the mass, and
    /// fitted first it absorbs a width error as a flattened shape (measured: a
    /// model half as wide as its targets ends at T = 4 and spread 1.2 that way,
    /// at spread 2 when the width goes first). Kept only where it beats the
    /// temperature and top-p alone, which otherwise stay with spread 1. Last, the
    /// spread is moved where the fit's 80% coverage on these targets is outside
    /// the scorecard's band ([`Self::within_coverage`]).
    pub fn fit_calibration(&self) -> Calibration {
        let (plain, c0) = self.fit_sampling_at(1.0);
        let spread_at = |sampling: Sampling| {
            let (log_s, c) = golden_min(
                |x| {
                    self.mean_crps(Calibration {
                        sampling,
                        spread: x.exp(),
                    })
                },
                0.5f64.ln(),
                2f64.ln(),
            );
            (log_s.exp(), c)
        };
        let (first, _) = spread_at(Sampling {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        });
        let (sampling, _) = self.fit_sampling_at(first);
        let (spread, c) = spread_at(sampling);
        let fitted = if c < c0 {
            Calibration { sampling, spread }
        } else {
            Calibration {
                sampling: plain,
                spread: 1.0,
            }
        };
        self.within_coverage(fitted)
    }

    /// Mean CRPS and 80% coverage of `cal`'s forecasts on these targets, in one
    /// pass ([`summarise`], as the validation bar is chosen).
    fn summary(&self, cal: Calibration) -> Summary {
        summarise(&self.calibrated("gpt", cal))
    }

    /// `cal` if its 80% coverage on these targets is in [`COVERAGE_BAND`] (or they
    /// are fewer than [`MIN_COVERAGE_TARGETS`]), else
    /// the spread (0.5 ..= 2, on a grid; temperature and top-p as fitted) with the
    /// lowest mean CRPS among those whose coverage is in the band narrowed by 0.01
    /// each side (so that a fit is not one bar from the edge), or where none is,
    /// the one whose coverage is nearest 0.80. Why: the scorecard judges the model
    /// by CRPS *and* 80% coverage, and within this family of calibrations the CRPS
    /// optimum need not cover: measured zero-shot on the ten 5-minute BTC pairs,
    /// the base model covered 0.70–0.81 in the last fifth of their training parts
    /// and 0.70–0.83 on their test parts, while the CRPS fit left their spreads at
    /// 0.88–1.06, narrower than 1 on six of them.
    fn within_coverage(&self, cal: Calibration) -> Calibration {
        let (lo, hi) = COVERAGE_BAND;
        if self.len() < MIN_COVERAGE_TARGETS || (lo..=hi).contains(&self.summary(cal).coverage80) {
            return cal;
        }
        let steps = 48;
        let grid = (0..=steps).map(|i| {
            let log_s = 0.5f64.ln() + (4f64.ln()) * i as f64 / steps as f64;
            Calibration {
                spread: log_s.exp(),
                ..cal
            }
        });
        let scored: Vec<(Calibration, f64, f64)> = grid
            .map(|c| {
                let s = self.summary(c);
                (c, s.coverage80, s.crps)
            })
            .collect();
        let inside = scored
            .iter()
            .filter(|(_, cov, _)| (lo + 0.01..=hi - 0.01).contains(cov))
            .min_by(|a, b| a.2.total_cmp(&b.2));
        let nearest = || {
            scored.iter().min_by(|a, b| {
                ((a.1 - 0.8).abs(), a.2)
                    .partial_cmp(&((b.1 - 0.8).abs(), b.2))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        };
        inside.or_else(nearest).map_or(cal, |x| x.0)
    }
}

/// The 80% coverage the scorecard asks of the model (`meets_bar`), which
/// `gpt-cal`'s calibration keeps on its validation slice where it can.
pub const COVERAGE_BAND: (f64, f64) = (0.77, 0.83);

/// The fewest validation targets on which the coverage step runs: the standard
/// error of an 80% coverage counted on n targets, sqrt(0.16 / n), is at most the
/// band's half-width 0.03 from n = 178 on. On fewer the count cannot tell a
/// forecast in the band from one outside it (on 12 targets, monthly bitcoin's
/// slice, coverage moves in steps of 0.083 and never lands in 0.78-0.82).
pub const MIN_COVERAGE_TARGETS: usize = 178;

/// `gpt-cal`: how the model's one-step distribution is sampled, and a factor on
/// the returns it decodes (on a path, on the cumulative return from the origin).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub sampling: Sampling,
    pub spread: f64,
}

/// The minimum of a unimodal `f` on `[a, b]` by golden-section search (20
/// steps: the bracket shrinks to under 1e-4 of its width), and its value.
pub(crate) fn golden_min(f: impl Fn(f64) -> f64, a: f64, b: f64) -> (f64, f64) {
    let (mut a, mut b) = (a, b);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..20 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    let x = (a + b) / 2.0;
    (x, f(x))
}

/// One-step forecasts of the close log-return of every bar from `split` on.
pub fn gpt_one_step(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    split: usize,
    p: GptForecastParams,
) -> Result<OneStep, ForecastError> {
    Ok(gpt_logits(model, tok, series, split, p)?.at("gpt", p.temperature))
}

/// The logits behind [`gpt_one_step`] (its `temperature` is not used here). A
/// model with input channels gets the context tokens' ids.
pub fn gpt_logits(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    split: usize,
    p: GptForecastParams,
) -> Result<GptLogits, ForecastError> {
    logits_every(model, tok, series, split, p, |t| t)
}

/// The most targets `gpt-cal`'s calibration is fitted on: a longer slice is
/// thinned to this many, evenly spaced. The fit evaluates every target's mixture
/// some 260 times (a golden-section search per top-p, twice, and the spread's),
/// so a whole 1-minute history (149,000 bars in the EURUSD minute file: still
/// fitting after 18 minutes, with 600 MB of logits) is not worth its cost, while
/// an 80% coverage counted on 20,000 targets already has a standard error of
/// 0.003, a tenth of the coverage band's half-width.
pub const MAX_CALIBRATION_TARGETS: usize = 20_000;

/// [`gpt_logits`] on the calibration slice from `start` on, thinned to at most
/// [`MAX_CALIBRATION_TARGETS`] targets ([`thinned`]) before any forward pass.
pub fn calibration_logits(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    start: usize,
    p: GptForecastParams,
) -> Result<GptLogits, ForecastError> {
    let mut logits = logits_every(model, tok, series, start, p, |t| {
        thinned(t, MAX_CALIBRATION_TARGETS)
    })?;
    let bins = &logits.bins;
    logits.orders = logits
        .rows
        .par_iter()
        .map(|r| Sampling::logit_order(&masked(r, bins)))
        .collect();
    Ok(logits)
}

/// What [`calibration_logits`] keeps of a slice's targets, for another forecaster
/// of the same slice ([`thinned`] to [`MAX_CALIBRATION_TARGETS`]).
pub fn thinned_for_calibration<T>(v: Vec<T>) -> Vec<T> {
    thinned(v, MAX_CALIBRATION_TARGETS)
}

/// `v` where it has at most `max` items, else every k-th (k the smallest step
/// that keeps at most `max`), counted back from the last, which is kept: the
/// latest bars are the ones a forecast from the end of the slice resembles.
fn thinned<T>(v: Vec<T>, max: usize) -> Vec<T> {
    let every = v.len().div_ceil(max.max(1)).max(1);
    if every == 1 {
        return v;
    }
    let mut kept: Vec<T> = v.into_iter().rev().step_by(every).collect();
    kept.reverse();
    kept
}

/// [`gpt_logits`] at the targets `pick` keeps.
fn logits_every(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    split: usize,
    p: GptForecastParams,
    pick: impl Fn(Vec<(usize, f64)>) -> Vec<(usize, f64)>,
) -> Result<GptLogits, ForecastError> {
    if model.config().vocab_size != tok.vocab_size() {
        return Err(GptError::Weights(format!(
            "the model's vocabulary ({}) does not match the tokenizer's ({})",
            model.config().vocab_size,
            tok.vocab_size()
        ))
        .into());
    }
    check_inputs(model, tok)?;
    let ctx = p.context.clamp(1, model.config().max_ctx);
    let enc = tok.encode(series);
    let c = tok.n_inputs();
    let inputs = tok.input_ids(series, &enc)?;
    let targets = pick(targets_at(series, split, &enc));
    let ids: Vec<u32> = enc.tokens.iter().map(|t| t.0).collect();
    let context = Context {
        ids: &ids,
        inputs: &inputs,
        channels: c,
        max_len: ctx,
    };
    let mut rows = Vec::with_capacity(targets.len());
    let mut scales = Vec::with_capacity(targets.len());
    let mut kept = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(p.batch.max(1)) {
        let mut out = context.chunk_logits(model, chunk)?;
        for (k, &(pos, y)) in chunk.iter().enumerate() {
            let Some(l) = out[k].take() else { continue };
            rows.push(l);
            scales.push(enc.scale[pos]);
            kept.push(y);
        }
    }
    Ok(GptLogits {
        rows,
        scales,
        orders: None,
        targets: kept,
        bins: Bins::of(tok),
    })
}

/// `(token position, log-return)` of every bar from `split` on that the model can
/// forecast: its bar token is known and has at least one token before it. A bar's
/// position is the last token describing it, so the context ends just before the
/// bar it forecasts.
fn targets_at(
    series: &Series,
    split: usize,
    enc: &candlecast_tokenize::Encoded,
) -> Vec<(usize, f64)> {
    let mut pos_of_bar = vec![usize::MAX; series.len()];
    for (i, &b) in enc.bar.iter().enumerate() {
        if let Some(slot) = pos_of_bar.get_mut(b as usize) {
            *slot = i;
        }
    }
    let close = series.close();
    (split.max(1)..series.len())
        .filter(|&t| pos_of_bar[t] != usize::MAX && pos_of_bar[t] >= 1)
        .map(|t| (pos_of_bar[t], (close[t] / close[t - 1]).ln()))
        .collect()
}

/// The series' tokens and input ids that forecast windows are cut from.
struct Context<'a> {
    ids: &'a [u32],
    /// `channels` ids per token (empty without channels).
    inputs: &'a [u32],
    channels: usize,
    /// The longest window the model is given.
    max_len: usize,
}

impl Context<'_> {
    /// Next-token logits at every target of `chunk`, in its order. Targets are grouped
    /// by available context length so each forward pass is one rectangle.
    fn chunk_logits(
        &self,
        model: &Gpt,
        chunk: &[(usize, f64)],
    ) -> Result<Vec<Option<Vec<f32>>>, ForecastError> {
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (k, &(pos, _)) in chunk.iter().enumerate() {
            groups.entry(pos.min(self.max_len)).or_default().push(k);
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; chunk.len()];
        for (len, members) in groups {
            let logits = self.forward(model, chunk, len, &members)?;
            for (k, l) in members.into_iter().zip(logits) {
                out[k] = Some(l);
            }
        }
        Ok(out)
    }

    /// One forward pass over the `len` tokens before each of the targets `members`
    /// of `chunk`, from a fresh cache (the windows share no prefix).
    fn forward(
        &self,
        model: &Gpt,
        chunk: &[(usize, f64)],
        len: usize,
        members: &[usize],
    ) -> Result<Vec<Vec<f32>>, ForecastError> {
        let device = Device::Cpu;
        let c = self.channels;
        let flat: Vec<u32> = members
            .iter()
            .flat_map(|&k| self.ids[chunk[k].0 - len..chunk[k].0].iter().copied())
            .collect();
        let x = Tensor::from_vec(flat, (members.len(), len), &device).map_err(GptError::from)?;
        let ids = match c {
            0 => None,
            _ => {
                let flat: Vec<u32> = members
                    .iter()
                    .flat_map(|&k| {
                        self.inputs[(chunk[k].0 - len) * c..chunk[k].0 * c]
                            .iter()
                            .copied()
                    })
                    .collect();
                Some(
                    Tensor::from_vec(flat, (members.len(), len, c), &device)
                        .map_err(GptError::from)?,
                )
            }
        };
        let logits = model
            .forward_last_with(&x, ids.as_ref(), 0, &mut model.new_cache())?
            .to_vec2::<f32>()
            .map_err(GptError::from)?;
        Ok(logits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::norm_quantile;

    #[test]
    fn a_long_calibration_slice_is_thinned_evenly_back_from_its_last_bar() {
        let v: Vec<usize> = (0..10).collect();
        assert_eq!(thinned(v.clone(), 10), v);
        assert_eq!(thinned(v.clone(), 5), [1, 3, 5, 7, 9]);
        assert_eq!(thinned(v.clone(), 4), [0, 3, 6, 9]);
        assert_eq!(thinned(v.clone(), 1), [9]);
        let long: Vec<usize> = (0..149_001).collect();
        let t = thinned(long, MAX_CALIBRATION_TARGETS);
        assert!(t.len() <= MAX_CALIBRATION_TARGETS && t.len() > MAX_CALIBRATION_TARGETS * 9 / 10);
        assert_eq!(t.last(), Some(&149_000));
        assert!(t.windows(2).all(|w| w[1] - w[0] == 8));
    }

    /// Logits of a standard normal on 25 bins in [-3, 3], at 2,000 targets whose
    /// quantiles are those of a normal of standard deviation `sd`.
    fn normal_logits(sd: f64) -> GptLogits {
        let rep: Vec<f64> = (0..25).map(|i| -3.0 + 0.25 * i as f64).collect();
        let row: Vec<f32> = rep.iter().map(|z| (-z * z / 2.0) as f32).collect();
        let n = 2000;
        let order = Sampling::logit_order(&row);
        GptLogits {
            orders: order.map(|o| vec![o; n]),
            rows: vec![row; n],
            scales: vec![1.0; n],
            targets: (0..n)
                .map(|i| sd * norm_quantile((i as f64 + 0.5) / n as f64))
                .collect(),
            bins: Bins {
                of: (0..25).map(Some).collect(),
                rep,
            },
        }
    }

    /// Twice as wide a market as the model: the temperature flattens the mass but
    /// cannot move it past the outer bins, the spread can, and the fit finds it.
    #[test]
    fn the_calibration_widens_a_model_too_narrow_for_its_targets() {
        let l = normal_logits(2.0);
        let (only_sampling, c0) = l.fit_sampling_at(1.0);
        let cal = l.fit_calibration();
        assert!((1.6..2.4).contains(&cal.spread), "spread {}", cal.spread);
        // A normal forecast of the right width scores sd / sqrt(pi) in expectation.
        let (c1, ideal) = (l.mean_crps(cal), 2.0 / std::f64::consts::PI.sqrt());
        assert!(
            c1 < c0 && c1 < 1.005 * ideal,
            "{c1} against {c0} ({only_sampling:?})"
        );
    }

    /// The fit with the rows' orders precomputed is the fit without them.
    #[test]
    fn precomputed_orders_change_no_fit() {
        let with = normal_logits(2.0);
        let without = GptLogits {
            orders: None,
            ..with.clone()
        };
        assert!(with.orders.is_some());
        assert_eq!(with.fit_calibration(), without.fit_calibration());
    }

    /// A model that fits keeps (about) its width and its temperature.
    #[test]
    fn the_calibration_leaves_a_fitting_model_about_as_it_is() {
        let cal = normal_logits(1.0).fit_calibration();
        assert!((0.9..1.1).contains(&cal.spread), "spread {}", cal.spread);
        assert!(
            (0.8..1.25).contains(&cal.sampling.temperature),
            "{:?}",
            cal.sampling
        );
    }

    /// A calibration whose coverage is in the band stays as it is; one that covers
    /// too little (a model half as wide as its targets, spread 1) gets the spread
    /// that brings it inside, about 2, unless there are too few targets to tell.
    #[test]
    fn the_coverage_step_moves_the_spread_only_when_coverage_is_out_of_band() {
        let as_trained = Calibration {
            sampling: Sampling {
                temperature: 1.0,
                top_k: None,
                top_p: None,
            },
            spread: 1.0,
        };
        let fits = normal_logits(1.0);
        let cov = fits.summary(as_trained).coverage80;
        assert!((0.77..=0.83).contains(&cov), "{cov}");
        assert_eq!(fits.within_coverage(as_trained), as_trained);
        let narrow = normal_logits(2.0);
        assert!(narrow.summary(as_trained).coverage80 < 0.6);
        // Too few targets to count coverage on: left alone.
        let n = MIN_COVERAGE_TARGETS - 1;
        let few = GptLogits {
            orders: None,
            rows: narrow.rows[..n].to_vec(),
            scales: narrow.scales[..n].to_vec(),
            targets: narrow.targets[..n].to_vec(),
            bins: narrow.bins.clone(),
        };
        assert!(few.summary(as_trained).coverage80 < 0.6);
        assert_eq!(few.within_coverage(as_trained), as_trained);
        let moved = narrow.within_coverage(as_trained);
        let cov = narrow.summary(moved).coverage80;
        assert!((0.78..=0.82).contains(&cov), "{cov}");
        assert!((1.7..2.3).contains(&moved.spread), "{moved:?}");
        assert_eq!(moved.sampling, as_trained.sampling);
    }

    #[test]
    fn golden_section_finds_the_minimum_of_a_parabola() {
        let (x, fx) = golden_min(|x| (x - 0.3) * (x - 0.3) + 1.0, -2.0, 2.0);
        assert!(
            (x - 0.3).abs() < 1e-3 && (fx - 1.0).abs() < 1e-6,
            "{x} {fx}"
        );
    }
}
