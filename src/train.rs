//! `candlecast train`: pretrain on many series, fine-tune from a checkpoint
//! (`--init`), or continue an interrupted run (`--resume`).
//!
//! Every series is split in time: the first `fit_fraction` (80%) is all training
//! may see (so `evaluate`'s test part stays unseen), and of that the last
//! `val_fraction` (10%) is validation for early stopping. A validation part shorter
//! than one window (a monthly series' dozen bars) is scored after the training
//! tokens before it, so short series early-stop too. The tokenizer is fitted on the
//! training bars only.

use crate::args::TrainArgs;
use crate::inputs::{expand_inputs, load_series, synthetic_series};
use crate::progress;
use crate::run_dir::{
    check_trainable, fingerprint, load_trainer, read_extra, DataSplit, Fingerprint, RunExtra,
};
use anyhow::{bail, Context};
use candle_core::Device;
use candlecast_data::Series;
use candlecast_gpt::checkpoint::{self, write_atomic};
use candlecast_gpt::{
    Event, Gpt, GptConfig, InputChannel, SoftTargets, TokenData, TrainConfig, Trainer,
};
use candlecast_synth::SynthConfig;
use candlecast_tokenize::stats::{token_counts, unigram_cross_entropy_bits};
use candlecast_tokenize::{Tokenizer, TokenizerConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::ExitCode;

/// A config file: `configs/tiny.toml`, `configs/small.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(default)]
    pub tokenizer: TokenizerConfig,
    /// `vocab_size` is left out: it comes from the tokenizer.
    pub model: GptConfig,
    pub train: TrainConfig,
    /// The schedule `--init` fine-tunes with.
    pub finetune: Option<TrainConfig>,
    #[serde(default)]
    pub split: DataSplit,
    /// Synthetic series added to the pretraining data (not to fine-tunes), generated
    /// in process: `candlecast synth` writes the same series as files.
    pub synthetic: Option<SynthConfig>,
}

impl RunConfig {
    pub fn load(path: &Path) -> anyhow::Result<RunConfig> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let cfg: RunConfig = toml::from_str(&text).with_context(|| path.display().to_string())?;
        cfg.tokenizer
            .validate()
            .with_context(|| format!("{}: [tokenizer]", path.display()))?;
        let s = cfg.split;
        if !(s.fit_fraction > 0.0
            && s.fit_fraction <= 1.0
            && s.val_fraction > 0.0
            && s.val_fraction < 1.0)
        {
            bail!(
                "{}: [split] needs 0 < fit_fraction <= 1 and 0 < val_fraction < 1",
                path.display()
            );
        }
        Ok(cfg)
    }
}

/// Train and validation token sequences, cut by the bars the tokens describe, with
/// the tokens' input ids when the tokenizer has input channels.
pub fn token_data(
    tok: &Tokenizer,
    series: &[(String, Series)],
    split: DataSplit,
) -> anyhow::Result<TokenData> {
    let mut data = TokenData::default();
    let c = tok.n_inputs();
    for (name, s) in series {
        let fit_end = (s.len() as f64 * split.fit_fraction).floor() as u32;
        let val_start = fit_end - (fit_end as f64 * split.val_fraction).floor() as u32;
        let part = s.slice(0..fit_end as usize);
        let enc = tok.encode(&part);
        let ids = tok.input_ids(&part, &enc).with_context(|| name.clone())?;
        let (mut tr, mut va) = (Vec::new(), Vec::new());
        let (mut tr_ids, mut va_ids) = (Vec::new(), Vec::new());
        for (i, (t, &bar)) in enc.tokens.iter().zip(&enc.bar).enumerate() {
            let (seq, seq_ids) = match bar < val_start {
                true => (&mut tr, &mut tr_ids),
                false => (&mut va, &mut va_ids),
            };
            seq.push(t.0);
            seq_ids.extend_from_slice(ids.get(i * c..(i + 1) * c).unwrap_or_default());
        }
        data.train.push(tr);
        data.val.push(va);
        if c > 0 {
            data.train_inputs.push(tr_ids);
            data.val_inputs.push(va_ids);
        }
    }
    Ok(data)
}

