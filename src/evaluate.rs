//! `candlecast evaluate`: the scorecard. Per series (80/20 time split, every test
//! bar an origin, nothing fitted on the test part) the one-step forecasts of the
//! model in RUN and of the classical baselines, scored with exact CRPS, coverage,
//! pinball loss, MASE, direction accuracy and PIT, with a paired Diebold-Mariano
//! test of every forecaster against the model, and of the model against the bar
//! (the best classical forecaster on the validation slice).

use crate::args::{CalibrationBars, EvaluateArgs};
use crate::inputs::{expand_inputs, load_series};
use crate::output::write_atomic;
use anyhow::Context;
use candlecast_data::Series;
use candlecast_forecast::{
    calibration_logits, gpt_logits, horizon, markdown, name_hash, pool, score_series_against,
    split_index, thinned_for_calibration, validation_bar, validation_bar_at, Calibration,
    Forecaster, GptForecastParams, GptForecaster, History, OneStep, SeriesCard, BASELINES,
    PIT_BINS,
};
use candlecast_gpt::Gpt;
use candlecast_gpt::Sampling;
use candlecast_tokenize::Tokenizer;
use std::path::PathBuf;
use std::process::ExitCode;

/// What `evaluate` writes into its --out folder.
const OUTPUT_FILES: [&str; 4] = [
    "scorecard.json",
    "scorecard.md",
    "calibration.csv",
    "evaluate.html",
];

