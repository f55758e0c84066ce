//! `candlecast forecast`: sample paths from the model for every input series and
//! per-step quantiles, mean and P(up) of the close, as long-format CSV or JSON.

use crate::args::ForecastArgs;
use crate::train::{expand_inputs, load_series};
use anyhow::{bail, Context};
use candlecast_data::Timestamp;
use candlecast_forecast::{
    future_timestamps, origin_at_end, rollout, summarise_paths, ForecastParams, MAX_BATCH_ROWS,
};
use candlecast_gpt::checkpoint::{write_atomic, META_FILE, MODEL_FILE};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
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
    let model_dir = crate::base::resolve(args.model.as_deref())?;
    let all_files = expand_inputs(&args.input)?;
    // Every file this run writes is checked before the model is loaded.
    let outputs = match &args.out {
        None => Vec::new(),
        Some(out) => {
            let mut o = vec![
                (out.clone(), "--out"),
                (header_path(out), "--out (its run header)"),
            ];
            if args.paths && !json {
                o.push((out.with_extension("paths.csv"), "--paths"));
            }
            o
        }
    };
    let mut guard = crate::output::Guard::new();
    guard.inputs(&all_files);
    guard.model(&model_dir);
    for (path, flag) in &outputs {
        guard.file(path, flag, args.force)?;
    }
    let run = crate::base::load_run(&model_dir)?;
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
    let files = match args.shard {
        Some(shard) => shard.take(&all_files),
        None => all_files.clone(),
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
    // Last: a header beside a forecast says the forecast is complete.
    let header = run_header(args, &model_dir, &all_files, params.sampling, series.len())?;
    write_atomic(&header_path(out), header.as_bytes())?;
    eprintln!(
        "{} series x {} samples x {} steps -> {}",
        series.len(),
        args.samples,
        args.horizon,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The run header beside `--out F.csv` (or `F.json`): `F.run.json`.
pub fn header_path(out: &Path) -> PathBuf {
    out.with_extension("run.json")
}

/// `F.run.json`: what produced a forecast file, so `deploy/merge-shards.sh` can check
/// that every shard comes from one run. JSON laid out on fixed lines: line 2 is the
/// run (model fingerprint, every input of the whole run, seed, horizon, samples,
/// quantiles, sampling, origin), one line that must be identical in every shard;
/// line 3 is this shard. The merge compares lines with grep, so it needs no JSON
/// tool on the cluster.
fn run_header(
    args: &ForecastArgs,
    model_dir: &Path,
    inputs: &[PathBuf],
    sampling: candlecast_gpt::Sampling,
    series: usize,
) -> anyhow::Result<String> {
    let run = serde_json::json!({
        "candlecast": env!("CARGO_PKG_VERSION"),
        "model_fingerprint": model_fingerprint(model_dir)?,
        "inputs": inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "seed": args.sampling.seed,
        "horizon": args.horizon,
        "samples": args.samples,
        "quantiles": args.quantiles,
        "context": args.sampling.context,
        "temperature": sampling.temperature,
        "top_k": sampling.top_k,
        "top_p": sampling.top_p,
        "origin": args.origin,
        "paths": args.paths,
    });
    let shard = match args.shard {
        Some(s) => serde_json::json!({"index": s.index, "count": s.count}),
        None => serde_json::json!({"index": 1, "count": 1}),
    };
    Ok(format!(
        "{{\n\"run\": {},\n\"shard\": {},\n\"series\": {series}\n}}\n",
        serde_json::to_string(&run)?,
        serde_json::to_string(&shard)?
    ))
}

/// FNV-1a (64 bit) over the model's weights and its meta.json (which holds the
/// tokenizer): two shards agree on it only when they used the same model bytes.
fn model_fingerprint(dir: &Path) -> anyhow::Result<String> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for name in [MODEL_FILE, META_FILE] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        for b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("fnv1a64:{h:016x}"))
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
