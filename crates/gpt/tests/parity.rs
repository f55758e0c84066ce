#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Parity with the reference vectors in `../shared/reference/seed_gpt` (an
//! independent PyTorch implementation), and cached decoding against full passes.

use candle_core::{Device, Tensor};
use candlecast_gpt::{Activation, Decoder, Gpt, GptConfig, KvCache, Norm};
use serde_json::Value;
use std::path::PathBuf;

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

fn reference(variant: &str) -> PathBuf {
    manifest_dir()
        .join("../../../shared/reference/seed_gpt")
        .join(variant)
}

/// The reference's `config.json`, mapped onto our config (names differ a little).
fn reference_config(v: &Value) -> GptConfig {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("config.{k}")) as usize;
    GptConfig {
        vocab_size: n("vocab"),
        d_model: n("d_model"),
        n_head: n("n_head"),
        n_layer: n("n_layer"),
        max_ctx: n("max_ctx"),
        d_ff: Some(n("d_ff")),
        norm: if v["norm"] == "pre" {
            Norm::Pre
        } else {
            Norm::Post
        },
        activation: if v["activation"] == "gelu" {
            Activation::Gelu
        } else {
            Activation::Relu
        },
        final_ln: v["final_ln"].as_bool().unwrap_or(false),
        head_bias: v["head_bias"].as_bool().unwrap_or(false),
        ln_eps: v["ln_eps"].as_f64().unwrap_or(1e-5),
        inputs: vec![],
    }
}

fn json(path: PathBuf) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Loads a reference model. The reference names its tensors as our module tree
/// does (`tok_emb`, `blocks.{i}.attn.q`, ...), so the name mapping is the identity;
/// `Gpt::from_tensors` checks every name and shape.
fn load(variant: &str) -> (Gpt, Value) {
    let dir = reference(variant);
    let cfg = reference_config(&json(dir.join("config.json")));
    let tensors =
        candle_core::safetensors::load(dir.join("weights.safetensors"), &Device::Cpu).unwrap();
    (
        Gpt::from_tensors(&cfg, tensors, &Device::Cpu).unwrap(),
        json(dir.join("cases.json")),
    )
}

fn tokens(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

fn flat(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap() as f32],
        _ => panic!("not a number array"),
    }
}

fn max_abs_diff(a: &Tensor, b: &[f32]) -> f32 {
    let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn rows_tensor(rows: &[Vec<u32>]) -> Tensor {
    let flat: Vec<u32> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), rows[0].len()), &Device::Cpu).unwrap()
}

