//! `candlecast demo`: the whole product on the bundled data, from any directory.
//!
//! The four permissive CSVs of `data/` and `configs/tiny.toml` are compiled into
//! the binary, written under DIR, and then driven through the command functions
//! themselves with typed arguments (a test checks that each equals what clap makes
//! of the command line a user would type, so the demo cannot drift from the CLI):
//! start from the shipped base model (or, with `--from-scratch`,
//! pretrain on all four series), fine-tune on the S&P 500, forecast every series,
//! score the model against the baselines, backtest vol-target beside the two
//! forecast rules and the rule strategies on the S&P 500's test window, and put the headline results
//! and links to it all in DIR/index.html.

mod index;

use crate::args::{
    BacktestArgs, DemoArgs, EvaluateArgs, ForecastArgs, InputArgs, SamplingArgs, TrainArgs,
};
use crate::output::write_atomic;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The bundled data, as shipped in `data/` (see data/README.md for sources and licences).
const DATA: [(&str, &[u8]); 4] = [
    (
        "btcusd_1h_coinbase_cdd.csv",
        include_bytes!("../data/btcusd_1h_coinbase_cdd.csv"),
    ),
    (
        "eurusd_1h_ask_gymanytrading.csv",
        include_bytes!("../data/eurusd_1h_ask_gymanytrading.csv"),
    ),
    (
        "sh600977_5m_kronos.csv",
        include_bytes!("../data/sh600977_5m_kronos.csv"),
    ),
    ("spx_1d_arch.csv", include_bytes!("../data/spx_1d_arch.csv")),
];
const TINY: &str = include_str!("../configs/tiny.toml");
const TARGET: &str = "spx_1d_arch.csv";

/// The strategies the backtest runs beside vol-target, as `--compare` specs, in
/// the report's column order: the cost-aware forecast rule, the first
/// (P(up) threshold) rule, and the two rule strategies. `{horizon}` and
/// `{samples}` are the demo's. This is the one place to add a strategy to the demo.
const COMPARE: [&str; 4] = [
    "forecast:horizon={horizon},samples={samples}",
    "forecast-threshold:horizon={horizon},samples={samples},threshold=0.55",
    "buy-hold",
    "sma-cross:10,20",
];

/// The tiny config, cut down for `--quick` (a smoke test of every stage, not a
/// model worth reading).
fn config(quick: bool) -> anyhow::Result<String> {
    if !quick {
        return Ok(TINY.to_string());
    }
    let mut t: toml::Table = TINY.parse().context("embedded configs/tiny.toml")?;
    let set = |t: &mut toml::Table, table: &str, key: &str, v: i64| {
        if let Some(toml::Value::Table(tab)) = t.get_mut(table) {
            tab.insert(key.to_string(), toml::Value::Integer(v));
        }
    };
    for (table, steps) in [("train", 40), ("finetune", 10)] {
        set(&mut t, table, "steps", steps);
        // The step counts above are the budget: no cap raised by the data's size.
        if let Some(toml::Value::Table(tab)) = t.get_mut(table) {
            tab.remove("min_epochs");
        }
        set(&mut t, table, "eval_every", 10);
        set(&mut t, table, "warmup_steps", 2);
        set(&mut t, table, "checkpoint_every", 0);
        set(&mut t, table, "eval_windows", 32);
    }
    Ok(toml::to_string(&t)?)
}

fn stage(n: usize, total: usize, what: &str) {
    eprintln!("\n[{n}/{total}] {what}");
}

/// A stage's command, run as the CLI would run it; a failure names the stage.
fn check(what: &str, done: anyhow::Result<ExitCode>) -> anyhow::Result<()> {
    let code = done.with_context(|| format!("demo: {what}"))?;
    if code != ExitCode::SUCCESS {
        anyhow::bail!("demo: {what} did not succeed");
    }
    Ok(())
}

