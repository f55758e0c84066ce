//! `candlecast forecast`: sample paths from the model for every input series and
//! per-step quantiles, mean and P(up) of the close, as long-format CSV or JSON.

use crate::args::ForecastArgs;
use crate::inputs::{expand_inputs, load_series};
use crate::output::write_atomic;
use anyhow::{bail, Context};
use candlecast_data::Timestamp;
use candlecast_forecast::{
    future_timestamps, origin_at_end_keyed, rollout_chunked, series_key, summarise_columns,
    ForecastParams, PathChunk, MAX_BATCH_ROWS,
};
use candlecast_gpt::checkpoint::{META_FILE, MODEL_FILE};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(args: &ForecastArgs) -> anyhow::Result<ExitCode> {
    let json = check_flags(args)?;
    let model_dir = crate::base::resolve(args.model.as_deref())?;
    let all_files = expand_inputs(&args.input)?;
    check_outputs(args, json, &model_dir, &all_files)?;
    let run = crate::run_dir::load_run(&model_dir)?;
    let origin = args.origin.as_deref().map(parse_origin).transpose()?;
    let params = ForecastParams {
        context_length: args.sampling.context(run.model.config().max_ctx),
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
    let prepared = prepare(&run, &series, origin, &params)?;
    let mut sinks = Sinks::open(args, json)?;
    let total = (series.len() as u64).saturating_mul(args.samples as u64);
    let bar = crate::progress::bar(total, "forecast");
    let per_batch = (MAX_BATCH_ROWS / args.samples).max(1);
    for chunk in prepared.chunks(per_batch) {
        forecast_batch(args, &run, &params, chunk, &mut sinks, &bar)?;
    }
    bar.finish_and_clear();
    // Nothing is renamed into place before every path is done: no partial output.
    let Some(out) = &args.out else {
        use std::io::Write as _;
        std::io::stdout().lock().write_all(sinks.csv.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    sinks.commit(out)?;
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

/// The flags that need no file: refused first. True when --out is JSON.
fn check_flags(args: &ForecastArgs) -> anyhow::Result<bool> {
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
    Ok(json)
}

/// Every file this run writes is checked before the model is loaded.
fn check_outputs(
    args: &ForecastArgs,
    json: bool,
    model_dir: &Path,
    all_files: &[PathBuf],
) -> anyhow::Result<()> {
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
    guard.inputs(all_files);
    guard.model(model_dir);
    for (path, flag) in &outputs {
        guard.file(path, flag, args.force)?;
    }
    Ok(())
}

/// A series to forecast: its name, its bars up to the origin, the origin.
type Prepared = (String, candlecast_data::Series, candlecast_forecast::Origin);

/// Every origin first (bad input fails here, before any model work).
fn prepare(
    run: &crate::run_dir::LoadedRun,
    series: &[(String, candlecast_data::Series)],
    origin: Option<Timestamp>,
    params: &ForecastParams,
) -> anyhow::Result<Vec<Prepared>> {
    let (model, tok) = (&run.model, &run.tok);
    let mut prepared = Vec::with_capacity(series.len());
    for (file, s) in series {
        let name = match &s.symbol {
            Some(sym) => format!("{file}:{sym}"),
            None => file.clone(),
        };
        let s = match origin {
            Some(t) => s.slice(0..s.timestamps().partition_point(|&x| x <= t)),
            None => s.clone(),
        };
        // The paths' streams are keyed by the bars forecast (up to the origin), not
        // by the name the file was given as: `data/x.csv`, `./data/x.csv` and a copy
        // of it give the same forecast (see `series_key`).
        let key = params.seed ^ series_key(&s);
        let o = origin_at_end_keyed(model, tok, &s, params.context_length, key)
            .with_context(|| name.clone())?;
        prepared.push((name, s, o));
    }
    Ok(prepared)
}

/// Where the forecast goes: the CSV text (stdout or --out), or the JSON array, and
/// the --paths file.
///
/// Paths decode in batches of at most MAX_BATCH_ROWS rows (whole series while
/// they fit, else runs of one series' paths). Of every path only its closes are
/// kept (8 bytes per step, for the quantiles); `--paths` rows go to a temporary
/// file batch by batch. Memory: one batch of decoding plus samples x horizon
/// closes, whatever the number of samples.
struct Sinks {
    csv: String,
    json_out: Option<JsonArray>,
    paths_out: Option<TempOut>,
}

impl Sinks {
    fn open(args: &ForecastArgs, json: bool) -> anyhow::Result<Sinks> {
        let out_file = |path: &std::path::Path| TempOut::create(path);
        let json_out = match (&args.out, json) {
            (Some(out), true) => Some(JsonArray::new(out_file(out)?)),
            _ => None,
        };
        let paths_out = match (&args.out, json, args.paths) {
            (Some(out), false, true) => {
                let mut f = out_file(&out.with_extension("paths.csv"))?;
                f.write(b"series,origin,step,timestamp,path,open,high,low,close\n")?;
                Some(f)
            }
            _ => None,
        };
        let mut csv = String::from("series,origin,step,timestamp,mean");
        for q in &args.quantiles {
            let _ = write!(csv, ",q{q}");
        }
        csv.push_str(",p_up\n");
        Ok(Sinks {
            csv,
            json_out,
            paths_out,
        })
    }

    /// Renames the finished files into place.
    fn commit(self, out: &Path) -> anyhow::Result<()> {
        match self.json_out {
            Some(j) => j.finish(),
            None => {
                write_atomic(out, self.csv.as_bytes())?;
                if let Some(p) = self.paths_out {
                    p.commit()?;
                }
                Ok(())
            }
        }
    }
}

/// The series of one batch: their paths rolled out together, then summarised.
fn forecast_batch(
    args: &ForecastArgs,
    run: &crate::run_dir::LoadedRun,
    params: &ForecastParams,
    chunk: &[Prepared],
    sinks: &mut Sinks,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let (samples, horizon) = (args.samples, args.horizon);
    let (model, tok) = (&run.model, &run.tok);
    let origins: Vec<_> = chunk.iter().map(|(_, _, o)| o.clone()).collect();
    let heads: Vec<Head> = chunk
        .iter()
        .map(|(name, s, _)| Head::of(name, s, horizon))
        .collect();
    // closes[j][k][i]: series j of the batch, step k + 1, path i.
    let mut closes: Vec<Vec<Vec<f64>>> = chunk
        .iter()
        .map(|_| vec![vec![0.0; samples]; horizon])
        .collect();
    let mut order = PathsOrder::new(chunk.len());
    let paths_out = &mut sinks.paths_out;
    rollout_chunked(
        model,
        tok,
        &origins,
        params,
        false,
        MAX_BATCH_ROWS,
        |c: PathChunk<'_>| -> anyhow::Result<()> {
            let j = c.origin;
            if let Some(series) = closes.get_mut(j) {
                for (k, column) in series.iter_mut().enumerate() {
                    let dst = column.iter_mut().skip(c.first);
                    for (slot, path) in dst.zip(c.paths) {
                        *slot = path.get(k).map_or(f64::NAN, |b| b.close);
                    }
                }
            }
            bar.inc(c.paths.len() as u64);
            let (Some(file), Some(head)) = (paths_out.as_mut(), heads.get(j)) else {
                return Ok(());
            };
            order.write(file, j, &path_rows(head, &c), c.paths.len(), samples)
        },
    )?;
    for ((head, o), series_closes) in heads.iter().zip(&origins).zip(&closes) {
        write_summary(args, head, o, series_closes, sinks)?;
    }
    Ok(())
}

/// The `--paths` rows of a batch's paths of one series.
fn path_rows(head: &Head, c: &PathChunk<'_>) -> String {
    let mut text = String::new();
    for (i, path) in c.paths.iter().enumerate() {
        for (k, b) in path.iter().enumerate() {
            let _ = writeln!(
                text,
                "{},{},{},{},{},{},{},{},{}",
                head.field,
                head.origin_ts,
                k + 1,
                head.stamp(k),
                c.first + i,
                b.open,
                b.high,
                b.low,
                b.close
            );
        }
    }
    text
}

/// Paths rows are written in series order: a series' rows go straight to the
/// file once the series before it are complete, and wait here until then (only
/// when several series share a batch: MAX_BATCH_ROWS rows at most).
struct PathsOrder {
    pending: Vec<String>,
    written: Vec<usize>,
    next: usize,
}

impl PathsOrder {
    fn new(series: usize) -> PathsOrder {
        PathsOrder {
            pending: vec![String::new(); series],
            written: vec![0usize; series],
            next: 0,
        }
    }

    /// `text`: the rows of `paths` more paths of series `j` (of `samples` each).
    fn write(
        &mut self,
        file: &mut TempOut,
        j: usize,
        text: &str,
        paths: usize,
        samples: usize,
    ) -> anyhow::Result<()> {
        if j == self.next {
            file.write(text.as_bytes())?;
        } else if let Some(p) = self.pending.get_mut(j) {
            p.push_str(text);
        }
        if let Some(w) = self.written.get_mut(j) {
            *w += paths;
        }
        while self.written.get(self.next).is_some_and(|&w| w >= samples) {
            self.next += 1;
            if let Some(p) = self.pending.get_mut(self.next) {
                file.write(std::mem::take(p).as_bytes())?;
            }
        }
        Ok(())
    }
}

/// One series' CSV rows, and its JSON element when the output is JSON.
fn write_summary(
    args: &ForecastArgs,
    head: &Head,
    o: &candlecast_forecast::Origin,
    series_closes: &[Vec<f64>],
    sinks: &mut Sinks,
) -> anyhow::Result<()> {
    let steps = summarise_columns(o.close, series_closes, &args.quantiles);
    for st in &steps {
        let ts = head.stamp(st.step - 1);
        let _ = write!(
            sinks.csv,
            "{},{},{},{ts},{}",
            head.field, head.origin_ts, st.step, st.mean
        );
        for q in &st.quantiles {
            let _ = write!(sinks.csv, ",{q}");
        }
        let _ = writeln!(sinks.csv, ",{}", st.p_up);
    }
    if let Some(j) = sinks.json_out.as_mut() {
        let obj = SeriesJson {
            origin: &head.origin_ts,
            origin_close: o.close,
            paths: args.paths.then_some(PathCloses(series_closes)),
            series: &head.name,
            steps: steps
                .iter()
                .map(|st| serde_json::json!({
                    "step": st.step,
                    "timestamp": head.stamps.get(st.step - 1),
                    "mean": st.mean,
                    "quantiles": args.quantiles.iter().zip(&st.quantiles).map(|(q, v)| (format!("q{q}"), serde_json::Value::from(*v))).collect::<serde_json::Map<String, serde_json::Value>>(),
                    "p_up": st.p_up,
                }))
                .collect(),
        };
        j.push(&obj)?;
    }
    Ok(())
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
    let mut h = candlecast_rand::Fnv1a64::new();
    for name in [MODEL_FILE, META_FILE] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        h.write(&bytes);
    }
    Ok(format!("fnv1a64:{:016x}", h.finish()))
}

/// What every output row of one series starts with.
struct Head {
    name: String,
    field: String,
    origin_ts: String,
    /// RFC 3339 stamps of the steps.
    stamps: Vec<String>,
}

impl Head {
    fn of(name: &str, s: &candlecast_data::Series, horizon: usize) -> Head {
        Head {
            name: name.to_string(),
            field: csv_field(name),
            origin_ts: s.last_ts().map(|t| t.to_rfc3339()).unwrap_or_default(),
            stamps: future_timestamps(s, horizon)
                .iter()
                .map(|t| t.to_rfc3339())
                .collect(),
        }
    }

    /// Step `k + 1`'s stamp (empty when the series has none).
    fn stamp(&self, k: usize) -> &str {
        self.stamps.get(k).map_or("", String::as_str)
    }
}

/// One series of the JSON output; fields in the order `serde_json::json!` sorted
/// them in before paths were streamed, so the bytes are unchanged.
#[derive(serde::Serialize)]
struct SeriesJson<'a> {
    origin: &'a str,
    origin_close: f64,
    paths: Option<PathCloses<'a>>,
    series: &'a str,
    steps: Vec<serde_json::Value>,
}

/// Every path's closes, path by path, serialised straight from the step columns
/// (`columns[k][i]`) without a copy per path.
struct PathCloses<'a>(&'a [Vec<f64>]);

