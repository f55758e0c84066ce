//! `candlecast forecast`: sample paths from the model for every input series and
//! per-step quantiles, mean and P(up) of the close, as long-format CSV or JSON.

use crate::args::ForecastArgs;
use crate::train::{expand_inputs, load_series};
use anyhow::{bail, Context};
use candlecast_data::Timestamp;
use candlecast_forecast::{
    future_timestamps, origin_at_end, rollout, summarise_paths, ForecastParams, MAX_BATCH_ROWS,
};
use candlecast_gpt::checkpoint::write_atomic;
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn run(args: &ForecastArgs) -> anyhow::Result<ExitCode> {
    if args.quantiles.iter().any(|&q| !(q > 0.0 && q < 1.0)) {
        bail!(
            "--quantiles must lie strictly between 0 and 1, got {:?}",
            args.quantiles
        );
    }
    let json = match &args.out {
        None => false,
        Some(out) => match out.extension().and_then(|e| e.to_str()) {
            Some("csv") => false,
            Some("json") => true,
            _ => bail!("--out must end in .csv or .json: {}", out.display()),
        },
    };
    if args.paths && args.out.is_none() {
        bail!("--paths writes its paths next to --out: give --out FILE");
    }
    let run = crate::base::load_run(&crate::base::resolve(args.model.as_deref())?)?;
    let (model, tok) = (&run.model, &run.tok);
    let origin = args.origin.as_deref().map(parse_origin).transpose()?;
    let params = ForecastParams {
        context_length: args.sampling.context(model.config().max_ctx),
        horizon: args.horizon,
        num_samples: args.samples,
        sampling: args.sampling.sampling(run.temperature()),
        seed: args.sampling.seed,
    };
    if args.horizon == 0 {
        bail!("--horizon must be at least 1");
    }
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let files = expand_inputs(&args.input)?;
    let files = match args.shard {
        Some(shard) => shard.take(&files),
        None => files,
    };
    if files.is_empty() {
        eprintln!("this shard has no input files: writing an empty forecast");
    }
    let series = if files.is_empty() {
        Vec::new()
    } else {
        load_series(&files, &args.read)?
    };
    // Every origin first (bad input fails here, before any model work), then the
    // rollouts: as many series per batch as MAX_BATCH_ROWS rows allow.
    let mut prepared = Vec::with_capacity(series.len());
    for (file, s) in &series {
        let name = match &s.symbol {
            Some(sym) => format!("{file}:{sym}"),
            None => file.clone(),
        };
        let s = match origin {
            Some(t) => s.slice(0..s.timestamps().partition_point(|&x| x <= t)),
            None => s.clone(),
        };
        let o = origin_at_end(model, tok, &name, &s, params.context_length, params.seed)
            .with_context(|| name.clone())?;
        prepared.push((name, s, o));
    }
    let bar = crate::progress::bar(series.len() as u64, "forecast");
    let mut csv = String::from("series,origin,step,timestamp,mean");
    for q in &args.quantiles {
        let _ = write!(csv, ",q{q}");
    }
    csv.push_str(",p_up\n");
    let mut paths_csv = String::from("series,origin,step,timestamp,path,open,high,low,close\n");
    let mut objs = Vec::new();
    let per_batch = (MAX_BATCH_ROWS / args.samples).max(1);
    let mut done = Vec::with_capacity(prepared.len());
    for chunk in prepared.chunks(per_batch) {
        let origins: Vec<_> = chunk.iter().map(|(_, _, o)| o.clone()).collect();
        let paths = rollout(model, tok, &origins, &params, false)?;
        done.extend(chunk.iter().zip(paths).map(|((n, s, _), p)| (n, s, p)));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    for (name, s, paths) in done {
        let name = name.clone();
        let stamps = future_timestamps(s, args.horizon);
        let origin_ts = s.last_ts().map(|t| t.to_rfc3339()).unwrap_or_default();
        let steps = summarise_paths(&paths, &args.quantiles);
        let field = csv_field(&name);
        for st in &steps {
            let ts = stamps
                .get(st.step - 1)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            let _ = write!(csv, "{field},{origin_ts},{},{ts},{}", st.step, st.mean);
            for q in &st.quantiles {
                let _ = write!(csv, ",{q}");
            }
            let _ = writeln!(csv, ",{}", st.p_up);
        }
        if args.paths {
            for (i, path) in paths.paths.iter().enumerate() {
                for (k, b) in path.iter().enumerate() {
                    let ts = stamps.get(k).map(|t| t.to_rfc3339()).unwrap_or_default();
                    let _ = writeln!(
                        paths_csv,
                        "{field},{origin_ts},{},{ts},{i},{},{},{},{}",
                        k + 1,
                        b.open,
                        b.high,
                        b.low,
                        b.close
                    );
                }
            }
        }
        objs.push(serde_json::json!({
            "series": name,
            "origin": origin_ts,
            "origin_close": paths.origin_close,
            "steps": steps.iter().map(|st| serde_json::json!({
                "step": st.step,
                "timestamp": stamps.get(st.step - 1).map(|t| t.to_rfc3339()),
                "mean": st.mean,
                "quantiles": args.quantiles.iter().zip(&st.quantiles).map(|(q, v)| (format!("q{q}"), serde_json::Value::from(*v))).collect::<serde_json::Map<String, serde_json::Value>>(),
                "p_up": st.p_up,
            })).collect::<Vec<_>>(),
            "paths": if args.paths { Some(paths.paths.iter().map(|p| p.iter().map(|b| b.close).collect::<Vec<_>>()).collect::<Vec<_>>()) } else { None },
        }));
    }
    // Everything is computed before anything is written: no partial output.
    let Some(out) = &args.out else {
        use std::io::Write as _;
        std::io::stdout().lock().write_all(csv.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    if json {
        write_atomic(out, serde_json::to_string_pretty(&objs)?.as_bytes())?;
    } else {
        write_atomic(out, csv.as_bytes())?;
        if args.paths {
            write_atomic(&out.with_extension("paths.csv"), paths_csv.as_bytes())?;
        }
    }
    eprintln!(
        "{} series x {} samples x {} steps -> {}",
        series.len(),
        args.samples,
        args.horizon,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--origin`: RFC 3339 (`2018-06-01T00:00:00Z`) or a date (`2018-06-01`, UTC midnight).
fn parse_origin(s: &str) -> anyhow::Result<Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp(t.timestamp_millis()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Timestamp(
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis(),
        ));
    }
    bail!("--origin '{s}' is not RFC 3339 (2018-06-01T00:00:00Z) or a date (2018-06-01)")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