fn check_variant(variant: &str) {
    let (model, cases) = load(variant);
    let tol = cases["tolerance_abs"].as_f64().unwrap() as f32;
    assert!(tol <= 1e-4);
    for case in cases["cases"].as_array().unwrap() {
        let toks = tokens(&case["tokens"]);
        let logits = model
            .forward(&rows_tensor(&toks), 0, &mut model.new_cache())
            .unwrap();
        let want_shape: Vec<usize> = case["logits_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(logits.dims(), want_shape.as_slice());
        let d = max_abs_diff(&logits, &flat(&case["logits"]));
        println!("{variant} {}: full pass max |diff| = {d:.2e}", case["name"]);
        assert!(d < tol, "{variant} {}: {d}", case["name"]);
    }
    // Cached decoding: token t alone at position t, K/V of 0..t-1 from the cache.
    let kv = &cases["kv_cache"];
    let toks = tokens(&kv["tokens"]);
    // Both cache kinds: concatenating (no capacity) and in place (the model's).
    for mut cache in [KvCache::new(model.config().n_layer), model.new_cache()] {
        let mut steps = Vec::new();
        for (t, &tok) in toks[0].iter().enumerate() {
            let x = Tensor::new(&[[tok]], &Device::Cpu).unwrap();
            steps.push(model.forward(&x, t, &mut cache).unwrap());
        }
        let steps = Tensor::cat(&steps, 1).unwrap();
        let d = max_abs_diff(&steps, &flat(&kv["step_logits"]));
        println!("{variant} kv_cache: step-by-step max |diff| = {d:.2e}");
        assert!(d < tol, "{variant} cached: {d}");
    }
}

#[test]
#[ignore = "needs ../shared"]
fn post_norm_relu_matches_the_reference() {
    check_variant("post_relu");
}

#[test]
#[ignore = "needs ../shared"]
fn pre_norm_gelu_matches_the_reference() {
    check_variant("gpt2");
}

fn random_model(norm: Norm, activation: Activation, max_ctx: usize) -> Gpt {
    let cfg = GptConfig {
        vocab_size: 50,
        d_model: 32,
        n_head: 4,
        n_layer: 3,
        max_ctx,
        d_ff: None,
        norm,
        activation,
        final_ln: norm == Norm::Pre,
        head_bias: true,
        ln_eps: 1e-5,
        inputs: vec![],
    };
    // Larger weights than the 0.02 init, so attention is far from uniform and a
    // caching bug shows.
    let (m, vars) = Gpt::init(&cfg, 7, &Device::Cpu).unwrap();
    for v in vars.all_vars() {
        let t = v.as_tensor();
        if t.rank() == 2 {
            v.set(&(t * 40.0).unwrap()).unwrap();
        }
    }
    m
}

fn random_tokens(b: usize, t: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut r = candlecast_gpt::Rng::new(seed);
    (0..b)
        .map(|_| (0..t).map(|_| r.below(50) as u32).collect())
        .collect()
}

#[test]
fn cached_decoding_equals_the_full_pass_for_a_batch() {
    for (norm, act) in [
        (Norm::Post, Activation::Relu),
        (Norm::Pre, Activation::Gelu),
    ] {
        let model = random_model(norm, act, 16);
        let toks = random_tokens(3, 12, 1);
        let full = model
            .forward(&rows_tensor(&toks), 0, &mut model.new_cache())
            .unwrap();
        // Prompt of 5 in one call, then one token per step.
        let mut cache = model.new_cache();
        let prompt: Vec<Vec<u32>> = toks.iter().map(|r| r[..5].to_vec()).collect();
        let mut parts = vec![model.forward(&rows_tensor(&prompt), 0, &mut cache).unwrap()];
        for t in 5..12 {
            let step: Vec<Vec<u32>> = toks.iter().map(|r| vec![r[t]]).collect();
            parts.push(model.forward(&rows_tensor(&step), t, &mut cache).unwrap());
        }
        let cached = Tensor::cat(&parts, 1).unwrap();
        let d = max_abs_diff(
            &cached,
            &full.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert!(d < 1e-4, "{norm:?}: {d}");
        let spread = full
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .fold(0f32, |m, x| m.max(x.abs()));
        assert!(spread > 1.0, "logits too flat to detect a bug: {spread}");
    }
}

#[test]
fn the_window_slides_and_matches_a_full_pass_over_the_kept_tail() {
    let model = random_model(Norm::Post, Activation::Relu, 8);
    let toks = random_tokens(2, 20, 2);
    let mut dec = Decoder::new(&model).with_keep(5).unwrap();
    let prompt: Vec<Vec<u32>> = toks.iter().map(|r| r[..6].to_vec()).collect();
    dec.prefill(&prompt).unwrap();
    // The decoder's window, tracked here independently.
    let mut window: Vec<Vec<u32>> = prompt.clone();
    for t in 6..20 {
        let step: Vec<u32> = toks.iter().map(|r| r[t]).collect();
        let got = dec.step(&step).unwrap();
        if window[0].len() == 8 {
            for w in &mut window {
                w.drain(..3);
            }
        }
        for (w, &s) in window.iter_mut().zip(&step) {
            w.push(s);
        }
        let full = model
            .forward(&rows_tensor(&window), 0, &mut model.new_cache())
            .unwrap();
        let last = full
            .narrow(1, window[0].len() - 1, 1)
            .unwrap()
            .squeeze(1)
            .unwrap();
        let d = max_abs_diff(&got, &last.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert!(d < 1e-4, "step {t}: {d}");
    }
    assert!(dec.slides() >= 3, "slid {} times", dec.slides());
}

/// One prompt encoded once and its cache rows repeated decodes exactly like the
/// prompt repeated in the batch; the uncached session agrees with both.
#[test]
#[allow(clippy::needless_range_loop)] // t indexes the time axis of every row
fn repeated_prefill_and_uncached_steps_equal_the_plain_cached_session() {
    let model = random_model(Norm::Post, Activation::Relu, 8);
    let toks = random_tokens(2, 14, 3);
    let copies = 3;
    let prompt: Vec<Vec<u32>> = toks.iter().map(|r| r[..6].to_vec()).collect();
    let repeated: Vec<Vec<u32>> = prompt
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), copies))
        .collect();
    let mut plain = Decoder::new(&model).with_keep(5).unwrap();
    let mut shared = Decoder::new(&model).with_keep(5).unwrap();
    let mut full = Decoder::new(&model).with_keep(5).unwrap().uncached();
    let a = plain.prefill(&repeated).unwrap();
    let b = shared.prefill_repeated(&prompt, copies).unwrap();
    let c = full.prefill_repeated(&prompt, copies).unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(b.dims(), &[2 * copies, 50]);
    assert!(max_abs_diff(&a, &flat(&b)) < 1e-5 && max_abs_diff(&a, &flat(&c)) < 1e-5);
    for t in 6..14 {
        // Rows of one prompt now diverge: every row gets its own token.
        let step: Vec<u32> = (0..2 * copies)
            .map(|i| toks[i / copies][t] ^ (i % copies) as u32)
            .collect();
        let a = plain.step(&step).unwrap();
        let b = shared.step(&step).unwrap();
        let c = full.step(&step).unwrap();
        // Relative to the logits' size: the scaled-up weights give logits in the hundreds.
        let size = flat(&a).iter().fold(1f32, |m, x| m.max(x.abs()));
        assert!(max_abs_diff(&a, &flat(&b)) < 1e-6 * size, "step {t}");
        let d = max_abs_diff(&a, &flat(&c));
        assert!(d < 1e-4 * size, "step {t}: {d} (logits up to {size})");
    }
    assert!(plain.slides() >= 2 && full.slides() == plain.slides());
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let model = random_model(Norm::Post, Activation::Relu, 8);
    let oob = Tensor::new(&[[1u32, 50]], &Device::Cpu).unwrap();
    let e = model
        .forward(&oob, 0, &mut model.new_cache())
        .map_err(|e| e.to_string());
    assert_eq!(
        e.err().as_deref(),
        Some("token id 50 is outside the vocabulary (size 50)")
    );
    let long = Tensor::zeros((1, 9), candle_core::DType::U32, &Device::Cpu).unwrap();
    let e = model
        .forward(&long, 0, &mut model.new_cache())
        .map_err(|e| e.to_string());
    assert_eq!(
        e.err().as_deref(),
        Some("9 positions exceed the model's context of 8")
    );
    let mut cfg = model.config().clone();
    cfg.n_head = 5;
    assert!(
        Gpt::init(&cfg, 0, &Device::Cpu).is_err_and(|e| e.to_string().contains("does not divide"))
    );
    // Corrupt and truncated safetensors.
    for bytes in [b"not a safetensors file".to_vec(), vec![255u8; 8], vec![]] {
        assert!(candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).is_err());
    }
}