impl serde::Serialize for PathCloses<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let n = self.0.first().map_or(0, Vec::len);
        let mut seq = ser.serialize_seq(Some(n))?;
        for i in 0..n {
            seq.serialize_element(&PathRow(self.0, i))?;
        }
        seq.end()
    }
}

struct PathRow<'a>(&'a [Vec<f64>], usize);

impl serde::Serialize for PathRow<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for column in self.0 {
            seq.serialize_element(&column.get(self.1).copied().unwrap_or(f64::NAN))?;
        }
        seq.end()
    }
}

/// A file written through a temporary name beside it and renamed into place by
/// [`TempOut::commit`]; dropped uncommitted (an error on the way), the temporary
/// file is removed and the destination is untouched.
struct TempOut {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl TempOut {
    fn create(path: &std::path::Path) -> anyhow::Result<TempOut> {
        let mut name = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".tmp");
        let tmp = path.with_file_name(name);
        let file = std::fs::File::create(&tmp).with_context(|| tmp.display().to_string())?;
        Ok(TempOut {
            path: path.to_path_buf(),
            tmp,
            file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        use std::io::Write as _;
        if let Some(f) = self.file.as_mut() {
            f.write_all(bytes)
                .with_context(|| self.tmp.display().to_string())?;
        }
        Ok(())
    }

    fn commit(mut self) -> anyhow::Result<()> {
        use std::io::Write as _;
        if let Some(mut f) = self.file.take() {
            f.flush().with_context(|| self.tmp.display().to_string())?;
        }
        std::fs::rename(&self.tmp, &self.path).with_context(|| self.path.display().to_string())
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl std::io::Write for TempOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("written after commit")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// A pretty-printed JSON array written element by element, byte for byte what
/// `serde_json::to_string_pretty` makes of the whole array.
struct JsonArray {
    out: TempOut,
    empty: bool,
}

impl JsonArray {
    fn new(out: TempOut) -> JsonArray {
        JsonArray { out, empty: true }
    }

    fn push<T: serde::Serialize>(&mut self, value: &T) -> anyhow::Result<()> {
        self.out
            .write(if self.empty { b"[\n  " } else { b",\n  " })?;
        self.empty = false;
        // An element of the array is the value pretty-printed on its own with every
        // line after the first indented two more spaces (strings never hold a raw
        // newline: JSON escapes it).
        serde_json::to_writer_pretty(Indent(&mut self.out), value)?;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.out.write(if self.empty { b"[]" } else { b"\n]" })?;
        self.out.commit()
    }
}

/// Indents every line after the first by two spaces.
struct Indent<'a, W: std::io::Write>(&'a mut W);

impl<W: std::io::Write> std::io::Write for Indent<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut parts = buf.split(|&b| b == b'\n');
        if let Some(first) = parts.next() {
            self.0.write_all(first)?;
        }
        for part in parts {
            self.0.write_all(b"\n  ")?;
            self.0.write_all(part)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
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
