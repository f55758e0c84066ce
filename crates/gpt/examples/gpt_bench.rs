//! Throughput benchmark of the GPT on the CPU, for `bench/gpt.sh` (issue 5).
//!
//! ```text
//! cargo run --release -p candlecast-gpt --example gpt_bench -- train --batch 32 --steps 5 --warmup 3
//! cargo run --release -p candlecast-gpt --example gpt_bench -- gen-cache --batch 64
//! cargo run --release -p candlecast-gpt --example gpt_bench -- gen-nocache --batch 1
//! cargo run --release -p candlecast-gpt --example gpt_bench -- train --model base --steps 200 --warmup 20
//! ```
//!
//! `--model default` (the default): vocab 1024, d_model 128, 4 heads, 4 layers, max_ctx
//! 256, post-norm ReLU (the default block), training windows of 256 tokens.
//! `--model base` (issue 17): the shipped `configs/base.toml` (`models/base/meta.json`):
//! vocab 1026, d_model 64, 4 heads, 2 layers, max_ctx 32, post-norm ReLU, head bias, no
//! final LN, with its three input channels (time_of_day 49, day_of_week 8, volume 9 ids,
//! summed into the token embedding; `--inputs 0` leaves them out), windows of 32 tokens;
//! `train` only (the generation prompts do not fit in 32 positions). Weights from
//! `Gpt::init` (seeded).
//!
//! - `train`: one step = forward + cross-entropy + backward + global grad norm (clip
//!   at 1.0) + AdamW update, on seeded random tokens of shape (B, seq) (and random
//!   input ids (B, seq, C) with channels), i.e. what `Trainer::run` does per step
//!   minus batch sampling. tokens/s = B * seq / median step time over `--steps` steps
//!   after `--warmup` steps.
//!   With `--sampler 1` (the default for `--model base`) it then also measures the data
//!   loading: a corpus of 300 random sequences of 4000 tokens (+ input ids), the size
//!   of base.toml's `[synthetic]` corpus; the median time of one batch build by the
//!   trainer's window sampler (`Windows::batch`: draw, gather, three
//!   `Tensor::from_vec`), its share of the median `Trainer::run` step, and the
//!   tokens/s of `Trainer::run` itself on that corpus (its own sampler inside the
//!   step, `CurvePoint::tokens_per_sec` per step, median over the same step counts).
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
    Activation, AdamWParams, Event, Gpt, GptConfig, InputChannel, Norm, Result, Rng, TokenData,
    TrainConfig, Trainer, Windows,
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
/// Training window of the default model.
const SEQ: usize = 256;
/// Training window of the base model (`configs/base.toml`, `[train] seq_len`).
const BASE_SEQ: usize = 32;
/// Corpus of the data-loading measurement: base.toml's `[synthetic]` series x bars.
const CORPUS_SEQS: usize = 300;
const CORPUS_LEN: usize = 4000;

/// The model of `--model` and its training window length.
fn config(a: &Args) -> (GptConfig, usize) {
    let default = GptConfig {
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
    };
    if a.model != "base" {
        return (default, SEQ);
    }
    let ch = |name: &str, size| InputChannel {
        name: name.into(),
        size,
    };
    let inputs = match a.inputs {
        true => vec![ch("time_of_day", 49), ch("day_of_week", 8), ch("volume", 9)],
        false => vec![],
    };
    let base = GptConfig {
        vocab_size: 1026,
        d_model: 64,
        n_head: 4,
        n_layer: 2,
        max_ctx: 32,
        inputs,
        ..default
    };
    (base, BASE_SEQ)
}

