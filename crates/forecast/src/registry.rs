//! The classical baselines by name and scorecard order, and their one-step fits.
//! Kept apart from the [`crate::Forecaster`] interface (which carries them to many
//! steps) so that the scorecard can list and fit them without importing the
//! multi-step code, which itself scores through the scorecard.

use crate::baseline::{self, BaselineError, History, OneStep};

/// The classical baselines, in the scorecard's order (`rw-const` first: the base
/// of relative CRPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    RwConst,
    RwEwma,
    Garch,
    Historical,
    Fhs,
    FhsRange,
    Har,
    FhsSeasonal,
}

pub const BASELINES: [Baseline; 8] = [
    Baseline::RwConst,
    Baseline::RwEwma,
    Baseline::Garch,
    Baseline::Historical,
    Baseline::Fhs,
    Baseline::FhsRange,
    Baseline::Har,
    Baseline::FhsSeasonal,
];

/// A baseline's one-step forecasts and what its multi-step forecasts need.
pub(crate) struct Fit {
    pub one: OneStep,
    pub garch: Option<baseline::Garch>,
    pub har: Option<baseline::Har>,
    pub seasonal: Option<baseline::Seasonal>,
}

impl Baseline {
    /// The one-step forecasts (and GARCH's fitted parameters).
    pub fn fit(self, h: &History<'_>) -> Result<(OneStep, Option<baseline::Garch>), BaselineError> {
        let f = self.fit_all(h)?;
        Ok((f.one, f.garch))
    }

    pub(crate) fn fit_all(self, h: &History<'_>) -> Result<Fit, BaselineError> {
        let plain = |one| Fit {
            one,
            garch: None,
            har: None,
            seasonal: None,
        };
        Ok(match self {
            Baseline::RwConst => plain(baseline::rw_const(h)?),
            Baseline::RwEwma => plain(baseline::rw_ewma(h)?),
            Baseline::Garch => {
                let (one, g) = baseline::garch(h)?;
                Fit {
                    garch: Some(g),
                    ..plain(one)
                }
            }
            Baseline::Historical => plain(baseline::historical(h)?),
            Baseline::Fhs => plain(baseline::fhs(h)?),
            Baseline::FhsRange => plain(baseline::fhs_range(h)?),
            Baseline::Har => {
                let (one, har) = baseline::har(h)?;
                Fit {
                    har: Some(har),
                    ..plain(one)
                }
            }
            Baseline::FhsSeasonal => {
                let (one, seasonal) = baseline::fhs_seasonal(h)?;
                Fit {
                    seasonal,
                    ..plain(one)
                }
            }
        })
    }

    /// The baseline's place in [`BASELINES`], which names its random stream.
    pub(crate) fn index(self) -> usize {
        BASELINES.iter().position(|&b| b == self).unwrap_or(0)
    }

    /// The name the scorecard, the CLI and the reports know the baseline by.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::RwConst => "rw-const",
            Baseline::RwEwma => "rw-ewma",
            Baseline::Garch => "garch",
            Baseline::Historical => "hs",
            Baseline::Fhs => "fhs",
            Baseline::FhsRange => "fhs-range",
            Baseline::Har => "har",
            Baseline::FhsSeasonal => "fhs-seasonal",
        }
    }
}
