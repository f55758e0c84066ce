//! `candlecast backtest`: resolve the flags into a window of one series, a broker
//! and strategies (loading the model for the forecast strategy), run them, print
//! the statistics and write the report folder. Everything that can be refused is
//! refused before any output exists; the folder itself is written atomically.

use crate::args::BacktestArgs;
use crate::inputs::load_series;
use crate::run_dir::{load_run, LoadedRun, RunExtra};
use anyhow::{bail, Context};
use candlecast_backtest::report::{self, Entry, Report, ReportOptions};
use candlecast_backtest::significance::sharpe_vs_buy_hold;
use candlecast_backtest::{
    rule_strategy, run as run_backtest, BacktestError, BrokerConfig, BuyHold, ForecastStrategy,
    Metrics, RefitPlan, Run, RunOptions, Strategy, StrategySpec, Units, VolTarget,
};
use candlecast_data::{Series, Timestamp};
use std::process::ExitCode;
use std::rc::Rc;

pub fn run(args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::resolve(args)?;
    check_output(args, &plan.spec)?;
    let (name, full) = pick_series(args)?;
    let (series, full_len, covers) = cut_at(full, plan.to);
    let spec = &plan.spec;
    let needs_model = spec.needs_model() || plan.compare.iter().any(StrategySpec::needs_model);
    let model = match needs_model {
        true => Some(load_run(&crate::base::resolve(args.model.as_deref())?)?),
        false => None,
    };
    let window_start = window_start(&plan, model.as_ref(), &name, &series, full_len);
    if window_start >= series.len() {
        return Err(BacktestError::EmptyWindow(format!(
            "no bars from {} to {}; the file covers {covers}",
            args.from.as_deref().unwrap_or("the start"),
            args.to.as_deref().unwrap_or("the end"),
        ))
        .into());
    }
    let broker = &plan.broker;
    // Before any forecast is made: a run that cannot trade should not take minutes to say so.
    if let Some(w) = report::whole_units_warning(&series, window_start, broker) {
        eprintln!("warning: {w}");
    }
    let opts = RunOptions {
        window_start,
        decide_every: args.decide_every as usize,
        allow_short: !args.long_only,
    };
    let model = model.as_ref();
    let main_run = run_strategy(
        spec,
        model,
        plan.refit_plan,
        &name,
        &series,
        broker,
        &opts,
        args,
    )?;
    let compare_runs = run_compare(args, &plan, model, &name, &series, &opts)?;
    let runs = Runs {
        main: main_run,
        compare: compare_runs,
        opts,
    };
    write_report(args, &plan, model, &name, &series, &runs)?;
    Ok(ExitCode::SUCCESS)
}

