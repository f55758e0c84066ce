//! One interface for every forecaster the scorecard judges: the eight classical
//! baselines and the GPT answer the same two questions about a series split in
//! time, so `evaluate` (and a user's own code) can treat them alike.

use crate::baselines::{self, BaselineError, BaselineModel, History, OneStep, Predictive};
use crate::gpt::{gpt_logits, Calibration, GptForecastParams};
use crate::horizon::{self, MultiStep};
use crate::rollout::{
    name_hash, origins_at, rollout_chunked, ForecastError, ForecastParams, PathChunk,
    MAX_BATCH_ROWS,
};
use candlecast_data::Series;
use candlecast_gpt::{Gpt, Sampling};
use candlecast_tokenize::Tokenizer;

/// A forecaster of close log-returns, fitted on the bars before `split` only.
pub trait Forecaster {
    fn name(&self) -> &'static str;

    /// The predictive distribution of `ln(C[o+1] / C[o])` at every test origin
    /// `o = split - 1 ..= n - 2`.
    fn one_step(&self, series: &Series, split: usize) -> Result<OneStep, ForecastError>;

    /// The distributions of `ln(C[o+k] / C[o])`, `k = 1..=horizon`, at `origins`
    /// (bar indices from `split - 1` on). Forecasters without a closed form use
    /// `samples` simulated paths, seeded by `seed`.
    fn multi_step(
        &self,
        series: &Series,
        split: usize,
        origins: &[usize],
        horizon: usize,
        samples: usize,
        seed: u64,
    ) -> Result<MultiStep, ForecastError>;
}

/// Methods on the registry's trait objects rather than on the trait: carrying a fit
/// to several steps needs [`horizon`], which scores through the scorecard, and the
/// scorecard lists the baselines; here no module imports the other in a loop.
impl<'a> dyn BaselineModel + 'a {
    /// The one-step fit carried to `1..=horizon` steps at `origins` (see
    /// [`horizon::extend`]); each baseline draws from its own stream of `seed`.
    pub fn multi_step_on(
        &self,
        h: &History<'_>,
        origins: &[usize],
        horizon: usize,
        samples: usize,
        seed: u64,
    ) -> Result<MultiStep, BaselineError> {
        let fit = self.fit(h)?;
        let step_scales = |o: usize, horizon: usize| self.step_scales(&fit, h, o, horizon);
        horizon::extend(
            &fit.one,
            fit.garch.as_ref(),
            &step_scales,
            h.split,
            origins,
            horizon,
            samples,
            horizon::stream(seed, baselines::index(self)),
        )
    }
}

/// Fewest validation origins with `horizon` bars after them inside the training
/// part that [`validation_bar_at`] chooses from: fewer overlapping H-bar returns
/// would choose by noise (`gpt-cal`'s path growth uses the same floor).
pub const MIN_VALIDATION_ORIGINS: usize = 20;

/// The bar `horizon` bars ahead: the classical forecaster with the lowest mean CRPS
/// of the `horizon`-bar return on the one-step bar's validation slice
/// ([`crate::scorecard::validation_slice`]: every baseline fitted on the training
/// bars before it), from at most `max_origins` origins whose `horizon` bars all lie
/// in the training part, sampled forecasters on `samples` paths (fair CRPS). The
/// test part is never read. `None` under [`MIN_VALIDATION_ORIGINS`] such origins.
pub fn validation_bar_at(
    h: &History<'_>,
    horizon: usize,
    max_origins: usize,
    samples: usize,
    seed: u64,
) -> Option<&'static str> {
    let val = crate::scorecard::validation_slice(h);
    let all = horizon::origins(&val, horizon, 1);
    if all.len() < MIN_VALIDATION_ORIGINS {
        return None;
    }
    let every = all.len().div_ceil(max_origins.max(1)).max(1);
    let origins: Vec<usize> = all.into_iter().step_by(every).collect();
    let targets = horizon::targets(val.close, &origins, horizon);
    let last = targets.last()?;
    // One baseline's paths at a time: each is scored and dropped before the next.
    baselines::BASELINES
        .iter()
        .filter_map(|b| {
            let fit = b
                .multi_step_on(&val, &origins, horizon, samples, seed)
                .ok()?;
            Some((fit.name, horizon::mean_crps_at(&fit, horizon, last)?))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| name)
}

