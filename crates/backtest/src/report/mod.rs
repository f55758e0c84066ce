//! The report folder: `stats.json`, `trades.csv`, `forecasts.csv` (model-driven
//! runs), `equity.svg`, `report.html` and, when asked for, the per-bar
//! `equity.csv`, all rendered from one [`Report`] and written atomically: into
//! a temporary folder beside the target, renamed into place only when every
//! file is written, so a failed run never leaves a half-written report.

mod charts;
mod csv;
mod fields;
mod html;
mod notes;
mod plot;

pub use notes::{buy_hold_return_pct, common_buy_hold_start, notes, whole_units_warning};

use crate::config::BrokerConfig;
use crate::engine::{Run, RunOptions};
use crate::error::BacktestError;
use crate::metrics::{Metrics, Stat, METRICS};
use crate::significance::SharpeDiff;
use crate::strategy::RefitPlan;
use candlecast_data::Series;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// One strategy's run and its statistics.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The strategy spec as given (`sma-cross:10,20`).
    pub spec: String,
    pub run: &'a Run,
    pub metrics: Metrics,
    /// Its Sharpe ratio against buy-and-hold's on the same window (`None` for
    /// buy-and-hold itself).
    pub vs_buy_hold: Option<SharpeDiff>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// What was backtested, e.g. the input file and symbol (HTML-escaped on output).
    pub title: String,
    /// The series the runs walked (bars after the window end already cut).
    pub series: &'a Series,
    pub main: Entry<'a>,
    /// Other strategies on the same window, for comparison.
    pub compare: Vec<Entry<'a>>,
    pub broker: &'a BrokerConfig,
    pub options: &'a RunOptions,
    /// The model run a forecast strategy used.
    pub model: Option<String>,
    /// The walk-forward refits asked for (their record is the main run's `refits`).
    pub refit: Option<RefitPlan>,
    pub report_options: ReportOptions,
}

/// What the report writes and draws beyond its defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// Write `equity.csv`, one row per bar. Opt-in because on long series it is
    /// most of the command's time (1M bars: a 113 MB file, about 0.2 s of a
    /// 0.4 s run) while the chart and the statistics already summarise it.
    pub equity_csv: bool,
    /// Draw the price as candles (merged when there are more bars than fit)
    /// instead of a close line.
    pub candles: bool,
}

impl Entry<'_> {
    /// The name in table headers and legends: the spec, except a model
    /// strategy's long option list (the report's heading shows it whole).
    pub fn label(&self) -> String {
        match self.spec.split_once(':') {
            Some((name @ ("forecast" | "forecast-threshold" | "vol-target"), _)) => name.into(),
            _ => self.spec.clone(),
        }
    }
}

