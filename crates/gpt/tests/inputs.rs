#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Extra input channels: their ids change the logits, the cache and the sliding
//! window give the full pass with them, a model without channels is the old model
//! bit for bit, bad ids are typed errors, gradients reach the tables, and
//! checkpoints (save, resume, load) carry them.

use candle_core::{Device, Tensor};
use candlecast_gpt::checkpoint::{self, MODEL_FILE, OPTIMIZER_FILE};
use candlecast_gpt::{
    AdamWParams, Decoder, Event, Gpt, GptConfig, GptError, InputChannel, Rng, TokenData,
    TrainConfig, Trainer,
};
use std::path::Path;

const SIZES: [usize; 2] = [5, 3];

fn cfg(with_inputs: bool) -> GptConfig {
    GptConfig {
        max_ctx: 8,
        d_model: 32,
        inputs: match with_inputs {
            true => vec![
                InputChannel {
                    name: "clock".into(),
                    size: SIZES[0],
                },
                InputChannel {
                    name: "volume".into(),
                    size: SIZES[1],
                },
            ],
            false => vec![],
        },
        ..GptConfig::tiny(12)
    }
}

/// Random tokens and ids, `(B, T)` and `(B, T, 2)` as nested vectors.
fn random(b: usize, t: usize, seed: u64) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut r = Rng::new(seed);
    let toks = (0..b)
        .map(|_| (0..t).map(|_| r.below(12) as u32).collect())
        .collect();
    let ids = (0..b)
        .map(|_| {
            (0..t)
                .flat_map(|_| [r.below(SIZES[0]) as u32, r.below(SIZES[1]) as u32])
                .collect()
        })
        .collect();
    (toks, ids)
}

fn t2(rows: &[Vec<u32>]) -> Tensor {
    let flat: Vec<u32> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), rows[0].len()), &Device::Cpu).unwrap()
}

fn t3(rows: &[Vec<u32>]) -> Tensor {
    let flat: Vec<u32> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), rows[0].len() / 2, 2), &Device::Cpu).unwrap()
}

