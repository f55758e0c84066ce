//! `fhs`: filtered historical simulation on the EWMA of squared returns.

use super::common::{filtered, split, BaselineError, History, OneStep};
use super::{BaselineFit, BaselineModel};

pub fn fhs(h: &History<'_>) -> Result<OneStep, BaselineError> {
    let s = split(h)?;
    let sq: Vec<f64> = s.r.iter().map(|x| x * x).collect();
    filtered("fhs", &s, &sq)
}

pub struct Fhs;

impl BaselineModel for Fhs {
    fn name(&self) -> &'static str {
        "fhs"
    }

    fn fit(&self, h: &History<'_>) -> Result<BaselineFit, BaselineError> {
        Ok(BaselineFit::plain(fhs(h)?))
    }
}
