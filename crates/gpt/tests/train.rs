#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Training learns, every variable gets a gradient, runs are reproducible, and a
//! resumed run ends exactly where an uninterrupted one does.

use candle_core::Device;
use candlecast_gpt::checkpoint::{self, MODEL_FILE, OPTIMIZER_FILE};
use candlecast_gpt::{
    AdamWParams, Event, Gpt, GptConfig, GptError, Rng, SoftTargets, TokenData, TrainConfig, Trainer,
};
use std::path::Path;

fn cfg() -> GptConfig {
    GptConfig {
        max_ctx: 16,
        d_model: 32,
        ..GptConfig::tiny(12)
    }
}

fn train_cfg(steps: u64) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: 8,
        seq_len: 12,
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

/// Sequences with learnable structure: a noisy counter modulo 12.
fn data() -> TokenData {
    let mut r = Rng::new(5);
    let mut seq = |n: usize| -> Vec<u32> {
        let mut t = 0u32;
        (0..n)
            .map(|_| {
                t = if r.uniform() < 0.9 {
                    (t + 1) % 12
                } else {
                    r.below(12) as u32
                };
                t
            })
            .collect()
    };
    TokenData {
        train: vec![seq(400), seq(250)],
        val: vec![seq(120)],
        ..TokenData::default()
    }
}

fn trainer(steps: u64) -> Trainer {
    trainer_with(train_cfg(steps))
}

/// A fresh model (seed 3) with its trainer under `tc`.
fn trainer_with(tc: TrainConfig) -> Trainer {
    let (model, vars) = Gpt::init(&cfg(), 3, &Device::Cpu).unwrap();
    Trainer::new(model, vars, tc).unwrap()
}

