//! `candlecast demo`: the whole product on the bundled data, from any directory.
//!
//! The four permissive CSVs of `data/` and `configs/tiny.toml` are compiled into
//! the binary, written under DIR, and then driven through the same subcommands a
//! user types (parsed by the same clap definitions, so the demo cannot drift from
//! the CLI): start from the shipped base model (or, with `--from-scratch`,
//! pretrain on all four series), fine-tune on the S&P 500, forecast every series,
//! score the model against the baselines, backtest vol-target beside the two
//! forecast rules and the rule strategies on the S&P 500's test window, and put the headline results
//! and links to it all in DIR/index.html.

mod index;

use crate::args::{Cli, DemoArgs};
use anyhow::Context;
use crate::output::write_atomic;
use clap::Parser;
use std::path::Path;
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

/// Runs one subcommand as if typed; a failure names the stage. `force`: the demo
/// was told to write over an earlier demo, so each stage may replace its own
/// earlier output (the stages' own checks still keep inputs and models safe).
fn sub(argv: &[String], force: bool) -> anyhow::Result<()> {
    let mut argv = argv.to_vec();
    if force {
        argv.push("--force".into());
    }
    let cli =
        Cli::try_parse_from(std::iter::once("candlecast".to_string()).chain(argv.iter().cloned()))
            .with_context(|| format!("demo: bad arguments for `candlecast {}`", argv.join(" ")))?;
    let code = crate::run(cli).with_context(|| format!("`candlecast {}`", argv.join(" ")))?;
    if code != ExitCode::SUCCESS {
        anyhow::bail!("`candlecast {}` did not succeed", argv.join(" "));
    }
    Ok(())
}

fn s(p: &Path) -> String {
    p.display().to_string()
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
    let runs = out.join("runs");
    let (pre, fine) = (runs.join("pretrain"), runs.join("finetune-spx"));
    let target = s(&data.join(TARGET));
    let total = 6;
    let (samples, horizon) = if args.quick {
        ("16", "3")
    } else {
        ("200", "5")
    };

    // The pretrained model: the shipped base model, or with --from-scratch one
    // pretrained here on the four bundled series.
    let pre = if args.from_scratch {
        stage(
            1,
            total,
            "pretrain configs/tiny.toml on the four bundled series (--from-scratch)",
        );
        let mut a = vec!["train", "--config", &s(&cfg), "--out", &s(&pre), "--data"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        a.extend(files.iter().cloned());
        sub(&a, args.force)?;
        pre
    } else {
        stage(
            1,
            total,
            "the shipped base model (models/base: bundled + synthetic data), no training",
        );
        std::path::PathBuf::from(crate::base::BASE)
    };

    stage(2, total, "fine-tune on the S&P 500's training part");
    sub(
        &[
            "train".into(),
            "--config".into(),
            s(&cfg),
            "--init".into(),
            s(&pre),
            "--data".into(),
            target.clone(),
            "--out".into(),
            s(&fine),
        ],
        args.force,
    )?;

    forecast_and_score(args, &pre, &files, horizon, samples)?;

    let fine = s(&fine);
    backtest_stage(args, &data, &fine, horizon, samples)?;

    stage(6, total, "write index.html with the headline results");
    write_atomic(
        &out.join("index.html"),
        index::page(out, args.quick, args.from_scratch)?.as_bytes(),
    )?;

    print_contents(out, args.from_scratch, t0.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Stages 3 and 4: forecast every series and score the model, both with the
/// pretrained (or base) model.
fn forecast_and_score(
    args: &DemoArgs,
    pre: &Path,
    files: &[String],
    horizon: &str,
    samples: &str,
) -> anyhow::Result<()> {
    let (out, total) = (&args.out, 6);
    stage(
        3,
        total,
        "forecast every series (sample paths through the KV cache)",
    );
    let mut a: Vec<String> = ["forecast", "--model"].map(String::from).to_vec();
    a.extend([
        s(pre),
        "--horizon".into(),
        horizon.into(),
        "--samples".into(),
        samples.into(),
        "--out".into(),
        s(&out.join("forecast.csv")),
        "--input".into(),
    ]);
    a.extend(files.iter().cloned());
    sub(&a, args.force)?;

    stage(
        4,
        total,
        "score the model against the baselines on every test part",
    );
    let mut a: Vec<String> = ["evaluate", "--model"].map(String::from).to_vec();
    a.extend([
        s(pre),
        "--out".into(),
        s(&out.join("scorecard")),
        "--input".into(),
    ]);
    a.extend(files.iter().cloned());
    sub(&a, args.force)?;
    Ok(())
}

/// The bundled data and the config under DIR: the files the stages read.
fn write_inputs(
    out: &Path,
    quick: bool,
) -> anyhow::Result<(std::path::PathBuf, Vec<String>, std::path::PathBuf)> {
    let data = out.join("data");
    std::fs::create_dir_all(&data).with_context(|| s(&data))?;
    let mut files = Vec::new();
    for (name, bytes) in DATA {
        let p = data.join(name);
        write_atomic(&p, bytes)?;
        files.push(s(&p));
    }
    let cfg = out.join("tiny.toml");
    write_atomic(&cfg, config(quick)?.as_bytes())?;
    Ok((data, files, cfg))
}

/// Stage 5: the backtest on the S&P 500's test window, with the fine-tuned model.
fn backtest_stage(
    args: &DemoArgs,
    data: &Path,
    fine: &str,
    horizon: &str,
    samples: &str,
) -> anyhow::Result<()> {
    let (out, total, target) = (&args.out, 6, s(&data.join(TARGET)));
    stage(
        5,
        total,
        "backtest vol-target, the forecast rules, buy-and-hold and sma-cross on the S&P 500's test window",
    );
    // The fine-tuned model saw the first 80% of the series: trade only after it.
    let ds =
        candlecast_data::read_path(&data.join(TARGET), &candlecast_data::ReadOptions::default())?;
    let spx = ds
        .panel
        .series
        .first()
        .ok_or_else(|| anyhow::anyhow!("{TARGET}: no series"))?;
    let split = candlecast_forecast::split_index(spx.len());
    let from = spx
        .timestamps()
        .get(split)
        .map(|t| t.to_rfc3339())
        .ok_or_else(|| anyhow::anyhow!("{TARGET}: too short"))?;
    // vol-target leads: what the model knows best is the spread of the next bars.
    let strategy = format!("vol-target:horizon={horizon},samples={samples}");
    let mut a: Vec<String> = ["backtest", "--input"].map(String::from).to_vec();
    a.extend([
        target,
        "--model".into(),
        fine.to_string(),
        "--strategy".into(),
        strategy,
        "--from".into(),
        from,
        "--cash".into(),
        "10000".into(),
        "--commission".into(),
        "0.001".into(),
        // Close what is open on the last bar, so every strategy's trades are counted.
        "--finalize".into(),
        "--decide-every".into(),
        if args.quick { "20" } else { "5" }.into(),
        // The test window is about a thousand bars: the per-bar file costs nothing.
        "--equity-csv".into(),
        "--out".into(),
        s(&out.join("backtest")),
        "--compare".into(),
    ]);
    a.extend(COMPARE.map(|c| {
        c.replace("{horizon}", horizon)
            .replace("{samples}", samples)
    }));
    sub(&a, args.force)?;
    Ok(())
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