pub fn run(args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    check_flags(args)?;
    let run_dir = check_outputs(args)?;
    let series = load_series(&args.input, &args.read)?;
    let mut temperature = args.temperature.unwrap_or(1.0);
    let model = match &run_dir {
        None => None,
        Some(dir) => {
            let run = crate::run_dir::load_run(dir)?;
            temperature = args.temperature.unwrap_or(run.temperature());
            Some((run.model, run.tok))
        }
    };
    let reference = if model.is_some() { "gpt" } else { "rw-ewma" };
    let bar = crate::progress::bar(series.len() as u64, "evaluate");
    let mut cards: Vec<SeriesCard> = Vec::new();
    for (file, s) in &series {
        let scoring = Scoring {
            args,
            model: model.as_ref(),
            temperature,
            reference,
        };
        cards.push(scoring.card(file, s)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_outputs(args, &cards, reference, temperature)?;
    Ok(ExitCode::SUCCESS)
}

/// The flags that need no file: refused first.
fn check_flags(args: &EvaluateArgs) -> anyhow::Result<()> {
    if let Some(t) = args.temperature {
        if !(t > 0.0 && t.is_finite()) {
            anyhow::bail!("--temperature must be > 0, got {t}");
        }
    }
    if args.horizon == 0 {
        anyhow::bail!("--horizon must be at least 1");
    }
    if let Some(p) = args.top_p {
        if !(p > 0.0 && p <= 1.0) {
            anyhow::bail!("--top-p must be in (0, 1], got {p}");
        }
    }
    if args.samples == 0 {
        anyhow::bail!("--samples must be at least 1");
    }
    if args.origins_every == Some(0) {
        anyhow::bail!("--origins-every must be at least 1");
    }
    Ok(())
}

/// The output folder is checked before any work: a refusal costs nothing. The
/// model's run folder, unless --no-model.
fn check_outputs(args: &EvaluateArgs) -> anyhow::Result<Option<PathBuf>> {
    let run_dir = match args.no_model {
        true => None,
        false => Some(crate::base::resolve(args.model.as_deref())?),
    };
    let mut guard = crate::output::Guard::new();
    guard.inputs(&expand_inputs(&args.input)?);
    if let Some(dir) = &run_dir {
        guard.model(dir);
    }
    guard.dir(
        &args.out,
        "--out",
        args.force,
        &OUTPUT_FILES,
        crate::output::DirMode::WriteInto,
    )?;
    Ok(run_dir)
}

/// A series' multi-step scores, `gpt-cal`'s path spread growth, and the bar at H
/// bars with where it was chosen.
type HorizonCard = (
    Vec<horizon::HorizonScores>,
    Option<f64>,
    Option<(&'static str, &'static str)>,
);

/// What scoring a series needs beside the series.
struct Scoring<'a> {
    args: &'a EvaluateArgs,
    model: Option<&'a (Gpt, Tokenizer)>,
    temperature: f64,
    reference: &'static str,
}

impl Scoring<'_> {
    /// The scorecard of one series: one-step scores, then the multi-step ones.
    fn card(&self, file: &str, s: &Series) -> anyhow::Result<SeriesCard> {
        let (args, model, temperature, reference) =
            (self.args, self.model, self.temperature, self.reference);
        let name = match &s.symbol {
            Some(sym) => format!("{file}:{sym}"),
            None => file.to_string(),
        };
        let split = split_index(s.len());
        let h = History::of(s, split);
        let mut extra = Vec::new();
        let bar = validation_bar(&h);
        let mut pool = None;
        let mut fitted: Option<Calibration> = None;
        let mut calibration_bars = 0;
        let ctx = model.map_or(1, |(m, _)| args.context.unwrap_or(m.config().max_ctx));
        if let Some((m, tok)) = model {
            let p = GptForecastParams {
                context: ctx,
                temperature,
                batch: 256,
            };
            let logits = gpt_logits(m, tok, s, split, p).with_context(|| name.clone())?;
            let sampling = |temperature| Sampling {
                temperature,
                top_k: None,
                top_p: args.top_p,
            };
            extra.push(logits.sampled("gpt", sampling(temperature)));
            if !args.no_calibration {
                // Validation slice: the last 10% of the training part (or
                // --calibration-bars), forecast from the training part alone.
                let val_start = CalibrationBars::start(args.calibration_bars, split);
                let val = calibration_logits(m, tok, &s.slice(0..split), val_start, p)
                    .with_context(|| name.clone())?;
                if !val.is_empty() {
                    let fit = if args.no_spread {
                        val.fit_sampling()
                    } else {
                        val.fit_calibration()
                    };
                    extra.push(logits.calibrated("gpt-cal", fit));
                    fitted = Some(fit);
                    calibration_bars = val.len();
                    if let Some(b) = bar.as_deref() {
                        let model = (val.sampled("gpt", sampling(temperature)), &extra[0]);
                        match gpt_pool(&h, val_start, b, model) {
                            Ok(p) => pool = Some(p),
                            Err(why) => eprintln!("warning: {name}: no gpt-pool: {why}"),
                        }
                    }
                }
            }
        }
        let pool_weight = pool.as_ref().map(|p| p.0);
        let validation = pool.as_ref().map(|p| p.2);
        extra.extend(pool.map(|p| p.1));
        let mut card =
            score_series_against(&name, &h, extra, reference, bar).with_context(|| name.clone())?;
        card.pool_weight = pool_weight;
        card.validation = validation;
        card.temperature = fitted.map(|f| f.sampling.temperature);
        card.top_p = fitted.and_then(|f| f.sampling.top_p);
        card.spread = fitted.map(|f| f.spread).filter(|&x| x != 1.0);
        card.calibration_bars = fitted.map(|_| calibration_bars);
        if args.horizon > 1 {
            let (horizons, growth, bar) = self.horizons(&name, s, (&h, split), ctx, fitted)?;
            card.horizons = horizons;
            card.spread_growth = growth.filter(|&g| g != 0.0);
            card.horizon_bar = bar.map(|b| b.0.to_string());
            card.horizon_bar_chosen_on = bar.map(|b| b.1);
        }
        Ok(card)
    }

    /// The multi-step scores of one series (--horizon above 1), `gpt-cal`'s path
    /// spread growth where one was fitted, and the bar at H bars with where it was
    /// chosen (the validation slice, else the test part's lowest CRPS at H).
    fn horizons(
        &self,
        name: &str,
        s: &Series,
        (h, split): (&History, usize),
        ctx: usize,
        fitted: Option<Calibration>,
    ) -> anyhow::Result<HorizonCard> {
        let (args, model, temperature, reference) =
            (self.args, self.model, self.temperature, self.reference);
        let hz = args.horizon;
        let test = s.len().saturating_sub(split);
        let every = args
            .origins_every
            .unwrap_or(test.div_ceil(args.max_origins as usize).max(1));
        let origins = horizon::origins(h, hz, every);
        if origins.is_empty() {
            anyhow::bail!("{name}: no test origin has {hz} bars after it");
        }
        let key = args.seed ^ name_hash(name);
        let mut growth = None;
        let mut forecasters: Vec<Box<dyn Forecaster + '_>> = BASELINES
            .iter()
            .map(|&b| Box::new(b) as Box<dyn Forecaster>)
            .collect();
        if let Some((m, tok)) = &model {
            let gpt = GptForecaster {
                name: "gpt",
                model: m,
                tokenizer: tok,
                context: ctx,
                temperature,
                top_p: args.top_p,
                spread: 1.0,
                spread_growth: 0.0,
                batch: 256,
            };
            forecasters.push(Box::new(gpt));
            if let Some(f) = fitted {
                let cal = GptForecaster {
                    name: "gpt-cal",
                    temperature: f.sampling.temperature,
                    top_p: f.sampling.top_p,
                    spread: f.spread,
                    ..gpt
                };
                // --no-spread keeps the calibration a temperature and top-p alone.
                if !args.no_spread {
                    growth = Some(self.path_growth(&cal, s, split, key)?);
                }
                forecasters.push(Box::new(GptForecaster {
                    spread_growth: growth.unwrap_or(0.0),
                    ..cal
                }));
            }
        }
        let fcs = forecasters
            .iter()
            .map(|f| f.multi_step(s, split, &origins, hz, args.samples, key))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| name.to_string())?;
        let bar = match validation_bar_at(h, hz, args.max_origins as usize, args.samples, key) {
            Some(b) => Some((b, "validation")),
            None => {
                let targets = horizon::targets(h.close, &origins, hz);
                let classical = &fcs[..BASELINES.len().min(fcs.len())];
                targets
                    .last()
                    .and_then(|t| horizon::lowest_mean_crps(classical, hz, t))
                    .map(|b| (b, "test"))
            }
        };
        let scores = horizon::score(
            h,
            &origins,
            every,
            fcs,
            hz,
            args.samples,
            reference,
            bar.map(|b| b.0),
        );
        Ok((scores, growth, bar))
    }

    /// `gpt-cal`'s path spread growth ([`horizon::fit_spread_growth`]), fitted on
    /// paths from the validation slice (the last 10% of the training part or
    /// --calibration-bars, as the one-step calibration) whose --horizon bars all lie in the training part:
    /// no test bar is forecast or read. 0 where the slice has fewer than 20 such
    /// origins (a fit on fewer overlapping k-bar returns would be noise).
    fn path_growth(
        &self,
        cal: &GptForecaster<'_>,
        s: &Series,
        split: usize,
        key: u64,
    ) -> anyhow::Result<f64> {
        let (args, hz) = (self.args, self.args.horizon);
        let train = s.slice(0..split);
        let val = History::of(&train, CalibrationBars::start(args.calibration_bars, split));
        let all = horizon::origins(&val, hz, 1);
        if all.len() < 20 {
            return Ok(0.0);
        }
        let every = all.len().div_ceil(args.max_origins as usize).max(1);
        let origins: Vec<usize> = all.iter().copied().step_by(every).collect();
        let paths = cal
            .multi_step(&train, val.split, &origins, hz, args.samples, key)
            .context("gpt-cal's path spread on the validation slice")?;
        Ok(horizon::fit_spread_growth(
            &paths,
            &horizon::targets(val.close, &origins, hz),
        ))
    }
}