#[test]
fn every_variable_receives_a_gradient() {
    let t = trainer(1);
    let d = data();
    let w = t.val_windows(&d);
    let x = candle_core::Tensor::new(w[0].x.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let y = candle_core::Tensor::new(w[0].y.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let grads = t.loss(&x, &y).unwrap().backward().unwrap();
    let vars = t.varmap.data().lock().unwrap();
    let mut missing: Vec<&String> = vars
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
    missing.sort();
    assert!(
        missing.is_empty(),
        "no gradient for {missing:?} of {} variables",
        vars.len()
    );
}

#[test]
fn loss_falls_well_below_the_unigram_entropy() {
    let mut t = trainer(150);
    let d = data();
    let before = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    t.run(&d, |_| Ok(())).unwrap();
    let after = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    // Uniform over 12 tokens is ln 12 = 2.48 nats; the counter is ~90% predictable.
    println!("val loss {before:.3} -> {after:.3}");
    assert!(before > 2.2 && after < 1.2, "{before} -> {after}");
}

/// Smoothed targets (neighbouring classes share a target's weight) are what the
/// run minimises, validation still scores the plain cross-entropy, and a config
/// that asks for smoothing without the targets to smooth over is refused.
#[test]
fn smoothed_targets_train_and_need_their_rows() {
    let d = data();
    let smoothed = |steps| {
        trainer_with(TrainConfig {
            target_smoothing: 0.75,
            ..train_cfg(steps)
        })
    };
    let mut t = smoothed(150);
    assert!(matches!(t.run(&d, |_| Ok(())), Err(GptError::Config(_))));
    // Each class keeps 0.6 and gives 0.2 to either neighbour (mod 12).
    let rows = (0..12u32)
        .map(|c| vec![(c, 0.6), ((c + 1) % 12, 0.2), ((c + 11) % 12, 0.2)])
        .collect();
    assert!(t
        .set_soft_targets(SoftTargets::new(vec![vec![(0, 1.0)]]).unwrap())
        .is_err());
    t.set_soft_targets(SoftTargets::new(rows).unwrap()).unwrap();
    let plain_val = |t: &Trainer| t.eval(&t.val_windows(&d)).unwrap().unwrap();
    let before = plain_val(&t);
    let mut train_losses = vec![];
    t.run(&d, |e| {
        if let Event::Step(p) = e {
            train_losses.push(p.train_loss);
        }
        Ok(())
    })
    .unwrap();
    let after = plain_val(&t);
    // The smoothed targets' own entropy (0.95 nats) bounds the training loss from
    // below; the plain validation loss still falls far under ln 12.
    let last = train_losses[train_losses.len() - 10..].iter().sum::<f64>() / 10.0;
    println!("val {before:.3} -> {after:.3}, train {last:.3}");
    assert!(last > 0.95, "{last}");
    assert!(before > 2.2 && after < 1.6, "{before} -> {after}");
    assert!(TrainConfig {
        target_smoothing: f64::NAN,
        ..train_cfg(1)
    }
    .validate(16)
    .is_err());
}

/// A run ends with the weights of its best validation loss, not its last ones,
/// and a run resumed after the best keeps that best.
#[test]
fn a_finished_run_keeps_its_best_validation_weights() {
    let d = data();
    let make = || {
        let mut t = trainer(60);
        t.cfg.lr = 3e-2;
        t.cfg.min_lr = 3e-2;
        t.cfg.eval_every = 5;
        t
    };
    let mut t = make();
    t.run(&d, |_| Ok(())).unwrap();
    let vals: Vec<f64> = t.state.curve.iter().filter_map(|p| p.val_loss).collect();
    let best = t.state.best_val.unwrap();
    let last = *vals.last().unwrap();
    // The setting is chosen so that the last evaluation is not the best one.
    assert!(last > best + 1e-4, "last {last} best {best}: {vals:?}");
    let now = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    assert!(
        (now - best).abs() < 1e-6,
        "final weights give {now}, best was {best}"
    );
    // Interrupted after the best (at a checkpoint), resumed: same final bytes.
    let tmp = tempdir();
    let (a, c) = (tmp.join("a"), tmp.join("c"));
    let extra = serde_json::json!({});
    let best_step = t
        .state
        .curve
        .iter()
        .find(|p| p.val_loss == Some(best))
        .unwrap()
        .step;
    let mut full = make();
    full.run(&d, |e| match e {
        Event::Checkpoint(t) => checkpoint::save(&a, t, &extra),
        Event::Step(_) => Ok(()),
    })
    .unwrap();
    assert!(!a.join(checkpoint::BEST_FILE).exists());
    let mut part = make();
    part.cfg.checkpoint_every = best_step + 5;
    let r = part.run(&d, |e| match e {
        Event::Checkpoint(t) => {
            checkpoint::save(&c, t, &extra)?;
            Err(candlecast_gpt::GptError::Stopped("interrupted".into()))
        }
        Event::Step(_) => Ok(()),
    });
    assert!(r.is_err() && c.join(checkpoint::BEST_FILE).exists());
    let (mut resumed, _) = checkpoint::load_trainer(&c, None, &Device::Cpu).unwrap();
    resumed.cfg.checkpoint_every = 0;
    resumed
        .run(&d, |e| match e {
            Event::Checkpoint(t) => checkpoint::save(&c, t, &extra),
            Event::Step(_) => Ok(()),
        })
        .unwrap();
    assert_eq!(bytes(&a), bytes(&c));
}

fn bytes(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join(MODEL_FILE)).unwrap(),
        std::fs::read(dir.join(OPTIMIZER_FILE)).unwrap(),
    )
}

#[test]
fn same_seed_same_bytes_and_resume_is_bit_identical() {
    let d = data();
    let tmp = tempdir();
    let (a, b, c) = (tmp.join("a"), tmp.join("b"), tmp.join("c"));
    let extra = serde_json::json!({"note": "test"});
    for dir in [&a, &b] {
        let mut t = trainer(30);
        t.run(&d, |e| match e {
            Event::Checkpoint(t) => checkpoint::save(dir, t, &extra),
            Event::Step(_) => Ok(()),
        })
        .unwrap();
    }
    assert_eq!(bytes(&a), bytes(&b), "same seed, different checkpoints");
    // Interrupted at step 12 (the last checkpoint written), then resumed.
    let mut t = trainer(30);
    t.cfg.checkpoint_every = 12;
    let mut stop_after = 12;
    let r = t.run(&d, |e| match e {
        Event::Checkpoint(t) => {
            checkpoint::save(&c, t, &extra)?;
            stop_after = t.state.step;
            Err(candlecast_gpt::GptError::Stopped("interrupted".into()))
        }
        Event::Step(_) => Ok(()),
    });
    assert!(r.is_err() && stop_after == 12);
    let (mut resumed, _) = checkpoint::load_trainer(&c, None, &Device::Cpu).unwrap();
    assert_eq!(resumed.state.step, 12);
    resumed.cfg.checkpoint_every = 0;
    resumed
        .run(&d, |e| match e {
            Event::Checkpoint(t) => checkpoint::save(&c, t, &extra),
            Event::Step(_) => Ok(()),
        })
        .unwrap();
    assert_eq!(
        bytes(&a),
        bytes(&c),
        "resumed run differs from the uninterrupted one"
    );
    // The inference loader reads what training wrote.
    let (m, meta) = checkpoint::load_model(&a, &Device::Cpu).unwrap();
    assert_eq!(meta.state.step, 30);
    assert_eq!(m.config(), &cfg());
}