struct Args {
    mode: String,
    batch: usize,
    steps: usize,
    warmup: usize,
    seed: u64,
    /// "default" or "base".
    model: String,
    /// Input channels of the base model.
    inputs: bool,
    /// Also measure the data loading and `Trainer::run` (train only).
    sampler: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: gpt_bench train|gen-cache|gen-nocache [--batch B] [--steps N] [--warmup W] [--seed S]\n\
         \x20                [--model default|base] [--inputs 0|1] [--sampler 0|1]"
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
        model: "default".into(),
        inputs: true,
        sampler: false,
    };
    let mut sampler = None;
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        if flag == "--model" {
            if !["default", "base"].contains(&value.as_str()) {
                usage();
            }
            a.model = value;
            continue;
        }
        let n: u64 = value.parse().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--batch" => a.batch = n as usize,
            "--steps" => a.steps = n as usize,
            "--warmup" => a.warmup = n as usize,
            "--seed" => a.seed = n,
            "--inputs" => a.inputs = n != 0,
            "--sampler" => sampler = Some(n != 0),
            _ => usage(),
        }
    }
    a.sampler = sampler.unwrap_or(a.model == "base");
    if a.model == "base" && !train {
        eprintln!("--model base measures train only (the prompts do not fit in max_ctx 32)");
        std::process::exit(2)
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

/// What the benchmark's training steps run with (`Trainer::run` reads the same table).
fn train_config(a: &Args, seq: usize) -> TrainConfig {
    TrainConfig {
        steps: (a.warmup + a.steps) as u64,
        batch_size: a.batch,
        seq_len: seq,
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
        target_smoothing: 0.0,
        ema: 0.0,
        min_epochs: 0.0,
        optimizer: AdamWParams::default(),
    }
}

/// `n` random ids per channel, interleaved as the model takes them: `C` per token.
fn random_ids(rng: &mut Rng, n: usize, cfg: &GptConfig) -> Vec<u32> {
    (0..n)
        .flat_map(|_| {
            cfg.inputs
                .iter()
                .map(|c| rng.below(c.size) as u32)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn bench_train(a: &Args) -> Result<TrainOut> {
    let (cfg, seq) = config(a);
    let dev = Device::Cpu;
    let (model, varmap) = Gpt::init(&cfg, a.seed, &dev)?;
    let mut trainer = Trainer::new(model, varmap, train_config(a, seq))?;
    let mut rng = Rng::new(a.seed ^ 0x5eed);
    let (b, v, c) = (a.batch, cfg.vocab_size, cfg.inputs.len());
    let mut last_loss = f64::NAN;
    let mut phases: Vec<[f64; 3]> = Vec::new();
    let times = time_runs(a.warmup, a.steps, || {
        let t0 = Instant::now();
        // Batch creation is inside the timed region, as in Trainer::run (it is tiny).
        let x = Tensor::from_vec(random_tokens(&mut rng, b * seq, v), (b, seq), &dev)?;
        let y = Tensor::from_vec(random_tokens(&mut rng, b * seq, v), (b, seq), &dev)?;
        let ids = match c {
            0 => None,
            _ => Some(Tensor::from_vec(
                random_ids(&mut rng, b * seq, &cfg),
                (b, seq, c),
                &dev,
            )?),
        };
        let loss = trainer.loss_with(&x, ids.as_ref(), &y)?;
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
    let tps = (b * seq) as f64 / median(&times);
    let timed = &phases[a.warmup..];
    let phase = |i: usize| median(&timed.iter().map(|p| p[i]).collect::<Vec<_>>());
    Ok((tps, times, last_loss, [phase(0), phase(1), phase(2)]))
}

/// Seeded random token sequences with input ids, `CORPUS_SEQS` x `CORPUS_LEN`.
fn corpus(cfg: &GptConfig, seed: u64) -> TokenData {
    let mut rng = Rng::new(seed ^ 0xc0_4905);
    let train: Vec<Vec<u32>> = (0..CORPUS_SEQS)
        .map(|_| random_tokens(&mut rng, CORPUS_LEN, cfg.vocab_size))
        .collect();
    let train_inputs = match cfg.inputs.len() {
        0 => vec![],
        _ => (0..CORPUS_SEQS)
            .map(|_| random_ids(&mut rng, CORPUS_LEN, cfg))
            .collect(),
    };
    TokenData {
        train,
        val: vec![],
        train_inputs,
        val_inputs: vec![],
    }
}

/// Data loading: median seconds of one batch build (the trainer's sampler, 20 warmup +
/// 500 timed builds), and tokens/s and median step seconds of `Trainer::run` over
/// `--warmup` + `--steps` steps on the same corpus.
fn bench_sampler(a: &Args) -> Result<(f64, f64, f64)> {
    let (cfg, seq) = config(a);
    let dev = Device::Cpu;
    let data = corpus(&cfg, a.seed);
    let c = cfg.inputs.len();
    let windows = Windows::new(&data.train, &data.train_inputs, c, seq)?;
    let mut rng = Rng::new(a.seed);
    let mut sink = 0usize;
    let builds = time_runs(20, 500, || {
        let (x, ids, y) = windows.batch(&mut rng, a.batch, &dev)?;
        sink += x.elem_count() + y.elem_count() + ids.map_or(0, |t| t.elem_count());
        Ok(())
    })?;
    assert!(sink > 0);
    let (model, varmap) = Gpt::init(&cfg, a.seed, &dev)?;
    let mut trainer = Trainer::new(model, varmap, train_config(a, seq))?;
    let mut step_s = Vec::new();
    trainer.run(&data, |event| {
        if let Event::Step(p) = event {
            step_s.push((a.batch * seq) as f64 / p.tokens_per_sec);
        }
        Ok(())
    })?;
    let step = median(&step_s[a.warmup..]);
    Ok((median(&builds), (a.batch * seq) as f64 / step, step))
}

/// The model as `checkpoint::load_model` gives it: plain tensors, no variables.
fn inference_model(a: &Args) -> Result<Gpt> {
    let (cfg, _) = config(a);
    let dev = Device::Cpu;
    let (_, varmap) = Gpt::init(&cfg, a.seed, &dev)?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| candlecast_gpt::GptError::LockPoisoned)?
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
    let model = inference_model(a)?;
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
            .map(|x| format!("{x:.5}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (cfg, seq) = config(&a);
    let inputs = cfg
        .inputs
        .iter()
        .map(|c| format!("{}:{}", c.name, c.size))
        .collect::<Vec<_>>()
        .join(",");
    let model = format!(
        r#""model":"{}","n_params":{},"inputs":"{inputs}""#,
        a.model,
        cfg.n_params()
    );
    let line = match a.mode.as_str() {
        "train" => {
            let (tps, times, loss, ph) = bench_train(&a)?;
            let sampler = match a.sampler {
                false => String::new(),
                true => {
                    let (build, run_tps, run_step) = bench_sampler(&a)?;
                    format!(
                        r#","corpus":"{CORPUS_SEQS}x{CORPUS_LEN}","median_batch_build_s":{build:.7},"trainer_run_tokens_per_s":{run_tps:.1},"trainer_run_median_step_s":{run_step:.5},"batch_build_share":{:.5}"#,
                        build / run_step
                    )
                }
            };
            format!(
                r#"{{"impl":"candlecast","mode":"train",{model},"batch":{},"seq":{seq},"RAYON_NUM_THREADS":"{threads}","CANDLE_NUM_THREADS":"{cthreads}","gemm_threads":{},"warmup":{},"steps":{},"tokens_per_s":{tps:.1},"step_s":[{}],"median_forward_s":{:.4},"median_backward_s":{:.4},"median_optim_s":{:.4},"last_loss":{loss:.4}{sampler}}}"#,
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
                r#"{{"impl":"candlecast","mode":"{mode}",{model},"batch":{},"prompt":{PROMPT},"new":{NEW},"prefill_included":true,"RAYON_NUM_THREADS":"{threads}","CANDLE_NUM_THREADS":"{cthreads}","gemm_threads":{},"warmup":{},"steps":{},"tokens_per_s":{tps:.1},"run_s":[{}]{prefill},"checksum":{checksum}}}"#,
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
