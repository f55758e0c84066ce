//! Throughput benchmark of the GPT on the CPU, for `bench/gpt.sh` (issue 5).
//!
//! ```text
//! cargo run --release -p candlecast-gpt --example gpt_bench -- train --batch 32 --steps 5 --warmup 3
//! cargo run --release -p candlecast-gpt --example gpt_bench -- gen-cache --batch 64
//! cargo run --release -p candlecast-gpt --example gpt_bench -- gen-nocache --batch 1
//! ```
//!
//! Model: vocab 1024, d_model 128, 4 heads, 4 layers, max_ctx 256, post-norm ReLU
//! (the default block), weights from `Gpt::init` (seeded).
//!
//! - `train`: one step = forward + cross-entropy + backward + global grad norm (clip
//!   at 1.0) + AdamW update, on seeded random tokens of shape (B, seq) with seq 256,
//!   i.e. what `Trainer::run` does per step minus batch sampling. tokens/s =
//!   B * seq / median step time over `--steps` steps after `--warmup` steps.
//! - `gen-cache`: `Decoder::prefill` of B random 128-token prompts, then greedy
//!   decoding through the KV cache until 128 new tokens per row exist (the first
//!   comes from the prefill logits, so 127 `step` calls). Prefill is included in the
//!   time.
//! - `gen-nocache`: the same 128 new tokens, each from a full forward over the whole
//!   sequence so far (`forward_last(&all, 0, &mut model.new_cache())`, lengths
//!   128..=255). The first forward is the prefill equivalent, so it is included too.
//!   tokens/s = B * 128 / median run time over `--steps` runs after `--warmup` runs.
//!
//! Generation uses the inference path of `checkpoint::load_model` (plain tensors from
//! `Gpt::from_tensors`, no variables, so no autograd graph is recorded).
//!
//! Threads: candle's matmuls (gemm) run on rayon, sized by `RAYON_NUM_THREADS`; its
//! element-wise kernels run on candle's own spinning `BarrierPool`, sized by
//! `CANDLE_NUM_THREADS` (default: `RAYON_NUM_THREADS`). `bench/gpt.sh` sets both.
//! Prints one JSON line.

use candle_core::{DType, Device, Tensor, D};
use candlecast_gpt::{
    Activation, AdamWParams, Gpt, GptConfig, Norm, Result, Rng, TrainConfig, Trainer,
};
use std::collections::HashMap;
use std::time::Instant;

/// The allocator the `candlecast` binary uses, so the benchmark measures what users get
/// (glibc's malloc page-faults on every large temporary; see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `purge_delay` (the same value in its v2 and v3 C headers, which
/// keep option numbers stable).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never return freed memory to the OS: a training step frees and reallocates the same
/// large tensors every few seconds, and mimalloc's default (purge after 1 s) made each
/// step page-fault them in again (5-8 s of system time per 8 steps, against 0.7 s).
fn keep_freed_memory() {
    // SAFETY: sets one integer option; called first thing in `main`, before any other
    // thread exists (`mi_option_set` is not thread-safe).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

const PROMPT: usize = 128;
const NEW: usize = 128;
const SEQ: usize = 256;

fn config() -> GptConfig {
    GptConfig {
        vocab_size: 1024,
        d_model: 128,
        n_head: 4,
        n_layer: 4,
        max_ctx: 256,
        d_ff: None,
        norm: Norm::Post,
        activation: Activation::Relu,
        final_ln: false,
        head_bias: true,
        ln_eps: 1e-5,
        inputs: vec![],
    }
}

struct Args {
    mode: String,
    batch: usize,
    steps: usize,
    warmup: usize,
    seed: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: gpt_bench train|gen-cache|gen-nocache [--batch B] [--steps N] [--warmup W] [--seed S]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage());
    if !["train", "gen-cache", "gen-nocache"].contains(&mode.as_str()) {
        usage();
    }
    let train = mode == "train";
    let mut a = Args {
        mode,
        batch: if train { 32 } else { 1 },
        steps: if train { 5 } else { 3 },
        warmup: if train { 3 } else { 1 },
        seed: 42,
    };
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        let n: u64 = value.parse().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--batch" => a.batch = n as usize,
            "--steps" => a.steps = n as usize,
            "--warmup" => a.warmup = n as usize,
            "--seed" => a.seed = n,
            _ => usage(),
        }
    }
    if a.batch == 0 || a.steps == 0 {
        usage();
    }
    a
}

