//! Classical one-step forecasters of the next close log-return, the yardstick for
//! the GPT. Each is fitted on the training part of one series only and then rolled
//! forward through every origin using data up to that origin.
//!
//! Conventions (mirrored exactly by `bench/baselines_ref.py`):
//! - returns `r_t = ln(C_t / C_{t-1})`, `t = 1..n-1`; training returns are `r_1 .. r_{s-1}`
//!   where `s` is the first test bar; origin `o` forecasts `r_{o+1}`;
//! - `rw-const`: N(0, v) with `v = mean(r_train^2)`;
//! - `rw-ewma`: N(0, v_{t+1}), `v_{t+1} = λ v_t + (1-λ) r_t^2`, λ = 0.94, `v_1 = mean(r_train^2)`;
//! - `garch`: constant mean, GARCH(1,1), normal errors, maximum likelihood on the
//!   training returns with the intercept variance-targeted (`omega = (1 - alpha -
//!   beta) var(r_train)`), variance started at arch's backcast (EWMA 0.94 of the
//!   first min(75, n) squared residuals);
//! - `hs`: the empirical distribution of the training returns;
//! - `fhs`: `z_t = r_t / sqrt(v_t)` (rw-ewma's variance) over training, rescaled by `sqrt(v_{o+1})`;
//! - `fhs-range`: the same with `v` driven by the Garman-Klass range variance
//!   `0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2` instead of `r^2`;
//! - `har`: the same with `v` the log-HAR forecast of that range variance from its
//!   values over the last 1, 5 and 22 bars (least squares on training, [`Har`]);
//! - `fhs-seasonal`: `fhs` on returns divided by an intraday (time of day times
//!   weekday) variance profile fitted on training, rescaled by the profile of the
//!   bar forecast ([`Seasonal`]); `fhs` itself on daily or longer bars.
//!
//! Each baseline is one file implementing [`BaselineModel`], listed once in
//! [`BASELINES`]: the scorecard, the multi-step code and the CLI iterate that list
//! instead of matching on names, so adding a baseline touches nothing else.

mod common;
mod fhs;
mod fhs_range;
mod fhs_seasonal;
mod garch;
mod har;
mod historical;
mod rw_const;
mod rw_ewma;
#[cfg(test)]
mod tests;

pub use common::{
    ewma_variance, garman_klass, log_returns, norm_quantile, summarise, BaselineError, History,
    OneStep, Predictive, Summary, EWMA_LAMBDA,
};
pub use fhs::{fhs, Fhs};
pub use fhs_range::{fhs_range, FhsRange};
pub use fhs_seasonal::{fhs_seasonal, FhsSeasonal, Seasonal, SEASONAL_PASSES, SEASONAL_SHRINK};
pub use garch::{fit_garch, garch, Garch, Garch11};
pub use har::{har, Har, LogHar, HAR_FLOOR};
pub use historical::{historical, Hs};
pub use rw_const::{rw_const, RwConst};
pub use rw_ewma::{rw_ewma, RwEwma};

/// The classical baselines in the scorecard's order: `rw-const` first, the base of
/// relative CRPS; a baseline's place here also keys its random stream (see
/// [`crate::horizon`]), so new ones go at the end to leave the others' draws as
/// they were.
pub static BASELINES: &[&dyn BaselineModel] = &[
    &RwConst,
    &RwEwma,
    &Garch11,
    &Hs,
    &Fhs,
    &FhsRange,
    &LogHar,
    &FhsSeasonal,
];

/// An entry of [`BASELINES`], under the name the list's element had when the
/// baselines were an enum.
pub type Baseline = &'static dyn BaselineModel;

/// What the scorecard and the multi-step forecasts need from a classical baseline.
/// `Sync` so that the list of them can be a `static`.
pub trait BaselineModel: Sync {
    /// The name the scorecard, the CLI and the reports know the baseline by.
    fn name(&self) -> &'static str;

    /// Fitted on the bars before `h.split`, forecasting every test origin.
    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError>;

    /// Step `k`'s scale over step 1's (`k = 1..=horizon`) for the sampled
    /// multi-step paths from bar `origin`: flat unless the baseline knows how its
    /// variance moves, which is what an EWMA recursion expects of every later step.
    fn step_scales(
        &self,
        _fit: &BaselineFit,
        _h: &History<'_>,
        _origin: usize,
        horizon: usize,
    ) -> Vec<f64> {
        vec![1.0; horizon]
    }
}

/// A baseline's one-step forecasts with the fitted models the series card reports
/// and the multi-step forecasts reuse (none for most baselines).
#[derive(Debug, Clone)]
pub struct BaselineFit {
    pub one: OneStep,
    /// Carried to several steps by its variance term structure (in closed form).
    pub garch: Option<Garch>,
    pub har: Option<Har>,
    pub seasonal: Option<Seasonal>,
}

impl BaselineFit {
    /// One-step forecasts with nothing else to report.
    pub fn plain(one: OneStep) -> BaselineFit {
        BaselineFit {
            one,
            garch: None,
            har: None,
            seasonal: None,
        }
    }
}

/// The baseline's place in [`BASELINES`], which names its random stream (0 outside
/// the list).
pub(crate) fn index(b: &dyn BaselineModel) -> usize {
    BASELINES
        .iter()
        .position(|x| x.name() == b.name())
        .unwrap_or(0)
}
