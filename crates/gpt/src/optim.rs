//! AdamW with nanoGPT-style decay groups, gradient-norm clipping and state that can
//! be saved and restored, so a resumed run continues bit for bit.
//!
//! candle-nn's `AdamW` keeps its moments and step private, decays every variable
//! and does not clip; this one does what training here needs and no more.

use crate::error::{GptError, Result};
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWParams {
    #[serde(default = "beta1")]
    pub beta1: f64,
    #[serde(default = "beta2")]
    pub beta2: f64,
    #[serde(default = "eps")]
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices (rank >= 2) only: biases and
    /// LayerNorm gains are not pulled towards zero.
    #[serde(default = "weight_decay")]
    pub weight_decay: f64,
}

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.95
}
fn eps() -> f64 {
    1e-8
}
fn weight_decay() -> f64 {
    0.1
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams {
            beta1: beta1(),
            beta2: beta2(),
            eps: eps(),
            weight_decay: weight_decay(),
        }
    }
}

struct Slot {
    name: String,
    var: Var,
    decay: bool,
    m: Tensor,
    v: Tensor,
}

pub struct AdamW {
    slots: Vec<Slot>,
    params: AdamWParams,
    step: u64,
}

impl AdamW {
    /// Optimises the variables of `varmap` for which `trainable(name)` holds, in
    /// name order (so state files and updates do not depend on hash order).
    pub fn new(
        varmap: &VarMap,
        params: AdamWParams,
        trainable: impl Fn(&str) -> bool,
    ) -> Result<AdamW> {
        let data = varmap.data().lock().map_err(|_| GptError::LockPoisoned)?;
        let mut names: Vec<&String> = data.keys().filter(|n| trainable(n)).collect();
        names.sort();
        let mut slots = Vec::with_capacity(names.len());
        for name in names {
            let var = data[name].clone();
            let zeros = var.as_tensor().zeros_like()?;
            slots.push(Slot {
                name: name.clone(),
                decay: var.as_tensor().rank() >= 2,
                m: zeros.clone(),
                v: zeros,
                var,
            });
        }
        Ok(AdamW {
            slots,
            params,
            step: 0,
        })
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The global L2 norm of the gradients of the optimised variables.
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut sq = 0.0f64;
        for s in &self.slots {
            if let Some(g) = grads.get(s.var.as_tensor()) {
                sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        Ok(sq.sqrt())
    }

    /// One update at learning rate `lr`, gradients scaled by `grad_scale` (the
    /// clipping factor). A variable without a gradient is an error: it means the
    /// graph was cut somewhere.
    pub fn step(&mut self, grads: &GradStore, lr: f64, grad_scale: f64) -> Result<()> {
        self.step += 1;
        let p = self.params;
        let bc1 = 1.0 - p.beta1.powi(self.step as i32);
        let bc2 = 1.0 - p.beta2.powi(self.step as i32);
        for s in &mut self.slots {
            let g = grads
                .get(s.var.as_tensor())
                .ok_or_else(|| GptError::NoGradient(s.name.clone()))?;
            let g = (g * grad_scale)?;
            s.m = ((&s.m * p.beta1)? + (&g * (1.0 - p.beta1))?)?;
            s.v = ((&s.v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let m_hat = (&s.m / bc1)?;
            let v_hat = (&s.v / bc2)?;
            let mut theta = s.var.as_tensor().clone();
            if s.decay && p.weight_decay > 0.0 {
                theta = (theta * (1.0 - lr * p.weight_decay))?;
            }
            let update = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
            s.var.set(&(theta - (update * lr)?)?)?;
        }
        Ok(())
    }

    /// Moments as named tensors (`m.NAME`, `v.NAME`) for a checkpoint.
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for s in &self.slots {
            out.insert(format!("m.{}", s.name), s.m.clone());
            out.insert(format!("v.{}", s.name), s.v.clone());
        }
        out
    }

    /// Restores moments saved by [`AdamW::state`] and the step count.
    pub fn load_state(&mut self, mut state: HashMap<String, Tensor>, step: u64) -> Result<()> {
        for s in &mut self.slots {
            for (key, dst) in [
                (format!("m.{}", s.name), &mut s.m),
                (format!("v.{}", s.name), &mut s.v),
            ] {
                let t = state
                    .remove(&key)
                    .ok_or_else(|| GptError::Weights(format!("optimiser state lacks '{key}'")))?;
                if t.dims() != dst.dims() {
                    return Err(GptError::Weights(format!(
                        "optimiser state '{key}' has shape {:?}",
                        t.dims()
                    )));
                }
                *dst = t;
            }
        }
        self.step = step;
        Ok(())
    }
}
