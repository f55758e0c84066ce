//! `fhs-range`: filtered historical simulation with the EWMA driven by the bars'
//! Garman-Klass range variance, which sees intrabar moves the close misses.

use super::common::{filtered, range_drivers, split, BaselineError, History, OneStep};
use super::{BaselineFit, BaselineModel};

/// The one spelling of the name: the forecasts carry it and the registry lists it.
const NAME: &str = "fhs-range";

pub fn fhs_range(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    // r[i] ends on bar i+1: its range variance drives the forecast of r[i+1].
    let drivers = range_drivers(h, &s);
    filtered(NAME, &s, &drivers)
}

pub struct FhsRange;

impl BaselineModel for FhsRange {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        Ok(BaselineFit::plain(fhs_range(h)?))
    }
}
