//! The GPT as a one-step forecaster: at every test bar, the next-token distribution
//! from the preceding `context` tokens, marginalised to the close-return bins and
//! placed at the bins' representative returns times the bar's scale. The result is
//! a finite mixture, so its CRPS is exact (no sampling noise).

use crate::baseline::{OneStep, Predictive};
use candle_core::{Device, Tensor};
use candlecast_data::Series;
use candlecast_gpt::{Gpt, GptError};
use candlecast_tokenize::{TokenId, Tokenizer};

/// How to run the model as a forecaster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GptForecastParams {
    /// Tokens of context (at most the model's `max_ctx`).
    pub context: usize,
    /// Logits are divided by this before the softmax (1 = the model as trained).
    pub temperature: f64,
    /// Origins per forward pass.
    pub batch: usize,
}

/// One-step forecasts of the close log-return of every bar from `split` on.
pub fn gpt_one_step(
    model: &Gpt,
    tok: &Tokenizer,
    series: &Series,
    split: usize,
    p: GptForecastParams,
) -> Result<OneStep, GptError> {
    if model.config().vocab_size != tok.vocab_size() {
        return Err(GptError::Config(format!(
            "the model's vocabulary ({}) does not match the tokenizer's ({})",
            model.config().vocab_size,
            tok.vocab_size()
        )));
    }
    let ctx = p.context.clamp(1, model.config().max_ctx);
    let enc = tok.encode(series);
    // Bar token position of every bar (the last token describing it).
    let mut pos_of_bar = vec![usize::MAX; series.len()];
    for (i, &b) in enc.bar.iter().enumerate() {
        if let Some(slot) = pos_of_bar.get_mut(b as usize) {
            *slot = i;
        }
    }
    let close = series.close();
    let targets: Vec<(usize, f64)> = (split.max(1)..series.len())
        .filter(|&t| pos_of_bar[t] != usize::MAX && pos_of_bar[t] >= 1)
        .map(|t| (pos_of_bar[t], (close[t] / close[t - 1]).ln()))
        .collect();
    // Representative return (in scale units) and bin of every bar token.
    let vocab = tok.vocab_size();
    let reps: Vec<Option<(usize, f64)>> = (0..vocab as u32)
        .map(|t| {
            let id = TokenId(t);
            Some((tok.factors(id)?.return_bin, tok.return_representative(id)?))
        })
        .collect();
    let n_bins = tok.return_bins();
    let mut bin_rep = vec![0.0; n_bins];
    for (b, r) in reps.iter().flatten() {
        bin_rep[*b] = *r;
    }
    let device = Device::Cpu;
    let ids: Vec<u32> = enc.tokens.iter().map(|t| t.0).collect();
    let mut preds = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(p.batch.max(1)) {
        // Group by available context length so each forward is one rectangle.
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (k, &(pos, _)) in chunk.iter().enumerate() {
            groups.entry(pos.min(ctx)).or_default().push(k);
        }
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; chunk.len()];
        for (len, members) in groups {
            let flat: Vec<u32> = members
                .iter()
                .flat_map(|&k| ids[chunk[k].0 - len..chunk[k].0].iter().copied())
                .collect();
            let x = Tensor::from_vec(flat, (members.len(), len), &device)?;
            let logits = model.forward_last(&x, 0, &mut model.new_cache())?;
            let logits = (logits / p.temperature)?.to_vec2::<f32>()?;
            for (k, l) in members.into_iter().zip(logits) {
                rows[k] = Some(l);
            }
        }
        for (k, &(pos, _)) in chunk.iter().enumerate() {
            let Some(logits) = &rows[k] else { continue };
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut mass = vec![0.0f64; n_bins];
            for (t, &l) in logits.iter().enumerate() {
                if let Some(Some((b, _))) = reps.get(t) {
                    mass[*b] += ((l - max) as f64).exp();
                }
            }
            let scale = enc.scale[pos];
            preds.push(Predictive::atoms(
                bin_rep
                    .iter()
                    .zip(&mass)
                    .map(|(&r, &m)| (r * scale, m))
                    .collect(),
            ));
        }
    }
    Ok(OneStep {
        name: "gpt",
        preds,
        targets: targets.iter().map(|t| t.1).collect(),
    })
}