fn vec_of(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn ids_change_the_logits_and_are_checked() {
    let (model, _) = Gpt::init(&cfg(true), 1, &Device::Cpu).unwrap();
    let (toks, ids) = random(2, 6, 3);
    let a = model
        .forward_with(&t2(&toks), Some(&t3(&ids)), 0, &mut model.new_cache())
        .unwrap();
    let mut other = ids.clone();
    other[0][4] = (other[0][4] + 1) % SIZES[0] as u32; // position 2, channel 0, row 0
    let b = model
        .forward_with(&t2(&toks), Some(&t3(&other)), 0, &mut model.new_cache())
        .unwrap();
    let (a, b) = (a.to_vec3::<f32>().unwrap(), b.to_vec3::<f32>().unwrap());
    assert_eq!(a[1], b[1], "another row changed");
    assert_eq!(a[0][..2], b[0][..2], "an earlier position changed");
    assert!(max_diff(&a[0][2], &b[0][2]) > 1e-4, "the ids did nothing");

    // No ids for a model with channels, a wrong shape, an id past its table.
    let mut cache = model.new_cache();
    assert!(model.forward(&t2(&toks), 0, &mut cache).is_err());
    let two = t3(&ids).narrow(2, 0, 1).unwrap();
    assert!(model
        .forward_with(&t2(&toks), Some(&two), 0, &mut model.new_cache())
        .is_err());
    let mut bad = ids.clone();
    bad[1][3] = SIZES[1] as u32; // position 1, channel 1
    let e = model.forward_with(&t2(&toks), Some(&t3(&bad)), 0, &mut model.new_cache());
    assert!(
        matches!(
            e,
            Err(GptError::InputOutOfRange {
                channel: 1,
                id: 3,
                size: 3,
                ..
            })
        ),
        "{e:?}"
    );
    // A model without channels refuses ids.
    let (plain, _) = Gpt::init(&cfg(false), 1, &Device::Cpu).unwrap();
    assert!(plain
        .forward_with(&t2(&toks), Some(&t3(&ids)), 0, &mut plain.new_cache())
        .is_err());
}

/// Without channels the model is the old one: same init for every shared tensor,
/// and with the extra tables set to zero a model with channels gives exactly the
/// logits of the model without them.
#[test]
fn zero_channels_is_the_old_model_bit_for_bit() {
    let (plain, pv) = Gpt::init(&cfg(false), 4, &Device::Cpu).unwrap();
    let (_, wv) = Gpt::init(&cfg(true), 4, &Device::Cpu).unwrap();
    let (pd, wd) = (pv.data().lock().unwrap(), wv.data().lock().unwrap());
    for (name, var) in pd.iter() {
        assert_eq!(
            vec_of(var.as_tensor()),
            vec_of(wd[name].as_tensor()),
            "{name} differs"
        );
    }
    let mut tensors: std::collections::HashMap<String, Tensor> = wd
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().copy().unwrap()))
        .collect();
    for c in &cfg(true).inputs {
        let t = Tensor::zeros((c.size, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
        tensors.insert(format!("inputs.{}.weight", c.name), t);
    }
    let zeroed = Gpt::from_tensors(&cfg(true), tensors, &Device::Cpu).unwrap();
    let (toks, ids) = random(3, 7, 5);
    let a = plain
        .forward(&t2(&toks), 0, &mut plain.new_cache())
        .unwrap();
    let b = zeroed
        .forward_with(&t2(&toks), Some(&t3(&ids)), 0, &mut zeroed.new_cache())
        .unwrap();
    assert_eq!(vec_of(&a), vec_of(&b));
    let c = plain
        .forward_with(&t2(&toks), None, 0, &mut plain.new_cache())
        .unwrap();
    assert_eq!(vec_of(&a), vec_of(&c));
}

/// Cached decoding with ids equals the full pass (batch 2, the window sliding
/// several times), whether the prompt is shared by repeated rows or not.
#[test]
fn cache_and_slides_equal_the_full_pass_with_inputs() {
    let (model, _) = Gpt::init(&cfg(true), 2, &Device::Cpu).unwrap();
    // Larger than the init so a wrong id would show.
    let (toks, ids) = random(2, 20, 8);
    let mut dec = Decoder::new(&model).with_keep(5).unwrap();
    let prompt: Vec<Vec<u32>> = toks.iter().map(|r| r[..6].to_vec()).collect();
    let prompt_ids: Vec<Vec<u32>> = ids.iter().map(|r| r[..12].to_vec()).collect();
    let first = dec.prefill_with(&prompt, &prompt_ids).unwrap();
    let full = model
        .forward_last_with(
            &t2(&prompt),
            Some(&t3(&prompt_ids)),
            0,
            &mut model.new_cache(),
        )
        .unwrap();
    assert!(max_diff(&vec_of(&first), &vec_of(&full)) < 1e-5);
    let (mut window, mut window_ids) = (prompt, prompt_ids);
    for t in 6..20 {
        let step: Vec<u32> = toks.iter().map(|r| r[t]).collect();
        let step_ids: Vec<u32> = ids
            .iter()
            .flat_map(|r| r[2 * t..2 * t + 2].to_vec())
            .collect();
        let got = dec.step_with(&step, &step_ids).unwrap();
        if window[0].len() == 8 {
            for w in &mut window {
                w.drain(..3);
            }
            for w in &mut window_ids {
                w.drain(..6);
            }
        }
        for (b, w) in window.iter_mut().enumerate() {
            w.push(step[b]);
            window_ids[b].extend_from_slice(&step_ids[2 * b..2 * b + 2]);
        }
        let full = model
            .forward_last_with(
                &t2(&window),
                Some(&t3(&window_ids)),
                0,
                &mut model.new_cache(),
            )
            .unwrap();
        let d = max_diff(&vec_of(&got), &vec_of(&full));
        assert!(d < 1e-4, "step {t}: {d}");
    }
    assert!(dec.slides() >= 3, "slid {} times", dec.slides());

    // Repeated rows and the uncached session agree with the plain cached one.
    let one: Vec<Vec<u32>> = vec![toks[0][..6].to_vec()];
    let one_ids: Vec<Vec<u32>> = vec![ids[0][..12].to_vec()];
    let mut shared = Decoder::new(&model).with_keep(5).unwrap();
    let mut uncached = Decoder::new(&model).with_keep(5).unwrap().uncached();
    let mut plain = Decoder::new(&model).with_keep(5).unwrap();
    let a = shared.prefill_repeated_with(&one, &one_ids, 2).unwrap();
    let b = uncached.prefill_repeated_with(&one, &one_ids, 2).unwrap();
    let c = plain
        .prefill_with(
            &[one[0].clone(), one[0].clone()],
            &[one_ids[0].clone(), one_ids[0].clone()],
        )
        .unwrap();
    assert!(max_diff(&vec_of(&a), &vec_of(&c)) < 1e-5);
    assert!(max_diff(&vec_of(&b), &vec_of(&c)) < 1e-5);
    for t in 6..16 {
        let step = vec![toks[0][t], toks[1][t]];
        let step_ids: Vec<u32> = vec![
            ids[0][2 * t],
            ids[0][2 * t + 1],
            ids[1][2 * t],
            ids[1][2 * t + 1],
        ];
        let a = shared.step_with(&step, &step_ids).unwrap();
        let b = uncached.step_with(&step, &step_ids).unwrap();
        let c = plain.step_with(&step, &step_ids).unwrap();
        assert!(max_diff(&vec_of(&a), &vec_of(&c)) < 1e-4, "step {t}");
        assert!(max_diff(&vec_of(&b), &vec_of(&c)) < 1e-4, "step {t}");
    }
    // Wrong counts of ids are errors, not panics.
    assert!(plain.step_with(&[1, 2], &[0, 0, 0]).is_err());
    assert!(plain.prefill_with(&one, &[]).is_err());
}

/// Sequences where the next token depends on the input ids only: a model with the
/// channels can learn it, and every variable (the tables too) gets a gradient.
fn data() -> TokenData {
    let mut r = Rng::new(5);
    let mut seq = |n: usize| -> (Vec<u32>, Vec<u32>) {
        let ids: Vec<u32> = (0..n)
            .flat_map(|_| [r.below(SIZES[0]) as u32, r.below(SIZES[1]) as u32])
            .collect();
        let toks = (0..n)
            .map(|i| match i {
                0 => 0,
                _ => (ids[2 * (i - 1)] + 3 * ids[2 * (i - 1) + 1]) % 12,
            })
            .collect();
        (toks, ids)
    };
    let (a, ai) = seq(300);
    let (b, bi) = seq(200);
    let (v, vi) = seq(100);
    TokenData {
        train: vec![a, b],
        val: vec![v],
        train_inputs: vec![ai, bi],
        val_inputs: vec![vi],
    }
}

fn train_cfg(steps: u64) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: 8,
        seq_len: 8,
        lr: 3e-3,
        min_lr: 3e-4,
        warmup_steps: 5,
        grad_clip: 1.0,
        eval_every: 10,
        eval_windows: 16,
        patience: 0,
        checkpoint_every: 0,
        seed: 11,
        freeze_blocks: 0,
        target_smoothing: 0.0,
        ema: 0.0,
        min_epochs: 0.0,
        optimizer: AdamWParams::default(),
    }
}

