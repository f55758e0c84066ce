//! `hs`: plain historical simulation, the training returns as they were.

use super::common::{split, BaselineError, History, OneStep, Predictive};
use super::{BaselineFit, BaselineModel};
use crate::empirical::Empirical;
use std::sync::Arc;

/// The one spelling of the name: the forecasts carry it and the registry lists it.
const NAME: &str = "hs";

pub fn historical(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let dist = Arc::new(Empirical::new(s.r[..s.first].iter().copied()).ok_or(BaselineError::Flat)?);
    let idx = s.first..s.r.len();
    Ok(OneStep {
        name: NAME,
        preds: idx
            .clone()
            .map(|_| Predictive::Scaled {
                dist: dist.clone(),
                loc: 0.0,
                scale: 1.0,
            })
            .collect(),
        targets: s.r[idx].to_vec(),
    })
}

pub struct Hs;

impl BaselineModel for Hs {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        Ok(BaselineFit::plain(historical(h)?))
    }
}