/// `gpt-pool` ([`pool`]): its weight fitted on the calibration slice from
/// `val_start` (`val_gpt` there; the bar fitted on the bars before it, thinned as
/// `gpt-cal`'s slice is), then the pool of the test part's `gpt` and bar, with its
/// weight and the two's scores on the slice. Why not, where the bar cannot be
/// fitted before the slice or the model does not forecast the bar's targets.
fn gpt_pool(
    h: &History<'_>,
    val_start: usize,
    bar: &str,
    (val_gpt, test_gpt): (OneStep, &OneStep),
) -> Result<(f64, OneStep, pool::SliceScore), String> {
    let b = BASELINES
        .iter()
        .find(|b| b.name() == bar)
        .ok_or_else(|| format!("no baseline named {bar}"))?;
    let mut val_bar = b
        .fit(&h.head(h.split, val_start))
        .map_err(|e| format!("{bar} on the bars before the calibration slice: {e}"))?
        .one;
    val_bar.preds = thinned_for_calibration(val_bar.preds);
    val_bar.targets = thinned_for_calibration(val_bar.targets);
    let mismatch = || "the model's targets are not the bar's, bar for bar".to_string();
    let (w, slice) = pool::fit_on_slice(&val_gpt, &val_bar).ok_or_else(mismatch)?;
    let test_bar = b.fit(h).map_err(|e| format!("{bar}: {e}"))?.one;
    let pooled = pool::pooled("gpt-pool", w, test_gpt, &test_bar).ok_or_else(mismatch)?;
    Ok((w, pooled, slice))
}