impl Report<'_> {
    fn entries(&self) -> impl Iterator<Item = &Entry<'_>> {
        std::iter::once(&self.main).chain(&self.compare)
    }

    /// `stats.json`: the window, the settings, the main strategy's metrics under
    /// DESIGN.md's keys, the comparison strategies' metrics, buy-and-hold over
    /// the common window, and the warnings and notes the terminal printed.
    pub fn stats_json(&self) -> Value {
        let s = self.series;
        let ts = |i: usize| s.timestamps().get(i).map(|t| t.to_rfc3339());
        let ws = self.main.run.window_start;
        let bh = common_buy_hold_start(self);
        let mut v = json!({
            "title": self.title,
            "strategy": self.main.spec,
            "model": self.model,
            "window": {
                "start": ts(ws),
                "end": ts(s.len().saturating_sub(1)),
                "bars": s.len().saturating_sub(ws),
                "first_decision": ts(self.main.run.first_decision),
            },
            "broker": self.broker,
            "options": self.options,
            "metrics": self.main.metrics,
            "vs_buy_hold": significance(&self.main),
            "open_trade": self.main.run.open_trade,
            "compare": self.compare.iter().map(|e| json!({
                "strategy": e.spec,
                "metrics": e.metrics,
                "vs_buy_hold": significance(e),
            })).collect::<Vec<_>>(),
            "buy_hold": {
                "start": ts(bh),
                "end": ts(s.len().saturating_sub(1)),
                "return_pct": num(buy_hold_return_pct(s, bh)),
            },
            "warnings": whole_units_warning(s, ws, self.broker).into_iter().collect::<Vec<_>>(),
            "notes": notes(self),
        });
        if let (Some(plan), Some(obj)) = (self.refit, v.as_object_mut()) {
            obj.insert("refit".into(), json!(plan));
            obj.insert("refits".into(), self.refits_json());
        }
        v
    }

    /// The refit schedule as it happened: per refit its bar, time, what it
    /// trained on and its training loss.
    fn refits_json(&self) -> Value {
        let s = self.series;
        self.main
            .run
            .refits
            .iter()
            .map(|r| {
                json!({
                    "index": r.index,
                    "bar": r.bar,
                    "time": s.timestamps().get(r.bar).map(|t| t.to_rfc3339()),
                    "bars": r.bars,
                    "tokens": r.tokens,
                    "steps": r.steps,
                    "loss_start": num(r.loss_start),
                    "loss_end": num(r.loss_end),
                })
            })
            .collect()
    }

    /// Each statistic of each strategy as shown to people, one row per metric;
    /// Buy & Hold Return is the common window's in every column.
    fn cells(&self) -> Vec<(&'static str, Vec<String>)> {
        let bh = buy_hold_return_pct(self.series, common_buy_hold_start(self));
        METRICS
            .iter()
            .map(|&(key, label)| {
                let row = self
                    .entries()
                    .map(|e| match key {
                        "buy_hold_return_pct" => format_stat(key, Stat::Number(bh)),
                        _ => e
                            .metrics
                            .value(key)
                            .map_or("-".into(), |v| format_stat(key, v)),
                    })
                    .collect();
                (label, row)
            })
            .collect()
    }

    /// The statistics as an aligned text table, one column per strategy.
    pub fn table(&self) -> String {
        let mut rows: Vec<Vec<String>> = vec![std::iter::once(String::new())
            .chain(self.entries().map(|e| e.label()))
            .collect()];
        for (label, cells) in self.cells() {
            rows.push(std::iter::once(label.to_string()).chain(cells).collect());
        }
        for (label, cell) in SIGNIFICANCE_ROWS {
            let mut row = vec![(*label).to_string()];
            row.extend(
                self.entries()
                    .map(|e| e.vs_buy_hold.as_ref().map_or("-".into(), cell)),
            );
            rows.push(row);
        }
        let cols = rows.first().map_or(0, Vec::len);
        let width: Vec<usize> = (0..cols)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in &rows {
            for (c, cell) in r.iter().enumerate() {
                if c == 0 {
                    let _ = write!(out, "{cell:<w$}", w = width[c]);
                } else {
                    let _ = write!(out, "  {cell:>w$}", w = width[c]);
                }
            }
            out.push('\n');
        }
        out
    }
}

/// How a row shows a strategy's [`SharpeDiff`].
pub type Cell = fn(&SharpeDiff) -> String;

/// The rows below the metrics: each strategy's Sharpe ratio against
/// buy-and-hold's (see [`crate::significance`]).
pub const SIGNIFICANCE_ROWS: &[(&str, Cell)] = &[
    ("Sharpe (mean/sd) - B&H [95% CI]", SharpeDiff::cell),
    ("vs Buy & Hold", |d| d.word().to_string()),
];

/// `vs_buy_hold` in `stats.json`: the numbers and the verdict's line.
fn significance(e: &Entry<'_>) -> Value {
    match &e.vs_buy_hold {
        Some(d) => json!({
            "sharpe_diff": d.diff,
            "ci_low": d.lo,
            "ci_high": d.hi,
            "level": d.level,
            "periods": d.periods,
            "block": d.block,
            "resamples": d.resamples,
            "verdict": d.verdict,
            "summary": d.line(),
        }),
        None => Value::Null,
    }
}

/// NaN as JSON null, as the metrics write it.
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// A statistic for people: whole trades, cents for money, 3 decimals for other
/// numbers, times in RFC 3339, durations as backtesting.py prints them; `-`
/// for undefined values.
pub fn format_stat(key: &str, v: Stat) -> String {
    match v {
        Stat::Number(x) if x.is_nan() => "-".into(),
        Stat::Number(x) => match key {
            "equity_final" | "equity_peak" | "commissions" => format!("{x:.2}"),
            _ => format!("{x:.3}"),
        },
        Stat::Count(n) => n.to_string(),
        Stat::Time(t) => t.to_rfc3339(),
        Stat::Span(Some(d)) => d.to_string(),
        Stat::Span(None) => "-".into(),
    }
}