/// The flags resolved into what they mean, every refusal among them first.
struct Plan {
    spec: StrategySpec,
    refit_plan: Option<RefitPlan>,
    compare: Vec<StrategySpec>,
    broker: BrokerConfig,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

impl Plan {
    fn resolve(args: &BacktestArgs) -> anyhow::Result<Plan> {
        let spec: StrategySpec = args.strategy.parse()?;
        let refit_plan = crate::refit::plan(args, &spec)?;
        let compare = compare_specs(args, &spec)?;
        let broker = BrokerConfig {
            cash: args.cash,
            commission: args.commission,
            spread: args.spread,
            slippage: args.slippage,
            units: if args.fractional {
                Units::Fractional
            } else {
                Units::Whole
            },
            finalize: args.finalize,
        };
        broker.validate()?;
        let from = args
            .from
            .as_deref()
            .map(|s| parse_time(s, "--from", false))
            .transpose()?;
        let to = args
            .to
            .as_deref()
            .map(|s| parse_time(s, "--to", true))
            .transpose()?;
        Ok(Plan {
            spec,
            refit_plan,
            compare,
            broker,
            from,
            to,
        })
    }
}

/// The report folder is checked before anything is read or run.
fn check_output(args: &BacktestArgs, spec: &StrategySpec) -> anyhow::Result<()> {
    let mut guard = crate::output::Guard::new();
    guard.input(&args.input);
    if spec.needs_model() {
        guard.model(&crate::base::resolve(args.model.as_deref())?);
    }
    guard.dir(
        &args.out,
        "--out",
        args.force,
        &[],
        crate::output::DirMode::ReplaceWhole {
            is_earlier: |dir| dir.join("stats.json").is_file(),
            what: "a backtest report folder (it has no stats.json)",
        },
    )
}

/// Bars after --to do not exist for this backtest: the series cut there, its
/// length before the cut and the span it covered.
fn cut_at(full: Series, to: Option<Timestamp>) -> (Series, usize, String) {
    let end = match to {
        Some(t) => full.timestamps().partition_point(|x| *x <= t),
        None => full.len(),
    };
    let (full_len, covers) = (full.len(), covers(&full));
    // Cut only when --to cuts: a copy of a long series is not free.
    let series = if end == full_len {
        full
    } else {
        full.slice(0..end)
    };
    (series, full_len, covers)
}

/// The first bar traded: --from, or after the bars the model was trained on.
fn window_start(
    plan: &Plan,
    model: Option<&LoadedRun>,
    name: &str,
    series: &Series,
    full_len: usize,
) -> usize {
    let from = plan.from;
    let mut window_start = match from {
        Some(t) => series.timestamps().partition_point(|x| *x < t),
        None => 0,
    };
    if let Some(run) = model {
        if let Some(trained) = trained_bars(&run.extra, name, series.symbol.as_deref(), full_len) {
            if from.is_none() {
                window_start = trained;
                eprintln!(
                    "note: the window starts after the {trained} bars of {name} the model was trained on (--from to change)"
                );
            } else if window_start < trained {
                eprintln!(
                    "warning: the window starts inside the {trained} bars of {name} the model was trained on: the forecasts there are in-sample"
                );
            }
        }
    }
    window_start
}

/// The strategies' runs and the options they ran with.
struct Runs {
    main: Run,
    compare: Vec<(String, Run)>,
    opts: RunOptions,
}

/// The --compare strategies over the same window.
fn run_compare(
    args: &BacktestArgs,
    plan: &Plan,
    model: Option<&LoadedRun>,
    name: &str,
    series: &Series,
    opts: &RunOptions,
) -> anyhow::Result<Vec<(String, Run)>> {
    let broker = &plan.broker;
    // Rule strategies decide every bar, as backtesting.py's do; model strategies
    // every --decide-every bars like the main one, with the model as given (the
    // refits are the main strategy's).
    let compare_opts = RunOptions {
        decide_every: 1,
        ..*opts
    };
    let mut compare_runs: Vec<(String, Run)> = Vec::new();
    for c in &plan.compare {
        let o = if c.needs_model() { opts } else { &compare_opts };
        let r = run_strategy(c, model, None, name, series, broker, o, args)
            .with_context(|| format!("--compare {c}"))?;
        compare_runs.push((c.to_string(), r));
    }
    Ok(compare_runs)
}

/// Buy-and-hold on the same window, the yardstick of every Sharpe ratio: made
/// here unless the main or a --compare strategy is buy-and-hold already.
fn own_buy_hold(plan: &Plan, series: &Series, opts: &RunOptions) -> anyhow::Result<Option<Run>> {
    let compare_opts = RunOptions {
        decide_every: 1,
        ..*opts
    };
    Ok(
        match (&plan.spec, plan.compare.contains(&StrategySpec::BuyHold)) {
            (StrategySpec::BuyHold, _) | (_, true) => None,
            _ => Some(run_backtest(
                series,
                &mut BuyHold,
                &plan.broker,
                &compare_opts,
                &mut |_| {},
            )?),
        },
    )
}

/// The statistics on stdout and the report folder.
fn write_report(
    args: &BacktestArgs,
    plan: &Plan,
    model: Option<&LoadedRun>,
    name: &str,
    series: &Series,
    runs: &Runs,
) -> anyhow::Result<()> {
    let (spec, broker, opts) = (&plan.spec, &plan.broker, &runs.opts);
    let (main_run, compare_runs) = (&runs.main, &runs.compare);
    let own_buy_hold = own_buy_hold(plan, series, opts)?;
    let buy_hold = own_buy_hold.as_ref().or_else(|| {
        compare_runs
            .iter()
            .find(|(c, _)| c == "buy-hold")
            .map(|(_, r)| r)
    });
    let vs = |s: &str, r: &Run| match (s, buy_hold) {
        ("buy-hold", _) | (_, None) => None,
        (_, Some(b)) => sharpe_vs_buy_hold(r, b, series),
    };
    let title = match &series.symbol {
        Some(sym) => format!("{name} ({sym})"),
        None => name.to_string(),
    };
    let main_spec = spec.to_string();
    let rep = Report {
        title,
        series,
        main: Entry {
            vs_buy_hold: vs(&main_spec, main_run),
            spec: main_spec,
            run: main_run,
            metrics: Metrics::compute(main_run, series),
        },
        compare: compare_runs
            .iter()
            .map(|(spec, r)| Entry {
                spec: spec.clone(),
                run: r,
                metrics: Metrics::compute(r, series),
                vs_buy_hold: vs(spec, r),
            })
            .collect(),
        broker,
        options: opts,
        model: model.map(|r| r.dir.display().to_string()),
        refit: plan.refit_plan,
        report_options: ReportOptions {
            equity_csv: args.equity_csv,
            candles: args.candles,
        },
    };
    report::write(&args.out, &rep)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rep.stats_json())?);
    } else {
        print!("{}", rep.table());
    }
    for n in report::notes(&rep) {
        eprintln!("note: {n}");
    }
    if !args.json {
        eprintln!("report -> {}", args.out.join("report.html").display());
    }
    Ok(())
}