#[derive(Serialize)]
struct Summary {
    run: String,
    mode: &'static str,
    steps: u64,
    stopped_early: bool,
    vocab_size: usize,
    parameters: usize,
    train_tokens: usize,
    val_tokens: usize,
    /// Validation cross-entropy when this command started (for `--init`: of the
    /// pretrained model on the fine-tuning series), bits per token.
    start_val_bits: Option<f64>,
    /// Validation cross-entropy of the final model, bits per token.
    val_bits: Option<f64>,
    best_val_bits: Option<f64>,
    /// The unigram baseline: validation tokens under the training frequencies
    /// (add-one smoothed), bits per token.
    unigram_bits: f64,
    seconds: f64,
    /// Per source (a file, or "synthetic"), in the order first seen.
    sources: Vec<SourceSummary>,
}

/// Where the tokens came from and how well the model knows each source.
#[derive(Serialize)]
struct SourceSummary {
    source: String,
    series: usize,
    train_tokens: usize,
    val_tokens: usize,
    /// Training tokens this run's steps drew from the source, expected value:
    /// windows are drawn uniformly over all window starts, so each source gets its
    /// share of the starts times steps x batch_size x seq_len.
    tokens_seen: f64,
    /// Validation cross-entropy of the final model on this source, bits per token.
    val_bits: Option<f64>,
    /// The unigram baseline on this source: its validation tokens under its own
    /// training frequencies (add-one smoothed), bits per token.
    unigram_bits: f64,
}

/// The summary rows per source of `series`.
fn per_source(
    trainer: &Trainer,
    series: &[(String, Series)],
    data: &TokenData,
) -> anyhow::Result<Vec<SourceSummary>> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in series {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let seq = trainer.cfg.seq_len;
    let starts = |t: &Vec<u32>| t.len().saturating_sub(seq);
    let all_starts: usize = data.train.iter().map(starts).sum();
    let drawn = (trainer.state.step as usize * trainer.cfg.batch_size * seq) as f64;
    let vocab = trainer.model.config().vocab_size;
    let mut out = Vec::new();
    for name in names {
        let idx: Vec<usize> = (0..series.len()).filter(|&i| series[i].0 == name).collect();
        let pick = |v: &Vec<Vec<u32>>| -> Vec<Vec<u32>> {
            idx.iter().filter_map(|&i| v.get(i).cloned()).collect()
        };
        // Training sequences too: a short validation part is scored after them.
        let sub = TokenData {
            train: pick(&data.train),
            val: pick(&data.val),
            train_inputs: pick(&data.train_inputs),
            val_inputs: pick(&data.val_inputs),
        };
        let src_starts: usize = idx.iter().map(|&i| starts(&data.train[i])).sum();
        let ids = |seqs: &[Vec<u32>]| -> Vec<candlecast_tokenize::TokenId> {
            seqs.iter()
                .flatten()
                .map(|&t| candlecast_tokenize::TokenId(t))
                .collect()
        };
        let val_ids = ids(&sub.val);
        let train_counts = token_counts(&ids(&pick(&data.train)), vocab);
        out.push(SourceSummary {
            source: name.to_string(),
            series: idx.len(),
            train_tokens: idx.iter().map(|&i| data.train[i].len()).sum(),
            val_tokens: val_ids.len(),
            tokens_seen: match all_starts {
                0 => 0.0,
                n => drawn * src_starts as f64 / n as f64,
            },
            val_bits: trainer
                .eval(&trainer.val_windows(&sub))?
                .map(|v| v / std::f64::consts::LN_2),
            unigram_bits: unigram_cross_entropy_bits(&train_counts, &token_counts(&val_ids, vocab)),
        });
    }
    Ok(out)
}

/// What a run folder holds; `train` writes these names into --out.
const RUN_FILES: [&str; 5] = [
    checkpoint::MODEL_FILE,
    checkpoint::OPTIMIZER_FILE,
    checkpoint::META_FILE,
    checkpoint::BEST_FILE,
    "curve.csv",
];