/// Writes the report into `dir`, replacing an earlier report there; refuses a
/// folder that holds anything else. Files are rendered one at a time (a long
/// backtest's equity.csv is large), into the temporary folder.
pub fn write(dir: &Path, r: &Report<'_>) -> Result<(), BacktestError> {
    write_dir(dir, |tmp| {
        let put = |name: &str, text: String| {
            let p = tmp.join(name);
            std::fs::write(&p, text).map_err(BacktestError::io(p))
        };
        let stream = |name: &str, f: &dyn Fn(&mut BufWriter<File>) -> std::io::Result<()>| {
            let p = tmp.join(name);
            File::create(&p)
                .and_then(|file| {
                    let mut w = BufWriter::new(file);
                    f(&mut w)?;
                    w.flush()
                })
                .map_err(BacktestError::io(p))
        };
        let stats =
            serde_json::to_string_pretty(&r.stats_json()).map_err(|e| BacktestError::Output {
                path: dir.join("stats.json"),
                message: e.to_string(),
            })?;
        put("stats.json", stats)?;
        stream("trades.csv", &|w| csv::trades(r.series, r.main.run, w))?;
        if r.report_options.equity_csv {
            stream("equity.csv", &|w| csv::equity(r, w))?;
        }
        if !r.main.run.forecasts.is_empty() {
            stream("forecasts.csv", &|w| {
                csv::forecasts(r.series, r.main.run, w)
            })?;
        }
        let equity = charts::equity(r)?;
        put("report.html", html::render(r, &equity)?)?;
        put("equity.svg", equity)
    })
}

/// Writes `files` into `dir` the same way.
pub fn write_files(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), BacktestError> {
    write_dir(dir, |tmp| {
        files.iter().try_for_each(|(f, bytes)| {
            let p = tmp.join(f);
            std::fs::write(&p, bytes).map_err(BacktestError::io(p))
        })
    })
}

/// Runs `fill` on a temporary folder beside `dir`, then renames it to `dir`.
fn write_dir(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), BacktestError>,
) -> Result<(), BacktestError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BacktestError::Output {
            path: dir.to_path_buf(),
            message: "not a folder name".into(),
        })?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.exists() {
        let is_report = dir.is_dir()
            && (dir.join("stats.json").is_file()
                || std::fs::read_dir(dir)
                    .map_err(BacktestError::io(dir))?
                    .next()
                    .is_none());
        if !is_report {
            return Err(BacktestError::Output {
                path: dir.to_path_buf(),
                message:
                    "exists and is not a backtest report folder; remove it or choose another --out"
                        .into(),
            });
        }
    }
    std::fs::create_dir_all(&parent).map_err(BacktestError::io(&parent))?;
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.tmp-{pid}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(BacktestError::io(&tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(BacktestError::io(&tmp))?;
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{pid}"));
        std::fs::rename(dir, &old).map_err(BacktestError::io(dir))?;
        if let Err(e) = std::fs::rename(&tmp, dir) {
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(BacktestError::io(dir)(e));
        }
        let _ = std::fs::remove_dir_all(&old);
    } else if let Err(e) = std::fs::rename(&tmp, dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(BacktestError::io(dir)(e));
    }
    Ok(())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn a_folder_with_other_files_is_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("thesis.tex"), "precious").unwrap();
        let err = write_files(&dir, &[("stats.json", b"{}".to_vec())]).unwrap_err();
        assert!(err.to_string().contains("not a backtest report folder"));
        assert!(dir.join("thesis.tex").is_file());
        // An earlier report is replaced whole.
        let rep = tmp.path().join("rep");
        write_files(
            &rep,
            &[("stats.json", b"1".to_vec()), ("x.csv", b"x".to_vec())],
        )
        .unwrap();
        write_files(&rep, &[("stats.json", b"2".to_vec())]).unwrap();
        assert_eq!(
            std::fs::read_to_string(rep.join("stats.json")).unwrap(),
            "2"
        );
        assert!(!rep.join("x.csv").exists());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