#[test]
fn corrupt_checkpoints_are_clear_errors() {
    let d = data();
    let dir = tempdir().join("run");
    let mut t = trainer(2);
    t.run(&d, |e| match e {
        Event::Checkpoint(t) => checkpoint::save(&dir, t, &serde_json::Value::Null),
        Event::Step(_) => Ok(()),
    })
    .unwrap();
    let model = dir.join(MODEL_FILE);
    let good = std::fs::read(&model).unwrap();
    std::fs::write(&model, &good[..good.len() / 2]).unwrap();
    let e = checkpoint::load_model(&dir, &Device::Cpu)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("model.safetensors: unreadable weights"), "{e}");
    std::fs::write(&model, vec![0u8; good.len() + (2 << 20)]).unwrap();
    let e = checkpoint::load_model(&dir, &Device::Cpu)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("more than the"), "{e}");
    std::fs::write(dir.join("meta.json"), b"{}").unwrap();
    let e = checkpoint::load_model(&dir, &Device::Cpu)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("not a candlecast checkpoint"), "{e}");
}

/// Two runs' weights swapped between their folders are refused by every loader, in
/// both folders; each unmodified run loads; a meta.json from before fingerprints loads
/// whatever weights lie beside it.
#[test]
fn weights_of_another_run_are_refused() {
    let d = data();
    let root = tempdir();
    let (a, b) = (root.join("a"), root.join("b"));
    for (dir, seed) in [(&a, 11), (&b, 12)] {
        let (model, vars) = Gpt::init(&cfg(), 3, &Device::Cpu).unwrap();
        let mut t = Trainer::new(
            model,
            vars,
            TrainConfig {
                seed,
                ..train_cfg(2)
            },
        )
        .unwrap();
        let extra = serde_json::json!({ "tokenizer": seed });
        t.run(&d, |e| match e {
            Event::Checkpoint(t) => checkpoint::save(dir, t, &extra),
            Event::Step(_) => Ok(()),
        })
        .unwrap();
    }
    let fingerprint = |dir: &Path| checkpoint::load_meta(dir).unwrap().fingerprint.unwrap();
    assert_ne!(fingerprint(&a), fingerprint(&b));
    for dir in [&a, &b] {
        checkpoint::load_model(dir, &Device::Cpu).unwrap();
        let (t, _) = checkpoint::load_trainer(dir, None, &Device::Cpu).unwrap();
        assert_eq!(
            t.fingerprint,
            Some(fingerprint(dir)),
            "a resume keeps its run"
        );
        let (t, _) = checkpoint::load_trainer(dir, Some(train_cfg(2)), &Device::Cpu).unwrap();
        assert_eq!(t.fingerprint, None, "a fine-tune is a new run");
    }
    let refused = |dir: &Path, r: Result<(), GptError>| {
        let e = r
            .err()
            .unwrap_or_else(|| panic!("{} loaded", dir.display()));
        let msg = e.to_string();
        assert!(matches!(e, GptError::RunMismatch(_)), "{msg}");
        for part in ["come from different runs", "meta.json", &fingerprint(dir)] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
        msg
    };
    let swap = |name: &str| {
        let (x, y) = (read(&a.join(name)), read(&b.join(name)));
        std::fs::write(a.join(name), y).unwrap();
        std::fs::write(b.join(name), x).unwrap();
    };
    swap(MODEL_FILE);
    for dir in [&a, &b] {
        let msg = refused(dir, checkpoint::load_model(dir, &Device::Cpu).map(|_| ()));
        assert!(
            msg.contains(&dir.join(MODEL_FILE).display().to_string()),
            "{msg}"
        );
        refused(
            dir,
            checkpoint::load_trainer(dir, None, &Device::Cpu).map(|_| ()),
        );
        let init = checkpoint::load_trainer(dir, Some(train_cfg(2)), &Device::Cpu);
        refused(dir, init.map(|_| ()));
    }
    swap(MODEL_FILE);
    // The optimiser's moments belong to the run too: a resume refuses another run's.
    swap(OPTIMIZER_FILE);
    let msg = refused(
        &a,
        checkpoint::load_trainer(&a, None, &Device::Cpu).map(|_| ()),
    );
    assert!(msg.contains(OPTIMIZER_FILE), "{msg}");
    checkpoint::load_model(&a, &Device::Cpu).unwrap();
    swap(OPTIMIZER_FILE);
    // A meta.json written before fingerprints: nothing to compare, so it loads, with
    // its own weights or with weights from before fingerprints.
    let meta_path = a.join("meta.json");
    let mut meta: serde_json::Value = serde_json::from_slice(&read(&meta_path)).unwrap();
    meta.as_object_mut().unwrap().remove("fingerprint");
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    assert_eq!(checkpoint::load_meta(&a).unwrap().fingerprint, None);
    checkpoint::load_model(&a, &Device::Cpu).unwrap();
    let tensors = candle_core::safetensors::load(a.join(MODEL_FILE), &Device::Cpu).unwrap();
    candle_core::safetensors::save(&tensors, a.join(MODEL_FILE)).unwrap();
    checkpoint::load_model(&a, &Device::Cpu).unwrap();
    checkpoint::load_trainer(&a, None, &Device::Cpu).unwrap();
    // ...but such unstamped weights in a run that records a fingerprint are refused.
    std::fs::copy(a.join(MODEL_FILE), b.join(MODEL_FILE)).unwrap();
    let msg = refused(&b, checkpoint::load_model(&b, &Device::Cpu).map(|_| ()));
    assert!(msg.contains("fingerprint none"), "{msg}");
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "candlecast-gpt-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A run whose training only hurts validation ends on its starting weights, not on
/// its least bad step: what a fine-tune that cannot improve on its init should do.
#[test]
fn a_run_that_never_beats_its_start_keeps_the_start() {
    let d = TokenData {
        train: vec![(0..400).map(|i| (i % 2) as u32).collect()],
        val: vec![(0..120).map(|i| 5 + (i % 2) as u32).collect()],
        ..TokenData::default()
    };
    let mut t = trainer(30);
    let start = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    t.run(&d, |_| Ok(())).unwrap();
    let vals: Vec<f64> = t.state.curve.iter().filter_map(|p| p.val_loss).collect();
    assert!(
        !vals.is_empty() && vals.iter().all(|&v| v > start),
        "{vals:?} vs start {start}"
    );
    assert_eq!(t.eval(&t.val_windows(&d)).unwrap().unwrap(), start);
    assert_eq!(t.state.best_val, Some(start));
}

/// A series whose validation part is shorter than a window still validates: its
/// tokens are scored after the end of its training part (context only), so the
/// loss is the cross-entropy of exactly those targets.
#[test]
fn a_short_validation_part_is_scored_after_its_training_tail() {
    let t = trainer(1);
    let mut d = data();
    d.val = vec![vec![3, 4, 5, 6, 7]];
    let w = t.val_windows(&d);
    assert_eq!(w.len(), 1);
    let (seq, n_val) = (t.cfg.seq_len, 5);
    assert_eq!(w[0].x.len(), seq);
    assert_eq!(w[0].scored_from, seq - n_val);
    assert_eq!(w[0].y[seq - n_val..], [3, 4, 5, 6, 7]);
    let train = &d.train[0]; // val[i] follows train[i]
    assert_eq!(
        w[0].x[..seq - n_val + 1],
        train[train.len() - (seq - n_val + 1)..]
    );

    let x = candle_core::Tensor::new(w[0].x.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let logits = t
        .model
        .forward_with(&x, None, 0, &mut t.model.new_cache())
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let nll = |row: &[f32], target: u32| -> f64 {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let z: f64 = row.iter().map(|&l| (l as f64 - m).exp()).sum();
        m + z.ln() - row[target as usize] as f64
    };
    let want: f64 = (seq - n_val..seq)
        .map(|j| nll(&logits[j], w[0].y[j]))
        .sum::<f64>()
        / n_val as f64;
    let got = t.eval(&w).unwrap().unwrap();
    assert!((got - want).abs() < 1e-5, "eval {got} vs by hand {want}");
    // Scoring the whole window instead would be another number.
    let all: f64 = (0..seq).map(|j| nll(&logits[j], w[0].y[j])).sum::<f64>() / seq as f64;
    assert!((all - want).abs() > 1e-4);
}

/// Runs `t` until its first checkpoint at step `every`, saves it into `dir` and
/// stops there, as an interrupted run would.
fn interrupt_at_first_checkpoint(
    t: &mut Trainer,
    d: &TokenData,
    dir: &Path,
    every: u64,
    extra: &serde_json::Value,
) {
    t.cfg.checkpoint_every = every;
    let r = t.run(d, |e| match e {
        Event::Checkpoint(t) => {
            checkpoint::save(dir, t, extra)?;
            Err(GptError::Stopped("interrupted".into()))
        }
        Event::Step(_) => Ok(()),
    });
    assert!(
        r.is_err() && t.state.step == every,
        "not interrupted at {every}"
    );
}

/// With `ema` on, validation scores the weights' moving average, a finished run
/// ends with the average it kept (its validation loss is the best one recorded),
/// the average is part of the checkpoint so a resumed run ends on the same bytes,
/// and a checkpoint that lost its average is refused.
#[test]
fn averaged_weights_are_validated_kept_and_resumed() {
    let d = data();
    let tmp = tempdir();
    let (a, c, plain) = (tmp.join("a"), tmp.join("c"), tmp.join("plain"));
    let extra = serde_json::json!({"note": "ema"});
    let averaged = |steps| {
        trainer_with(TrainConfig {
            ema: 0.9,
            ..train_cfg(steps)
        })
    };
    let save_to = |dir: &Path| {
        let dir = dir.to_path_buf();
        let extra = extra.clone();
        move |e: Event<'_>| match e {
            Event::Checkpoint(t) => checkpoint::save(&dir, t, &extra),
            Event::Step(_) => Ok(()),
        }
    };
    let mut t = averaged(30);
    t.run(&d, save_to(&a)).unwrap();
    let best = t.state.best_val.unwrap();
    let end = t.eval(&t.val_windows(&d)).unwrap().unwrap();
    assert_eq!(
        end, best,
        "the run does not end with the weights it validated"
    );
    assert!(
        !a.join(checkpoint::EMA_FILE).exists(),
        "a finished run keeps no average file"
    );
    let mut p = trainer(30);
    p.run(&d, save_to(&plain)).unwrap();
    assert_ne!(bytes(&a).0, bytes(&plain).0, "ema changed nothing");

    let mut t = averaged(30);
    interrupt_at_first_checkpoint(&mut t, &d, &c, 12, &extra);
    assert!(c.join(checkpoint::EMA_FILE).exists());
    let ema_bytes = read(&c.join(checkpoint::EMA_FILE));
    let (mut resumed, _) = checkpoint::load_trainer(&c, None, &Device::Cpu).unwrap();
    resumed.cfg.checkpoint_every = 0;
    resumed.run(&d, save_to(&c)).unwrap();
    assert_eq!(
        bytes(&a),
        bytes(&c),
        "resumed run differs from the uninterrupted one"
    );

    // Interrupted again, without its average file: a clear error, not a silent restart.
    let mut t = averaged(30);
    interrupt_at_first_checkpoint(&mut t, &d, &c, 12, &extra);
    assert_eq!(read(&c.join(checkpoint::EMA_FILE)), ema_bytes);
    std::fs::remove_file(c.join(checkpoint::EMA_FILE)).unwrap();
    let err = checkpoint::load_trainer(&c, None, &Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains(checkpoint::EMA_FILE), "{err}");
    assert!(TrainConfig {
        ema: 1.0,
        ..train_cfg(1)
    }
    .validate(16)
    .is_err());
}

/// `min_epochs` raises a run's step cap for its data (650 training tokens x 3 /
/// (8 x 12) = 20.3 -> 21 steps, against `steps` = 5), and the checkpoint records
/// the raised cap, so a resumed run keeps the same schedule.
#[test]
fn min_epochs_sets_the_step_cap_a_run_keeps() {
    let d = data();
    let tmp = tempdir();
    let mut t = trainer_with(TrainConfig {
        min_epochs: 3.0,
        ..train_cfg(5)
    });
    t.run(&d, |e| match e {
        Event::Checkpoint(t) => checkpoint::save(&tmp, t, &serde_json::json!({})),
        Event::Step(_) => Ok(()),
    })
    .unwrap();
    assert_eq!(t.state.step, 21);
    let meta = checkpoint::load_meta(&tmp).unwrap();
    assert_eq!((meta.train.steps, meta.state.step), (21, 21));
}