/// Everything the stages share: where the demo writes and what it runs with.
/// `force`: the demo was told to write over an earlier demo, so each stage may
/// replace its own earlier output (the stages' own checks still keep inputs and
/// models safe).
struct Plan {
    out: PathBuf,
    force: bool,
    quick: bool,
    cfg: PathBuf,
    files: Vec<PathBuf>,
    target: PathBuf,
    horizon: usize,
    samples: usize,
}

impl Plan {
    fn new(args: &DemoArgs, data: &Path, files: Vec<PathBuf>, cfg: PathBuf) -> Plan {
        let (samples, horizon) = if args.quick { (16, 3) } else { (200, 5) };
        Plan {
            out: args.out.clone(),
            force: args.force,
            quick: args.quick,
            cfg,
            files,
            target: data.join(TARGET),
            horizon,
            samples,
        }
    }

    /// `train --config CFG [--init INIT] --data DATA.. --out OUT`.
    fn train(&self, init: Option<&Path>, data: Vec<PathBuf>, out: &Path) -> TrainArgs {
        TrainArgs {
            config: Some(self.cfg.clone()),
            data,
            out: out.to_path_buf(),
            force: self.force,
            init: init.map(Path::to_path_buf),
            resume: false,
            input: InputArgs::default(),
            json: false,
        }
    }

    /// `forecast --model PRE --horizon H --samples N --out DIR/forecast.csv --input ..`.
    fn forecast(&self, model: &Path) -> ForecastArgs {
        ForecastArgs {
            model: Some(model.to_path_buf()),
            input: self.files.clone(),
            horizon: self.horizon,
            samples: self.samples,
            quantiles: vec![0.1, 0.5, 0.9],
            paths: false,
            origin: None,
            sampling: SamplingArgs::default(),
            shard: None,
            out: Some(self.out.join("forecast.csv")),
            force: self.force,
            read: InputArgs::default(),
        }
    }

    /// `evaluate --model PRE --out DIR/scorecard --input ..`.
    fn evaluate(&self, model: &Path) -> EvaluateArgs {
        EvaluateArgs {
            model: Some(model.to_path_buf()),
            no_model: false,
            input: self.files.clone(),
            out: self.out.join("scorecard"),
            force: self.force,
            context: None,
            temperature: None,
            top_p: None,
            no_calibration: false,
            no_spread: false,
            calibration_bars: None,
            horizon: 1,
            samples: 100,
            origins_every: None,
            max_origins: 500,
            seed: 0,
            read: InputArgs::default(),
            json: false,
        }
    }

    /// The S&P 500 backtest from `from` with the fine-tuned model: vol-target
    /// beside [`COMPARE`], 0.1% commission, trades closed on the last bar so each
    /// strategy's trades count, and the per-bar file (about a thousand bars: it
    /// costs nothing).
    fn backtest(&self, model: &Path, from: String) -> BacktestArgs {
        let (h, n) = (self.horizon.to_string(), self.samples.to_string());
        BacktestArgs {
            input: self.target.clone(),
            symbol: None,
            model: Some(model.to_path_buf()),
            // vol-target leads: what the model knows best is the spread of the next bars.
            strategy: format!("vol-target:horizon={h},samples={n}"),
            cash: 10_000.0,
            commission: 0.001,
            spread: None,
            slippage: None,
            fractional: false,
            finalize: true,
            long_only: false,
            decide_every: if self.quick { 20 } else { 5 },
            refit_every: 0,
            refit_steps: 20,
            from: Some(from),
            to: None,
            compare: COMPARE
                .map(|c| c.replace("{horizon}", &h).replace("{samples}", &n))
                .to_vec(),
            no_compare: false,
            sampling: SamplingArgs::default(),
            out: self.out.join("backtest"),
            force: self.force,
            json: false,
            equity_csv: true,
            candles: false,
            read: InputArgs::default(),
        }
    }
}

pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let out = &args.out;
    crate::output::Guard::new().dir(
        out,
        "--out",
        args.force,
        &[],
        crate::output::DirMode::WriteInto,
    )?;
    let (data, files, cfg) = write_inputs(out, args.quick)?;
    let plan = Plan::new(args, &data, files, cfg);
    let runs = out.join("runs");
    let (pre, fine) = (runs.join("pretrain"), runs.join("finetune-spx"));
    let total = 6;

    // The pretrained model: the shipped base model, or with --from-scratch one
    // pretrained here on the four bundled series.
    let pre = if args.from_scratch {
        stage(
            1,
            total,
            "pretrain configs/tiny.toml on the four bundled series (--from-scratch)",
        );
        let a = plan.train(None, plan.files.clone(), &pre);
        check("pretraining", crate::train::run(&a))?;
        pre
    } else {
        stage(
            1,
            total,
            "the shipped base model (models/base: bundled + synthetic data), no training",
        );
        PathBuf::from(crate::base::BASE)
    };

    stage(2, total, "fine-tune on the S&P 500's training part");
    let a = plan.train(Some(&pre), vec![plan.target.clone()], &fine);
    check("fine-tuning", crate::train::run(&a))?;

    stage(
        3,
        total,
        "forecast every series (sample paths through the KV cache)",
    );
    check("forecast", crate::forecast::run(&plan.forecast(&pre)))?;

    stage(
        4,
        total,
        "score the model against the baselines on every test part",
    );
    check("evaluate", crate::evaluate::run(&plan.evaluate(&pre)))?;

    stage(
        5,
        total,
        "backtest vol-target, the forecast rules, buy-and-hold and sma-cross on the S&P 500's test window",
    );
    let from = test_start(&plan.target)?;
    check(
        "backtest",
        crate::backtest::run(&plan.backtest(&fine, from)),
    )?;

    stage(6, total, "write index.html with the headline results");
    write_atomic(
        &out.join("index.html"),
        index::page(out, args.quick, args.from_scratch)?.as_bytes(),
    )?;

    print_contents(out, args.from_scratch, t0.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// The first bar of the S&P 500's test part: the fine-tuned model saw the first
/// 80% of the series, so the backtest trades only after it.
fn test_start(target: &Path) -> anyhow::Result<String> {
    let ds = candlecast_data::read_path(target, &candlecast_data::ReadOptions::default())?;
    let spx = ds
        .panel
        .series
        .first()
        .ok_or_else(|| anyhow::anyhow!("{TARGET}: no series"))?;
    let split = candlecast_forecast::split_index(spx.len());
    spx.timestamps()
        .get(split)
        .map(|t| t.to_rfc3339())
        .ok_or_else(|| anyhow::anyhow!("{TARGET}: too short"))
}

/// The bundled data and the config under DIR: the files the stages read.
fn write_inputs(out: &Path, quick: bool) -> anyhow::Result<(PathBuf, Vec<PathBuf>, PathBuf)> {
    let data = out.join("data");
    std::fs::create_dir_all(&data).with_context(|| data.display().to_string())?;
    let mut files = Vec::new();
    for (name, bytes) in DATA {
        let p = data.join(name);
        write_atomic(&p, bytes)?;
        files.push(p);
    }
    let cfg = out.join("tiny.toml");
    write_atomic(&cfg, config(quick)?.as_bytes())?;
    Ok((data, files, cfg))
}

/// The closing lines: where everything the demo wrote is.
fn print_contents(out: &Path, from_scratch: bool, secs: f64) {
    println!(
        "\ndemo finished in {:.0} s. Open {}/index.html; everything is under {}:",
        secs,
        out.display(),
        out.display()
    );
    for (path, what) in [
        (
            "index.html",
            "headline results (scorecard, verdicts, backtest) and links to everything below",
        ),
        (
            if from_scratch {
                "runs/pretrain"
            } else {
                "(base model)"
            },
            if from_scratch {
                "the pretrained model (model.safetensors, meta.json, curve.csv)"
            } else {
                "forecasts and scores use the shipped base model (models/base)"
            },
        ),
        (
            "runs/finetune-spx",
            "fine-tuned on the S&P 500's training part",
        ),
        (
            "forecast.csv",
            "per-step quantiles, mean and P(up) for every series",
        ),
        (
            "scorecard/",
            "scorecard.md/.json, calibration.csv, evaluate.html",
        ),
        (
            "backtest/",
            "report.html, equity.svg, stats.json, trades.csv, equity.csv, forecasts.csv",
        ),
    ] {
        println!("  {path:<20} {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(argv: &[String]) -> Command {
        let argv = std::iter::once("candlecast".to_string()).chain(argv.iter().cloned());
        match Cli::try_parse_from(argv) {
            Ok(cli) => cli.command,
            Err(e) => panic!("{e}"),
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The typed arguments of every stage are what clap makes of the command line a
    /// user would type for it (compared through `Debug`, which prints every field),
    /// for the full and the quick demo with and without `--force`.
    #[test]
    fn demo_args_match_the_cli() {
        for (quick, force) in [(false, false), (true, true)] {
            let args = DemoArgs {
                out: PathBuf::from("o"),
                quick,
                from_scratch: true,
                force,
            };
            let files = vec![PathBuf::from("o/data/a.csv"), PathBuf::from("o/data/b.csv")];
            let plan = Plan::new(
                &args,
                Path::new("o/data"),
                files,
                PathBuf::from("o/tiny.toml"),
            );
            let f = |mut v: Vec<String>| {
                if force {
                    v.push("--force".into());
                }
                v
            };
            let (h, n) = if quick { ("3", "16") } else { ("5", "200") };

            let typed = plan.train(
                Some(Path::new("pre")),
                vec![plan.target.clone()],
                Path::new("fine"),
            );
            let cli = parse(&f(strs(&[
                "train",
                "--config",
                "o/tiny.toml",
                "--init",
                "pre",
                "--data",
                "o/data/spx_1d_arch.csv",
                "--out",
                "fine",
            ])));
            assert!(
                matches!(&cli, Command::Train(c) if format!("{c:?}") == format!("{typed:?}")),
                "{cli:?}"
            );

            let typed = plan.forecast(Path::new("pre"));
            let cli = parse(&f(strs(&[
                "forecast",
                "--model",
                "pre",
                "--horizon",
                h,
                "--samples",
                n,
                "--out",
                "o/forecast.csv",
                "--input",
                "o/data/a.csv",
                "o/data/b.csv",
            ])));
            assert!(
                matches!(&cli, Command::Forecast(c) if format!("{c:?}") == format!("{typed:?}")),
                "{cli:?}"
            );

            let typed = plan.evaluate(Path::new("pre"));
            let cli = parse(&f(strs(&[
                "evaluate",
                "--model",
                "pre",
                "--out",
                "o/scorecard",
                "--input",
                "o/data/a.csv",
                "o/data/b.csv",
            ])));
            assert!(
                matches!(&cli, Command::Evaluate(c) if format!("{c:?}") == format!("{typed:?}")),
                "{cli:?}"
            );

            let typed = plan.backtest(Path::new("fine"), "2020-01-02T00:00:00Z".into());
            let mut argv = strs(&[
                "backtest",
                "--input",
                "o/data/spx_1d_arch.csv",
                "--model",
                "fine",
                "--strategy",
            ]);
            argv.push(format!("vol-target:horizon={h},samples={n}"));
            argv.extend(strs(&[
                "--from",
                "2020-01-02T00:00:00Z",
                "--cash",
                "10000",
                "--commission",
                "0.001",
                "--finalize",
                "--decide-every",
                if quick { "20" } else { "5" },
                "--equity-csv",
                "--out",
                "o/backtest",
                "--compare",
            ]));
            argv.extend(COMPARE.map(|c| c.replace("{horizon}", h).replace("{samples}", n)));
            let cli = parse(&f(argv));
            assert!(
                matches!(&cli, Command::Backtest(c) if format!("{c:?}") == format!("{typed:?}")),
                "{cli:?}"
            );
        }
    }
}