impl<'a> Forecaster for &'a (dyn BaselineModel + 'a) {
    fn name(&self) -> &'static str {
        BaselineModel::name(*self)
    }

    fn one_step(&self, series: &Series, split: usize) -> Result<OneStep, ForecastError> {
        Ok(self.fit(&History::of(series, split))?.one)
    }

    fn multi_step(
        &self,
        series: &Series,
        split: usize,
        origins: &[usize],
        horizon: usize,
        samples: usize,
        seed: u64,
    ) -> Result<MultiStep, ForecastError> {
        Ok(self.multi_step_on(&History::of(series, split), origins, horizon, samples, seed)?)
    }
}

/// The GPT as a forecaster: one step = its next-token mixture (exact CRPS), several
/// steps = its sample paths through the KV cache.
#[derive(Clone, Copy)]
pub struct GptForecaster<'a> {
    pub name: &'static str,
    pub model: &'a Gpt,
    pub tokenizer: &'a Tokenizer,
    /// Tokens of context (at most the model's `max_ctx`).
    pub context: usize,
    /// Logits are divided by this, in both modes.
    pub temperature: f64,
    /// Nucleus truncation, in both modes (`None`: the whole distribution).
    pub top_p: Option<f64>,
    /// Every return is multiplied by this (1 = the model as trained): in the
    /// one-step mode each bar's, on a path the cumulative return from the origin,
    /// so the path's own scale recursion still sees the model's returns.
    pub spread: f64,
    /// On a path, the cumulative return k bars out is also multiplied by
    /// `k^spread_growth` (0 = none; see [`horizon::fit_spread_growth`]): the
    /// width a one-step fit gives does not carry to 24 bars by itself.
    pub spread_growth: f64,
    /// Origins per forward pass of the one-step mode.
    pub batch: usize,
}

impl GptForecaster<'_> {
    fn sampling(&self) -> Sampling {
        Sampling {
            temperature: self.temperature,
            top_k: None,
            top_p: self.top_p,
        }
    }
}

impl Forecaster for GptForecaster<'_> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn one_step(&self, series: &Series, split: usize) -> Result<OneStep, ForecastError> {
        let p = GptForecastParams {
            context: self.context,
            temperature: self.temperature,
            batch: self.batch,
        };
        let cal = Calibration {
            sampling: self.sampling(),
            spread: self.spread,
        };
        Ok(gpt_logits(self.model, self.tokenizer, series, split, p)?.calibrated(self.name, cal))
    }

    /// Paths keyed by `seed`, the origin bar and nothing else, so a path does not
    /// depend on which other origins share its batch.
    fn multi_step(
        &self,
        series: &Series,
        _split: usize,
        origins: &[usize],
        horizon: usize,
        samples: usize,
        seed: u64,
    ) -> Result<MultiStep, ForecastError> {
        let starts = origins_at(self.tokenizer, series, origins, self.context, |k| {
            seed ^ name_hash(self.name) ^ (origins[k] as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        })?;
        let p = ForecastParams {
            context_length: self.context,
            horizon,
            num_samples: samples,
            sampling: self.sampling(),
            seed,
        };
        // Only each path's close log-returns are kept (what the scores need), filled
        // batch by batch: the bars and the model state of one batch at a time.
        let mut returns: Vec<Vec<Vec<f64>>> = (0..horizon)
            .map(|_| {
                (0..starts.len())
                    .map(|_| Vec::with_capacity(samples))
                    .collect()
            })
            .collect();
        rollout_chunked(
            self.model,
            self.tokenizer,
            &starts,
            &p,
            false,
            MAX_BATCH_ROWS,
            |c: PathChunk<'_>| -> Result<(), ForecastError> {
                let base = starts.get(c.origin).map_or(f64::NAN, |o| o.close);
                for (k, step) in returns.iter_mut().enumerate() {
                    let f = self.spread * ((k + 1) as f64).powf(self.spread_growth);
                    if let Some(slot) = step.get_mut(c.origin) {
                        slot.extend(
                            c.paths
                                .iter()
                                .filter_map(|path| path.get(k))
                                .map(|b| (b.close / base).ln() * f),
                        );
                    }
                }
                Ok(())
            },
        )?;
        Ok(MultiStep {
            name: self.name,
            preds: returns
                .into_iter()
                .map(|step| step.into_iter().map(Predictive::sample).collect())
                .collect(),
        })
    }
}