fn random_tokens(rng: &mut Rng, n: usize, vocab: usize) -> Vec<u32> {
    (0..n).map(|_| rng.below(vocab) as u32).collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Times `steps` calls of `f` after `warmup` untimed ones; seconds per call.
fn time_runs(warmup: usize, steps: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t0 = Instant::now();
        f()?;
        times.push(t0.elapsed().as_secs_f64());
    }
    Ok(times)
}

/// Training result: tokens/s, step times, last loss, median seconds of the phases
/// (forward + loss, backward, grad norm + AdamW).
type TrainOut = (f64, Vec<f64>, f64, [f64; 3]);

fn bench_train(a: &Args) -> Result<TrainOut> {
    let cfg = config();
    let dev = Device::Cpu;
    let (model, varmap) = Gpt::init(&cfg, a.seed, &dev)?;
    let tcfg = TrainConfig {
        steps: (a.warmup + a.steps) as u64,
        batch_size: a.batch,
        seq_len: SEQ,
        lr: 3e-4,
        min_lr: 3e-4,
        warmup_steps: 0,
        grad_clip: 1.0,
        eval_every: 1_000_000,
        eval_windows: 0,
        patience: 0,
        checkpoint_every: 0,
        seed: a.seed,
        freeze_blocks: 0,
        optimizer: AdamWParams::default(),
    };
    let mut trainer = Trainer::new(model, varmap, tcfg)?;
    let mut rng = Rng::new(a.seed ^ 0x5eed);
    let (b, v) = (a.batch, cfg.vocab_size);
    let mut last_loss = f64::NAN;
    let mut phases: Vec<[f64; 3]> = Vec::new();
    let times = time_runs(a.warmup, a.steps, || {
        let t0 = Instant::now();
        // Batch creation is inside the timed region, as in Trainer::run (it is tiny).
        let x = Tensor::from_vec(random_tokens(&mut rng, b * SEQ, v), (b, SEQ), &dev)?;
        let y = Tensor::from_vec(random_tokens(&mut rng, b * SEQ, v), (b, SEQ), &dev)?;
        let loss = trainer.loss(&x, &y)?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        let norm = trainer.opt.grad_norm(&grads)?;
        let clip = trainer.cfg.grad_clip;
        let scale = if clip > 0.0 && norm > clip {
            clip / norm
        } else {
            1.0
        };
        trainer.opt.step(&grads, trainer.cfg.lr, scale)?;
        last_loss = loss.to_scalar::<f32>()? as f64;
        let t3 = Instant::now();
        phases.push([
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
        ]);
        Ok(())
    })?;
    let tps = (b * SEQ) as f64 / median(&times);
    let timed = &phases[a.warmup..];
    let phase = |i: usize| median(&timed.iter().map(|p| p[i]).collect::<Vec<_>>());
    Ok((tps, times, last_loss, [phase(0), phase(1), phase(2)]))
}

/// The model as `checkpoint::load_model` gives it: plain tensors, no variables.
fn inference_model(seed: u64) -> Result<Gpt> {
    let cfg = config();
    let dev = Device::Cpu;
    let (_, varmap) = Gpt::init(&cfg, seed, &dev)?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| candlecast_gpt::GptError::Config("variable map lock poisoned".into()))?
        .iter()
        .map(|(k, var)| (k.clone(), var.as_tensor().detach()))
        .collect();
    Gpt::from_tensors(&cfg, tensors, &dev)
}

fn argmax_rows(logits: &Tensor) -> Result<Vec<u32>> {
    Ok(logits
        .argmax(D::Minus1)?
        .to_dtype(DType::U32)?
        .to_vec1::<u32>()?)
}

