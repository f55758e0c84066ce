//! `candlecast inspect`: read, validate and summarise files.

use crate::args::InspectArgs;
use anyhow::Context;
use candlecast_data::{read_path, resample, DataError, Dataset, Problem, RepairDone, Series};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

#[derive(Serialize)]
struct FileReport {
    file: String,
    ok: bool,
    series: Vec<SeriesReport>,
    notes: Vec<String>,
    repairs: Vec<RepairDone>,
    problems: Vec<ProblemReport>,
    /// Problems found in all; `problems` lists the first of them.
    problems_total: usize,
}

#[derive(Serialize)]
struct SeriesReport {
    symbol: Option<String>,
    rows: usize,
    first: Option<String>,
    last: Option<String>,
    interval_seconds: Option<serde_json::Number>,
    gaps: usize,
    zone: String,
}

#[derive(Serialize)]
struct ProblemReport {
    line: Option<u64>,
    column: Option<usize>,
    column_name: Option<String>,
    message: String,
    /// The same problem as one `path:line:column: message` line.
    text: String,
}

impl SeriesReport {
    fn of(s: &Series) -> SeriesReport {
        let interval_seconds = s.interval_ms().and_then(|ms| {
            if ms % 1000 == 0 {
                Some(serde_json::Number::from(ms / 1000))
            } else {
                serde_json::Number::from_f64(ms as f64 / 1000.0)
            }
        });
        SeriesReport {
            symbol: s.symbol.clone(),
            rows: s.len(),
            first: s.first_ts().map(|t| t.to_rfc3339()),
            last: s.last_ts().map(|t| t.to_rfc3339()),
            interval_seconds,
            gaps: s.gap_count(),
            zone: s.zone.to_string(),
        }
    }
}

fn problem_report(path: &str, p: &Problem) -> ProblemReport {
    ProblemReport {
        line: p.line,
        column: p.column.as_ref().map(|c| c.index),
        column_name: p.column.as_ref().map(|c| c.name.clone()),
        message: p.message.clone(),
        text: p.display_in(path),
    }
}

pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let opts = args.input.options();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut any_problem = false;
    for path in &crate::inputs::expand_inputs(&args.files)? {
        let name = path.display().to_string();
        let report = match read_path(path, &opts) {
            Ok(ds) => summarise(ds, &args.input)?,
            Err(DataError::Usage(msg)) => anyhow::bail!(msg),
            Err(DataError::Invalid {
                path,
                problems,
                total,
            }) => FileReport {
                file: name.clone(),
                ok: false,
                series: vec![],
                notes: vec![],
                repairs: vec![],
                problems: problems.iter().map(|p| problem_report(&path, p)).collect(),
                problems_total: total,
            },
            Err(e @ DataError::Io { .. }) => FileReport {
                file: name.clone(),
                ok: false,
                series: vec![],
                notes: vec![],
                repairs: vec![],
                problems: vec![ProblemReport {
                    line: None,
                    column: None,
                    column_name: None,
                    message: e.to_string(),
                    text: e.to_string(),
                }],
                problems_total: 1,
            },
        };
        any_problem |= !report.ok;
        if args.json {
            serde_json::to_writer(&mut out, &report).context("writing JSON")?;
            writeln!(out)?;
        } else {
            print_text(&mut out, &report)?;
        }
    }
    out.flush()?;
    Ok(if any_problem {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn summarise(ds: Dataset, input: &crate::args::InputArgs) -> anyhow::Result<FileReport> {
    let mut notes = ds.notes;
    let series = match input.resample {
        None => ds.panel.series.iter().map(SeriesReport::of).collect(),
        Some(every) => {
            notes.push(format!(
                "resampled to {every} (buckets labelled by their start)"
            ));
            let mut v = Vec::new();
            for s in &ds.panel.series {
                v.push(SeriesReport::of(
                    &resample(s, every).with_context(|| ds.path.clone())?,
                ));
            }
            v
        }
    };
    Ok(FileReport {
        file: ds.path,
        ok: true,
        series,
        notes,
        repairs: ds.repairs,
        problems: vec![],
        problems_total: 0,
    })
}

fn print_text(out: &mut impl Write, r: &FileReport) -> std::io::Result<()> {
    if !r.ok {
        writeln!(out, "{}: {} problem(s)", r.file, r.problems_total)?;
        for p in &r.problems {
            writeln!(out, "  {}", p.text)?;
        }
        if r.problems_total > r.problems.len() {
            writeln!(
                out,
                "  ... and {} more",
                r.problems_total - r.problems.len()
            )?;
        }
        return Ok(());
    }
    writeln!(out, "{}: ok", r.file)?;
    let rows: Vec<[String; 7]> = r
        .series
        .iter()
        .map(|s| {
            [
                s.symbol.clone().unwrap_or_else(|| "-".into()),
                s.rows.to_string(),
                s.first.clone().unwrap_or_default(),
                s.last.clone().unwrap_or_default(),
                s.interval_seconds
                    .as_ref()
                    .map_or("-".into(), |n| human_interval(n.as_f64().unwrap_or(0.0))),
                s.gaps.to_string(),
                s.zone.clone(),
            ]
        })
        .collect();
    let head = [
        "symbol", "rows", "first", "last", "interval", "gaps", "zone",
    ];
    let width: Vec<usize> = (0..7)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 7]| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            if i == 1 || i == 5 {
                s.push_str(&format!(" {c:>w$}", w = width[i]));
            } else {
                s.push_str(&format!(" {c:<w$}", w = width[i]));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(head))?;
    for r in &rows {
        writeln!(
            out,
            "{}",
            line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]])
        )?;
    }
    for n in &r.notes {
        writeln!(out, "  note: {n}")?;
    }
    for rep in &r.repairs {
        let what = repair_text(&rep.action);
        let who = rep
            .symbol
            .as_ref()
            .map_or(String::new(), |s| format!("{s}: "));
        writeln!(out, "  repair: {}:{}: {who}{what}", r.file, rep.line)?;
    }
    Ok(())
}

/// What a repair did to its line, in words.
fn repair_text(action: &candlecast_data::RepairAction) -> String {
    match action {
        candlecast_data::RepairAction::Sorted => "moved into time order".to_string(),
        candlecast_data::RepairAction::DroppedDuplicate { of_line } => {
            format!("dropped, an exact copy of line {of_line}")
        }
        candlecast_data::RepairAction::DroppedConflict { kept_line } => {
            format!("dropped, same time as line {kept_line} (kept) with other values")
        }
        candlecast_data::RepairAction::Widened { high, low } => {
            let mut parts = Vec::new();
            if let Some([from, to]) = high {
                parts.push(format!("high {from} -> {to}"));
            }
            if let Some([from, to]) = low {
                parts.push(format!("low {from} -> {to}"));
            }
            format!("widened to contain open and close: {}", parts.join(", "))
        }
    }
}

fn human_interval(secs: f64) -> String {
    let s = secs as i64;
    if secs.fract() != 0.0 {
        return format!("{secs}s");
    }
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s >= size && s % size == 0 {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}
