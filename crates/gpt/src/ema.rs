//! An exponential moving average of the weights (Polyak averaging), for runs that
//! validate and ship the average instead of the last step's weights.
//!
//! The weights at any one step carry that step's batch noise; their average over
//! the last tens of steps does not, which helps runs that end at a high learning
//! rate. Off by default: on this project's fine-tunes and pretrainings, whose
//! cosine schedules end at a tenth of the peak rate, it scored no better on
//! validation (README, Configuration, `ema`). The average starts at the run's
//! first weights (for a fine-tune, the pretrained ones) and its decay warms up as
//! `min(decay, (1 + n) / (10 + n))` after `n` updates, so a run from a random init
//! does not drag its init along for hundreds of steps.

use crate::error::{GptError, Result};
use candle_core::Tensor;
use candle_nn::VarMap;
use std::collections::HashMap;

/// The averaged weights of every variable, by name.
pub struct Ema {
    decay: f64,
    weights: HashMap<String, Tensor>,
}

impl Ema {
    /// Starts the average at the current values of `varmap`.
    pub fn new(varmap: &VarMap, decay: f64) -> Result<Ema> {
        Ok(Ema {
            decay,
            weights: copies(varmap)?,
        })
    }

    /// An average restored from a checkpoint (`weights` as [`Ema::weights`] gave them).
    pub fn from_weights(weights: HashMap<String, Tensor>, decay: f64) -> Ema {
        Ema { decay, weights }
    }

    /// The decay of update number `n + 1` (0-based `n` updates done before it).
    pub fn decay_at(&self, n: u64) -> f64 {
        self.decay.min((1.0 + n as f64) / (10.0 + n as f64))
    }

    /// Folds the current values of `varmap` in, as update number `n + 1`.
    pub fn update(&mut self, varmap: &VarMap, n: u64) -> Result<()> {
        let d = self.decay_at(n);
        let data = varmap.data().lock().map_err(|_| GptError::LockPoisoned)?;
        for (name, var) in data.iter() {
            let w = var.as_tensor();
            let avg = match self.weights.get(name) {
                Some(a) => ((a * d)? + (w * (1.0 - d))?)?,
                None => w.copy()?,
            };
            self.weights.insert(name.clone(), avg);
        }
        Ok(())
    }

    pub fn weights(&self) -> &HashMap<String, Tensor> {
        &self.weights
    }
}

/// Copies of every variable of `varmap`, by name.
pub fn copies(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    let data = varmap.data().lock().map_err(|_| GptError::LockPoisoned)?;
    data.iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
        .collect()
}

/// Sets every variable of `varmap` that `weights` names.
pub fn assign(varmap: &VarMap, weights: &HashMap<String, Tensor>) -> Result<()> {
    let data = varmap.data().lock().map_err(|_| GptError::LockPoisoned)?;
    for (name, var) in data.iter() {
        if let Some(t) = weights.get(name) {
            var.set(t)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn one_var(v: f32) -> Result<VarMap> {
        let vm = VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        vb.get_with_hints(2, "w", candle_nn::Init::Const(v as f64))?;
        Ok(vm)
    }

    fn value(e: &Ema) -> Result<Vec<f32>> {
        Ok(e.weights()["w"].to_vec1::<f32>()?)
    }

    #[test]
    fn the_average_warms_up_then_follows_the_weights_slowly() -> Result<()> {
        let vm = one_var(0.0)?;
        let mut e = Ema::new(&vm, 0.9)?;
        assert_eq!(value(&e)?, vec![0.0, 0.0]);
        // First update: decay 1/10, so 90% of the new weights.
        assign(
            &vm,
            &HashMap::from([("w".into(), Tensor::new(&[10f32, 10.0], &Device::Cpu)?)]),
        )?;
        e.update(&vm, 0)?;
        assert!((value(&e)?[0] - 9.0).abs() < 1e-5);
        // Far along the decay is capped at 0.9.
        assert_eq!(e.decay_at(1000), 0.9);
        assign(
            &vm,
            &HashMap::from([("w".into(), Tensor::new(&[20f32, 20.0], &Device::Cpu)?)]),
        )?;
        e.update(&vm, 1000)?;
        assert!((value(&e)?[1] - (0.9 * 9.0 + 0.1 * 20.0)).abs() < 1e-4);
        // The live weights are untouched by the average.
        let live = copies(&vm)?;
        assert_eq!(live["w"].to_vec1::<f32>()?, vec![20.0, 20.0]);
        Ok(())
    }
}
