//! `rw-const`: the random walk with the training variance, the base of relative
//! CRPS (every other forecaster is judged as a share of it).

use super::common::{mean_sq, normal_preds, split, BaselineError, History, OneStep};
use super::{BaselineFit, BaselineModel};

/// The one spelling of the name: the forecasts carry it and the registry lists it.
const NAME: &str = "rw-const";

pub fn rw_const(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let v = mean_sq(&s.r[..s.first]);
    if v <= 0.0 {
        return Err(BaselineError::Flat);
    }
    Ok(normal_preds(NAME, &s, |_| v.sqrt(), 0.0))
}

pub struct RwConst;

impl BaselineModel for RwConst {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        Ok(BaselineFit::plain(rw_const(h)?))
    }
}