/// Tokens/s, run times, checksum of the generated tokens, and (cached) the median
/// prefill time: the part of a cached run that is one full forward pass.
fn bench_gen(a: &Args, cached: bool) -> Result<(f64, Vec<f64>, u64, Option<f64>)> {
    let model = inference_model(a.seed)?;
    let cfg = model.config().clone();
    let dev = Device::Cpu;
    let mut rng = Rng::new(a.seed ^ 0x9e11);
    let prompts: Vec<Vec<u32>> = (0..a.batch)
        .map(|_| random_tokens(&mut rng, PROMPT, cfg.vocab_size))
        .collect();
    let mut checksum = 0u64;
    let mut prefill_s = Vec::new();
    let times = time_runs(a.warmup, a.steps, || {
        let mut generated: Vec<Vec<u32>> = vec![Vec::with_capacity(NEW); a.batch];
        if cached {
            let mut dec = candlecast_gpt::Decoder::new(&model);
            let t0 = Instant::now();
            let mut next = argmax_rows(&dec.prefill(&prompts)?)?;
            prefill_s.push(t0.elapsed().as_secs_f64());
            for _ in 1..NEW {
                for (g, &t) in generated.iter_mut().zip(&next) {
                    g.push(t);
                }
                next = argmax_rows(&dec.step(&next)?)?;
            }
            for (g, &t) in generated.iter_mut().zip(&next) {
                g.push(t);
            }
        } else {
            let mut rows = prompts.clone();
            for _ in 0..NEW {
                let t = rows[0].len();
                let flat: Vec<u32> = rows.iter().flatten().copied().collect();
                let all = Tensor::from_vec(flat, (a.batch, t), &dev)?;
                let next = argmax_rows(&model.forward_last(&all, 0, &mut model.new_cache())?)?;
                for ((row, g), &tok) in rows.iter_mut().zip(generated.iter_mut()).zip(&next) {
                    row.push(tok);
                    g.push(tok);
                }
            }
        }
        checksum = generated.iter().flatten().fold(0u64, |h, &t| {
            h.wrapping_mul(1_000_003).wrapping_add(t as u64)
        });
        Ok(())
    })?;
    let tps = (a.batch * NEW) as f64 / median(&times);
    let prefill = prefill_s
        .get(a.warmup..)
        .filter(|p| !p.is_empty())
        .map(median);
    Ok((tps, times, checksum, prefill))
}

fn main() -> Result<()> {
    keep_freed_memory();
    let a = parse_args();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into());
    // candle's element-wise pool (BarrierPool) follows CANDLE_NUM_THREADS, else RAYON_NUM_THREADS.
    let cthreads = std::env::var("CANDLE_NUM_THREADS").unwrap_or_else(|_| "unset".into());
    let fmt_times = |t: &[f64]| {
        t.iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let line = match a.mode.as_str() {
        "train" => {
            let (tps, times, loss, ph) = bench_train(&a)?;
            format!(
                r#"{{"impl":"candlecast","mode":"train","batch":{},"seq":{SEQ},"RAYON_NUM_THREADS":"{threads}","CANDLE_NUM_THREADS":"{cthreads}","gemm_threads":{},"warmup":{},"steps":{},"tokens_per_s":{tps:.1},"step_s":[{}],"median_forward_s":{:.4},"median_backward_s":{:.4},"median_optim_s":{:.4},"last_loss":{loss:.4}}}"#,
                a.batch,
                candle_core::utils::get_num_threads(),
                a.warmup,
                a.steps,
                fmt_times(&times),
                ph[0],
                ph[1],
                ph[2]
            )
        }
        mode => {
            let (tps, times, checksum, prefill) = bench_gen(&a, mode == "gen-cache")?;
            let prefill =
                prefill.map_or(String::new(), |p| format!(r#","median_prefill_s":{p:.4}"#));
            format!(
                r#"{{"impl":"candlecast","mode":"{mode}","batch":{},"prompt":{PROMPT},"new":{NEW},"prefill_included":true,"RAYON_NUM_THREADS":"{threads}","CANDLE_NUM_THREADS":"{cthreads}","gemm_threads":{},"warmup":{},"steps":{},"tokens_per_s":{tps:.1},"run_s":[{}]{prefill},"checksum":{checksum}}}"#,
                a.batch,
                candle_core::utils::get_num_threads(),
                a.warmup,
                a.steps,
                fmt_times(&times)
            )
        }
    };
    println!("{line}");
    Ok(())
}
