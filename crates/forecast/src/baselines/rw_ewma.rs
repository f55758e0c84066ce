//! `rw-ewma`: the random walk with RiskMetrics' EWMA variance.

use super::common::{
    ewma_variance, mean_sq, normal_preds, split, BaselineError, History, OneStep, EWMA_LAMBDA,
};
use super::{BaselineFit, BaselineModel};

/// The one spelling of the name: the forecasts carry it and the registry lists it.
const NAME: &str = "rw-ewma";

pub fn rw_ewma(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let v0 = mean_sq(&s.r[..s.first]);
    if v0 <= 0.0 {
        return Err(BaselineError::Flat);
    }
    let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
    let v = ewma_variance(&sq, v0, EWMA_LAMBDA);
    Ok(normal_preds(NAME, &s, |i| v[i].sqrt(), 0.0))
}

pub struct RwEwma;

impl BaselineModel for RwEwma {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        Ok(BaselineFit::plain(rw_ewma(h)?))
    }
}