/// The output rule (`crate::output`) for the run folder, before any data is read: a
/// new run does not write over an earlier one without --force (the message offers
/// --resume when --out holds a run), never into --init's folder, and never over a
/// --data or --config file. `--resume` writes into its own run: no --force needed.
fn check_output(args: &TrainArgs) -> anyhow::Result<()> {
    let out = &args.out;
    let mut guard = crate::output::Guard::new();
    guard.inputs(&expand_inputs(&args.data)?);
    if let Some(cfg) = &args.config {
        guard.input(cfg);
    }
    if let Some(init) = &args.init {
        guard.model(&crate::base::resolve(Some(init))?);
    }
    if !args.resume && !args.force && out.join(checkpoint::META_FILE).is_file() {
        bail!(
            "{}: holds a run already; pass --resume to continue it, --force to start a new run over it, or choose another --out",
            out.display()
        );
    }
    guard.dir(
        out,
        "--out",
        args.force || args.resume,
        &RUN_FILES,
        crate::output::DirMode::WriteInto,
    )
}

pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    check_output(args)?;
    let resumed = match args.resume {
        true => Some(read_extra(&args.out)?),
        false => None,
    };
    let synthetic = synthetic_corpus(args, resumed.as_ref())?;
    let series = training_series(args, synthetic.as_ref())?;
    let prints: Vec<Fingerprint> = series.iter().map(|(f, s)| fingerprint(f, s)).collect();
    let out = &args.out;
    let Start {
        mut trainer,
        tok,
        split,
        mode,
    } = match &resumed {
        Some(extra) => resume(out, extra, &prints)?,
        None => match &args.init {
            Some(init) => finetune(args, init)?,
            None => pretrain(args, &series)?,
        },
    };
    check_trainable(&trainer.model, &tok, out)?;
    let sigma = trainer.cfg.target_smoothing;
    if sigma > 0.0 {
        trainer.set_soft_targets(SoftTargets::new(tok.smoothed_targets(sigma))?)?;
    }
    let data = token_data(&tok, &series, split)?;
    let extra = serde_json::to_value(RunExtra {
        tokenizer: serde_json::from_str(&tok.to_json().context("tokenizer to JSON")?)?,
        split,
        data: prints,
        synthetic,
        temperature: None,
    })?;
    let start_val_bits = val_bits(&trainer, &data)?;
    train_with_progress(&mut trainer, &data, out, &extra, started)?;
    let summary = summarise(&trainer, &tok, &series, &data, out, mode, started)?;
    let summary = Summary {
        start_val_bits,
        ..summary
    };
    print_summary(&summary, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// The synthetic corpus joins pretraining runs only: from the config, or for
/// --resume from the run it continues.
fn synthetic_corpus(
    args: &TrainArgs,
    resumed: Option<&RunExtra>,
) -> anyhow::Result<Option<SynthConfig>> {
    Ok(if let Some(extra) = resumed {
        extra.synthetic
    } else if args.init.is_some() {
        None
    } else {
        match &args.config {
            Some(path) => RunConfig::load(path)?.synthetic,
            None => None,
        }
    })
}

/// The --data series, then the synthetic ones.
fn training_series(
    args: &TrainArgs,
    synthetic: Option<&SynthConfig>,
) -> anyhow::Result<Vec<(String, Series)>> {
    let mut series = match args.data.is_empty() {
        true => Vec::new(),
        false => load_series(&args.data, &args.input)?,
    };
    if let Some(cfg) = synthetic {
        series.extend(synthetic_series(cfg)?);
    }
    if series.is_empty() {
        bail!("no series to train on: give --data files (or a [synthetic] table in the config)");
    }
    Ok(series)
}

/// What a run starts from, whichever of the three ways it starts.
struct Start {
    trainer: Trainer,
    tok: Tokenizer,
    split: DataSplit,
    mode: &'static str,
}

/// `--resume`: the run in `out`, on the very data it started with.
fn resume(out: &Path, extra: &RunExtra, prints: &[Fingerprint]) -> anyhow::Result<Start> {
    if extra.data != prints {
        bail!(
            "{}: --resume needs the data the run started with (files, symbols and values differ)",
            out.display()
        );
    }
    let (trainer, tok) = load_trainer(out, extra, None)?;
    Ok(Start {
        trainer,
        tok,
        split: extra.split,
        mode: "resume",
    })
}

/// `--init`: the run in `init` with the config's [finetune] schedule.
fn finetune(args: &TrainArgs, init: &Path) -> anyhow::Result<Start> {
    let init = &crate::base::resolve(Some(init))?;
    let cfg = RunConfig::load(
        args.config
            .as_deref()
            .context("--init needs --config for its [finetune] schedule")?,
    )?;
    let ft = cfg
        .finetune
        .clone()
        .context("the config has no [finetune] table")?;
    let extra = read_extra(init)?;
    let (trainer, tok) = load_trainer(init, &extra, Some(ft))?;
    Ok(Start {
        trainer,
        tok,
        split: cfg.split,
        mode: "finetune",
    })
}

/// A new model, its tokenizer fitted on the training bars of `series`.
fn pretrain(args: &TrainArgs, series: &[(String, Series)]) -> anyhow::Result<Start> {
    let cfg = RunConfig::load(args.config.as_deref().context("train needs --config")?)?;
    let fit: Vec<Series> = series
        .iter()
        .map(|(_, s)| {
            s.slice(
                0..(s.len() as f64 * cfg.split.fit_fraction * (1.0 - cfg.split.val_fraction))
                    as usize,
            )
        })
        .collect();
    let tok = Tokenizer::fit(&cfg.tokenizer, &fit)?;
    // The model's input channels come from the tokenizer, like its vocabulary.
    let inputs: Vec<InputChannel> = tok
        .input_channels()
        .into_iter()
        .map(|(name, size)| InputChannel { name, size })
        .collect();
    if !cfg.model.inputs.is_empty() && cfg.model.inputs != inputs {
        bail!(
            "[model] inputs does not match the [tokenizer] options (calendar, \
                 volume_input_bins); leave it out, it is filled in from them"
        );
    }
    let model_cfg = GptConfig {
        vocab_size: tok.vocab_size(),
        inputs,
        ..cfg.model.clone()
    };
    let (model, vars) = Gpt::init(&model_cfg, cfg.train.seed, &Device::Cpu)?;
    Ok(Start {
        trainer: Trainer::new(model, vars, cfg.train.clone())?,
        tok,
        split: cfg.split,
        mode: "pretrain",
    })
}

/// Validation cross-entropy of the model as it stands, bits per token.
fn val_bits(trainer: &Trainer, data: &TokenData) -> anyhow::Result<Option<f64>> {
    Ok(trainer
        .eval(&trainer.val_windows(data))?
        .map(|v| v * (1.0 / std::f64::consts::LN_2)))
}

/// The training loop, with a progress bar (or a line per evaluation in a log) and
/// a checkpoint plus curve.csv in `out` whenever the trainer asks.
fn train_with_progress(
    trainer: &mut Trainer,
    data: &TokenData,
    out: &Path,
    extra: &serde_json::Value,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    // The cap `min_epochs` sets for this data, before the bar and the ETA use it.
    trainer.cfg.steps = trainer.cfg.steps_for(data);
    let bar = progress::bar(trainer.cfg.steps, "train");
    bar.set_position(trainer.state.step);
    let (first_step, trainer_steps) = (trainer.state.step, trainer.cfg.steps);
    let mut last_val: Option<f64> = trainer.state.curve.iter().rev().find_map(|p| p.val_loss);
    trainer.run(data, |event| {
        match event {
            Event::Step(p) => {
                if let Some(v) = p.val_loss {
                    last_val = Some(v);
                    // No bar in a log: a line per evaluation, so an unattended run
                    // still says where it is and when it will end.
                    if bar.is_hidden() {
                        let done = (p.step - first_step).max(1) as f64;
                        let left = trainer_steps.saturating_sub(p.step) as f64;
                        let secs = started.elapsed().as_secs_f64();
                        eprintln!(
                            "step {}/{trainer_steps}: loss {:.3}, val {v:.3}, {:.0} tok/s, {:.0} s elapsed, eta {:.0} s",
                            p.step,
                            p.train_loss,
                            p.tokens_per_sec,
                            secs,
                            secs / done * left
                        );
                    }
                }
                bar.set_position(p.step);
                bar.set_message(format!(
                    "loss {:.3} val {} {:.0} tok/s",
                    p.train_loss,
                    last_val.map_or("-".into(), |v| format!("{v:.3}")),
                    p.tokens_per_sec
                ));
            }
            Event::Checkpoint(t) => {
                checkpoint::save(out, t, extra)?;
                write_curve(out, t)?;
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(())
}

/// The summary of the finished run (`start_val_bits` left for the caller).
fn summarise(
    trainer: &Trainer,
    tok: &Tokenizer,
    series: &[(String, Series)],
    data: &TokenData,
    out: &Path,
    mode: &'static str,
    started: std::time::Instant,
) -> anyhow::Result<Summary> {
    let nats_to_bits = 1.0 / std::f64::consts::LN_2;
    let vocab = tok.vocab_size();
    let to_ids = |seqs: &[Vec<u32>]| -> Vec<candlecast_tokenize::TokenId> {
        seqs.iter()
            .flatten()
            .map(|&t| candlecast_tokenize::TokenId(t))
            .collect()
    };
    let train_counts = token_counts(&to_ids(&data.train), vocab);
    let unigram_bits =
        unigram_cross_entropy_bits(&train_counts, &token_counts(&to_ids(&data.val), vocab));
    let val_bits = val_bits(trainer, data)?;
    let sources = per_source(trainer, series, data)?;
    Ok(Summary {
        run: out.display().to_string(),
        mode,
        steps: trainer.state.step,
        stopped_early: trainer.state.stopped_early,
        vocab_size: vocab,
        parameters: trainer.model.config().n_params(),
        train_tokens: data.train.iter().map(Vec::len).sum::<usize>(),
        val_tokens: data.val.iter().map(Vec::len).sum::<usize>(),
        start_val_bits: None,
        val_bits,
        best_val_bits: trainer.state.best_val.map(|v| v * nats_to_bits),
        unigram_bits,
        seconds: started.elapsed().as_secs_f64(),
        sources,
    })
}

/// The summary on stdout: one JSON line, or the lines a person reads.
fn print_summary(summary: &Summary, json: bool) -> anyhow::Result<()> {
    let (mode, vocab, unigram_bits) = (summary.mode, summary.vocab_size, summary.unigram_bits);
    let (train_tokens, val_tokens) = (summary.train_tokens, summary.val_tokens);
    let (val_bits, start_val_bits) = (summary.val_bits, summary.start_val_bits);
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        println!(
            "{mode} -> {}: {} steps{}, {} parameters, vocab {vocab}, {train_tokens} train / {val_tokens} val tokens",
            summary.run,
            summary.steps,
            if summary.stopped_early { " (stopped early)" } else { "" },
            summary.parameters
        );
        println!(
            "  val cross-entropy {} bits/token (at start {}, best {}), unigram baseline {unigram_bits:.3} bits/token, {:.1} s",
            val_bits.map_or("-".into(), |v| format!("{v:.3}")),
            start_val_bits.map_or("-".into(), |v| format!("{v:.3}")),
            summary.best_val_bits.map_or("-".into(), |v| format!("{v:.3}")),
            summary.seconds
        );
        if summary.sources.len() > 1 {
            println!("  source                                   series  train tokens  seen (exp.)  val bits  unigram");
            for r in &summary.sources {
                println!(
                    "  {:<40} {:>6} {:>13} {:>12.0} {:>9} {:>8.3}",
                    r.source,
                    r.series,
                    r.train_tokens,
                    r.tokens_seen,
                    r.val_bits.map_or("-".into(), |v| format!("{v:.3}")),
                    r.unigram_bits
                );
            }
        }
    }
    Ok(())
}

/// `RUN/curve.csv`: the learning curve so far.
fn write_curve(dir: &Path, t: &Trainer) -> candlecast_gpt::Result<()> {
    let mut s = String::from("step,lr,train_loss,val_loss,tokens_per_sec\n");
    for p in &t.state.curve {
        s.push_str(&format!(
            "{},{},{},{},{:.1}\n",
            p.step,
            p.lr,
            p.train_loss,
            p.val_loss.map_or(String::new(), |v| v.to_string()),
            p.tokens_per_sec
        ));
    }
    write_atomic(&dir.join("curve.csv"), s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configs_parse_and_build() {
        for name in ["tiny", "small"] {
            // Read at run time: a test binary reused from another checkout keeps its path.
            let root = std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
            let path = Path::new(&root).join(format!("configs/{name}.toml"));
            let cfg = RunConfig::load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            let model = GptConfig {
                vocab_size: 1026,
                ..cfg.model.clone()
            };
            model.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            cfg.train
                .validate(model.max_ctx)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            cfg.finetune
                .as_ref()
                .map(|f| f.validate(model.max_ctx))
                .transpose()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
