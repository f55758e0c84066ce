//! `fhs`: filtered historical simulation on the EWMA of squared returns.

use super::common::{filtered, split, BaselineError, History, OneStep};
use super::{BaselineFit, BaselineModel};

/// The one spelling of the name: the forecasts carry it and the registry lists it.
const NAME: &str = "fhs";

pub fn fhs(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
    filtered(NAME, &s, &sq)
}

pub struct Fhs;

impl BaselineModel for Fhs {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        Ok(BaselineFit::plain(fhs(h)?))
    }
}