/// The scorecard files in --out, and the scorecard on stdout.
fn write_outputs(
    args: &EvaluateArgs,
    cards: &[SeriesCard],
    reference: &str,
    temperature: f64,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let json = serde_json::json!({
        "protocol": {
            "train_fraction": candlecast_forecast::TRAIN_FRACTION,
            "horizon": args.horizon,
            "multi_step_samples": args.samples,
            "target": "close log-return",
            "reference": reference,
            "model": match (&args.model, args.no_model) {
                (_, true) => None,
                (Some(p), false) => Some(p.display().to_string()),
                (None, false) => Some(crate::base::BASE.to_string()),
            },
            "temperature": temperature,
            "top_p": args.top_p,
            "calibration_bars": args
                .calibration_bars
                .map_or_else(|| "last 10%".to_string(), |c| c.to_string()),
        },
        "series": cards,
        "aggregate": candlecast_forecast::aggregate(cards)
            .into_iter()
            .map(|(f, g, n)| serde_json::json!({"forecaster": f, "relative_crps_geomean": g, "series": n}))
            .collect::<Vec<_>>(),
    });
    let md = markdown(cards);
    write_atomic(
        &args.out.join("scorecard.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    write_atomic(&args.out.join("scorecard.md"), md.as_bytes())?;
    let mut cal = String::from("series,forecaster,bin_lo,bin_hi,count,share\n");
    for c in cards {
        for sc in &c.scores {
            for (i, &k) in sc.pit.iter().enumerate() {
                cal.push_str(&format!(
                    "{},{},{:.1},{:.1},{k},{:.4}\n",
                    csv_field(&c.series),
                    sc.forecaster,
                    i as f64 / PIT_BINS as f64,
                    (i + 1) as f64 / PIT_BINS as f64,
                    k as f64 / sc.n.max(1) as f64
                ));
            }
        }
    }
    write_atomic(&args.out.join("calibration.csv"), cal.as_bytes())?;
    write_atomic(
        &args.out.join("evaluate.html"),
        candlecast_forecast::html::page(cards, "candlecast scorecard").as_bytes(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&json)?);
    } else {
        print!("{md}");
        println!(
            "\nwritten: {}/{{scorecard.json, scorecard.md, calibration.csv, evaluate.html}}",
            args.out.display()
        );
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