fn trainer(steps: u64) -> Trainer {
    let (model, vars) = Gpt::init(&cfg(true), 3, &Device::Cpu).unwrap();
    Trainer::new(model, vars, train_cfg(steps)).unwrap()
}

#[test]
fn gradients_reach_the_input_tables() {
    let t = trainer(1);
    let d = data();
    let w = &t.val_windows(&d)[0];
    let x = Tensor::new(w.x.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let y = Tensor::new(w.y.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let ids = Tensor::from_vec(w.inputs.clone(), (1, w.x.len(), 2), &Device::Cpu).unwrap();
    let grads = t.loss_with(&x, Some(&ids), &y).unwrap().backward().unwrap();
    let vars = t.varmap.data().lock().unwrap();
    assert!(vars.contains_key("inputs.clock.weight") && vars.contains_key("inputs.volume.weight"));
    let missing: Vec<&String> = vars
        .iter()
        .filter(|(_, v)| {
            grads.get(v.as_tensor()).is_none_or(|g| {
                g.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    == 0.0
            })
        })
        .map(|(k, _)| k)
        .collect();
    assert!(missing.is_empty(), "no gradient for {missing:?}");
    // Data whose ids do not line up with the tokens is refused before training.
    let mut bad = data();
    bad.train_inputs[0].pop();
    assert!(trainer(1).run(&bad, |_| Ok(())).is_err());
}

#[test]
fn training_uses_the_inputs_and_resumes_bit_identically() {
    let d = data();
    let mut t = trainer(120);
    let before = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    t.run(&d, |_| Ok(())).unwrap();
    let after = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    // The next token is a function of the ids (15 combinations over 12 tokens):
    // far below ln 12 = 2.48 only if the ids are used.
    assert!(after < 1.0, "{before} -> {after}");

    let tmp = std::env::temp_dir().join(format!("candlecast-gpt-inputs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (a, c) = (tmp.join("a"), tmp.join("c"));
    let extra = serde_json::json!({});
    let mut full = trainer(30);
    full.run(&d, |e| match e {
        Event::Checkpoint(t) => checkpoint::save(&a, t, &extra),
        Event::Step(_) => Ok(()),
    })
    .unwrap();
    let mut part = trainer(30);
    part.cfg.checkpoint_every = 12;
    let r = part.run(&d, |e| match e {
        Event::Checkpoint(t) => {
            checkpoint::save(&c, t, &extra)?;
            Err(GptError::Stopped("interrupted".into()))
        }
        Event::Step(_) => Ok(()),
    });
    assert!(r.is_err());
    let (mut resumed, _) = checkpoint::load_trainer(&c, None, &Device::Cpu).unwrap();
    resumed.cfg.checkpoint_every = 0;
    resumed
        .run(&d, |e| match e {
            Event::Checkpoint(t) => checkpoint::save(&c, t, &extra),
            Event::Step(_) => Ok(()),
        })
        .unwrap();
    assert_eq!(bytes(&a), bytes(&c), "resumed run differs");
    // The inference loader gets the channels back, and the same logits.
    let (m, meta) = checkpoint::load_model(&a, &Device::Cpu).unwrap();
    assert_eq!(meta.model, cfg(true));
    let (toks, ids) = random(2, 5, 1);
    let x = m
        .forward_with(&t2(&toks), Some(&t3(&ids)), 0, &mut m.new_cache())
        .unwrap();
    let y = full
        .model
        .forward_with(&t2(&toks), Some(&t3(&ids)), 0, &mut full.model.new_cache())
        .unwrap();
    assert!(max_diff(&vec_of(&x), &vec_of(&y)) < 1e-5);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn bytes(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join(MODEL_FILE)).unwrap(),
        std::fs::read(dir.join(OPTIMIZER_FILE)).unwrap(),
    )
}