/// One strategy over the window: a model strategy (vol-target, forecast) with
/// the loaded model and a progress bar, since it rolls paths at every decision,
/// refitted walk-forward when `refit_plan` says so; a rule strategy on the bars
/// alone.
#[allow(clippy::too_many_arguments)]
fn run_strategy(
    spec: &StrategySpec,
    model: Option<&LoadedRun>,
    refit_plan: Option<RefitPlan>,
    name: &str,
    series: &Series,
    broker: &BrokerConfig,
    opts: &RunOptions,
    args: &BacktestArgs,
) -> anyhow::Result<Run> {
    let Some(run) = model.filter(|_| spec.needs_model()) else {
        let mut strategy = rule_strategy(spec)?
            .with_context(|| format!("--strategy {spec} cannot run without a model"))?;
        return Ok(run_backtest(
            series,
            strategy.as_mut(),
            broker,
            opts,
            &mut |_| {},
        )?);
    };
    let (dir, gpt, tok) = (&run.dir, &run.model, &run.tok);
    let ctx = args.sampling.context(gpt.config().max_ctx);
    let sampling = args.sampling.sampling(run.temperature());
    let seed = args.sampling.seed;
    let refit = refit_plan
        .map(|p| crate::refit::setup(dir, tok, p, seed))
        .transpose()?;
    let refit_seconds = refit.as_ref().map(|r| Rc::clone(&r.seconds));
    let ws = opts.window_start;
    let mut strategy: Box<dyn Strategy> = match spec {
        StrategySpec::VolTarget(rule) => crate::refit::wrap(
            VolTarget::new(gpt, tok, name, *rule, ctx, sampling, seed)
                .with_context(|| format!("model {}", dir.display()))?,
            refit,
            ws,
        )?,
        StrategySpec::Forecast(rule) => crate::refit::wrap(
            ForecastStrategy::new(gpt, tok, name, *rule, broker, ctx, sampling, seed)
                .with_context(|| format!("model {}", dir.display()))?,
            refit,
            ws,
        )?,
        _ => bail!("--strategy {spec} needs no model"),
    };
    let bar = crate::progress::bar((series.len() - ws) as u64, "backtest");
    let mut tick = |_: usize| bar.inc(1);
    let r = run_backtest(series, strategy.as_mut(), broker, opts, &mut tick)?;
    bar.finish_and_clear();
    if let (Some(plan), Some(secs)) = (refit_plan, refit_seconds) {
        eprintln!("{}", crate::refit::summary(&r, plan, secs.get()));
    }
    Ok(r)
}

/// `--compare`, or buy-hold and sma-cross:10,20 beside anything else.
fn compare_specs(args: &BacktestArgs, main: &StrategySpec) -> anyhow::Result<Vec<StrategySpec>> {
    if args.no_compare {
        return Ok(vec![]);
    }
    if !args.compare.is_empty() {
        return args
            .compare
            .iter()
            .map(|s| {
                s.parse::<StrategySpec>()
                    .with_context(|| format!("--compare {s}"))
            })
            .filter(|s| s.as_ref().map_or(true, |s| s != main))
            .collect();
    }
    Ok([StrategySpec::BuyHold, "sma-cross:10,20".parse()?]
        .into_iter()
        .filter(|s| s != main)
        .collect())
}

/// The one series of --input (or the --symbol of a panel), named by its file.
fn pick_series(args: &BacktestArgs) -> anyhow::Result<(String, Series)> {
    let mut all = load_series(std::slice::from_ref(&args.input), &args.read)?;
    let name = args.input.display().to_string();
    let pos = match &args.symbol {
        Some(sym) => all
            .iter()
            .position(|(_, s)| s.symbol.as_deref() == Some(sym.as_str()))
            .with_context(|| {
                format!(
                    "{name}: no series with symbol '{sym}' (symbols: {})",
                    symbols(&all)
                )
            })?,
        None if all.len() == 1 => 0,
        None => bail!(
            "{name} holds {} series ({}); choose one with --symbol",
            all.len(),
            symbols(&all)
        ),
    };
    let (_, s) = all.swap_remove(pos);
    if s.is_empty() {
        bail!("{name}: no bars");
    }
    Ok((name, s))
}

fn symbols(all: &[(String, Series)]) -> String {
    all.iter()
        .map(|(_, s)| s.symbol.clone().unwrap_or_else(|| "-".into()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many leading bars of this series the model's training saw, when the run
/// records training on this very file (same name, symbol and bars).
fn trained_bars(extra: &RunExtra, name: &str, symbol: Option<&str>, bars: usize) -> Option<usize> {
    let f = extra
        .data
        .iter()
        .find(|f| f.file == name && f.symbol.as_deref() == symbol && f.bars == bars)?;
    Some((f.bars as f64 * extra.split.fit_fraction).floor() as usize)
}

fn covers(s: &Series) -> String {
    format!(
        "{} to {}",
        s.first_ts().map(|t| t.to_rfc3339()).unwrap_or_default(),
        s.last_ts().map(|t| t.to_rfc3339()).unwrap_or_default(),
    )
}

/// RFC 3339, or a date (UTC midnight; with `end_of_day`, the day's last millisecond).
fn parse_time(s: &str, flag: &str, end_of_day: bool) -> anyhow::Result<Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp(t.timestamp_millis()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let ms = d
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis();
        return Ok(Timestamp(if end_of_day { ms + 86_399_999 } else { ms }));
    }
    bail!("{flag} '{s}' is not RFC 3339 (2018-06-01T00:00:00Z) or a date (2018-06-01)")
}
