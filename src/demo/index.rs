//! The demo's `index.html`: the headline results on the first page (the
//! scorecard's summary and verdicts, the backtest's statistics and equity
//! chart), read back from the files the stages wrote, so the page shows what
//! a user would find in them, then links to everything.

use anyhow::Context;
use candlecast_backtest::report::{escape_html, format_stat};
use candlecast_backtest::Stat;
use candlecast_backtest::METRICS;
use candlecast_forecast::{verdict, DieboldMariano};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The backtest statistics the headline table shows, in order.
const HEADLINE_METRICS: [&str; 7] = [
    "return_pct",
    "return_ann_pct",
    "sharpe",
    "max_drawdown_pct",
    "n_trades",
    "win_rate_pct",
    "equity_final",
];

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1040px;color:#222}\
li{margin:.4em 0}table{border-collapse:collapse;font-size:14px;margin:.5em 0}\
th,td{padding:3px 10px;border-bottom:1px solid #eee}td{text-align:right;font-variant-numeric:tabular-nums}\
td:first-child,th:first-child{text-align:left}th{background:#f6f6f6}.model{font-weight:600}\
.sub{color:#666;font-size:13px}svg{display:block;max-width:100%;height:auto}";

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// A number of the JSON, NaN where it is null (undefined statistics) or absent.
fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: &'a Value, key: &str, file: &str) -> anyhow::Result<&'a Vec<Value>> {
    v.get(key)
        .and_then(Value::as_array)
        .with_context(|| format!("{file}: no '{key}' list"))
}

/// A series' file name without the demo's folder.
fn short(series: &str) -> &str {
    Path::new(series)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(series)
}

fn is_model(forecaster: &str) -> bool {
    forecaster.starts_with("gpt")
}

/// The scorecard: relative CRPS across series, then per series the model
/// against the bar (the best classical forecaster, chosen on validation data).
fn scorecard(card: &Value) -> anyhow::Result<String> {
    let file = "scorecard/scorecard.json";
    let mut agg: Vec<(&str, f64, u64)> = items(card, "aggregate", file)?
        .iter()
        .map(|a| {
            (
                text(a, "forecaster"),
                num(a, "relative_crps_geomean"),
                a.get("series").and_then(Value::as_u64).unwrap_or(0),
            )
        })
        .collect();
    agg.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut h = String::from(
        "<h2>Forecasts: the scorecard</h2><p class=\"sub\">One-step forecasts of the close on the last 20% \
         of each series. Relative CRPS: the forecaster's CRPS over the constant-volatility random walk's \
         (<code>rw-const</code> = 1, lower is better), geometric mean over the series.</p>\
         <table><tr><th>forecaster</th><th>rel. CRPS</th><th>series</th></tr>\n",
    );
    for (f, g, n) in &agg {
        let _ = writeln!(
            h,
            "<tr{}><td>{}</td><td>{g:.4}</td><td>{n}</td></tr>",
            if is_model(f) { " class=\"model\"" } else { "" },
            escape_html(f)
        );
    }
    h.push_str("</table>\n<h2>Verdicts</h2><ul>\n");
    for s in items(card, "series", file)? {
        let name = short(text(s, "series"));
        let Some(bar) = s.get("bar").and_then(Value::as_str) else {
            continue;
        };
        let scores = items(s, "scores", file)?;
        let bar_rel = scores
            .iter()
            .find(|r| text(r, "forecaster") == bar)
            .map_or(f64::NAN, |r| num(r, "relative_crps"));
        for r in scores.iter().filter(|r| is_model(text(r, "forecaster"))) {
            let Some(dm) = r.get("vs_bar").filter(|d| !d.is_null()) else {
                continue;
            };
            let dm = DieboldMariano {
                mean_diff: num(dm, "mean_diff"),
                statistic: num(dm, "statistic"),
                lag: dm.get("lag").and_then(Value::as_u64).unwrap_or(0) as usize,
                n: dm.get("n").and_then(Value::as_u64).unwrap_or(0) as usize,
            };
            let meets = r.get("meets_bar").and_then(Value::as_bool) == Some(true);
            let _ = writeln!(
                h,
                "<li><b>{}</b> on {}: rel. CRPS {:.4} against the bar, <code>{}</code> {bar_rel:.4}: \
                 {} (Diebold-Mariano {:.2}); {}.</li>",
                escape_html(text(r, "forecaster")),
                escape_html(name),
                num(r, "relative_crps"),
                escape_html(bar),
                escape_html(&verdict(&dm, bar)),
                dm.statistic,
                if meets {
                    "meets the bar"
                } else {
                    "does not meet the bar"
                },
            );
        }
    }
    h.push_str(
        "</ul><p class=\"sub\">The bar: the best classical forecaster on the last 10% of the training part; \
         meeting it takes a relative CRPS at most the bar's and 80% intervals covering 77&ndash;83% of \
         the closes.</p>\n",
    );
    Ok(h)
}

/// The backtest: the statistics of every strategy side by side, which had the
/// best Sharpe ratio, and the equity chart.
fn backtest<'a>(stats: &'a Value, equity_svg: &str) -> anyhow::Result<String> {
    let file = "backtest/stats.json";
    // Each column: the strategy's name (a model strategy's without its
    // parameters, which the sentence above the table gives), its metrics, and
    // its Sharpe ratio against buy-and-hold's (null for buy-and-hold).
    let name = |spec: &str| match spec.split_once(':') {
        Some((n @ ("vol-target" | "forecast" | "forecast-threshold"), _)) => n.to_string(),
        _ => spec.to_string(),
    };
    let metrics = |v: &'a Value| {
        v.get("metrics")
            .with_context(|| format!("{file}: no metrics"))
    };
    let mut strategies: Vec<(String, &Value, &Value)> = vec![(
        name(text(stats, "strategy")),
        metrics(stats)?,
        stats.get("vs_buy_hold").unwrap_or(&Value::Null),
    )];
    for c in items(stats, "compare", file)? {
        strategies.push((
            name(text(c, "strategy")),
            metrics(c)?,
            c.get("vs_buy_hold").unwrap_or(&Value::Null),
        ));
    }
    let window = stats.get("window").unwrap_or(&Value::Null);
    let broker = stats.get("broker").unwrap_or(&Value::Null);
    let mut h = format!(
        "<h2>Backtest</h2><p class=\"sub\">{}, {} to {} ({} bars): <code>{}</code> \
         beside the other strategies; cash {}, commission {} of traded value{}.</p><table><tr><th></th>",
        escape_html(short(text(stats, "title"))),
        escape_html(text(window, "start")),
        escape_html(text(window, "end")),
        window.get("bars").and_then(Value::as_u64).unwrap_or(0),
        escape_html(text(stats, "strategy")),
        num(broker, "cash"),
        num(broker, "commission"),
        if broker.get("finalize").and_then(Value::as_bool) == Some(true) {
            ", every open trade closed on the last bar"
        } else {
            ""
        },
    );
    for (name, _, _) in &strategies {
        let _ = write!(h, "<th>{}</th>", escape_html(name));
    }
    h.push_str("</tr>\n");
    for key in HEADLINE_METRICS {
        let label = METRICS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, l)| *l);
        let _ = write!(h, "<tr><td>{}</td>", escape_html(label));
        for (_, m, _) in &strategies {
            let _ = write!(h, "<td>{}</td>", format_metric(key, num(m, key)));
        }
        h.push_str("</tr>\n");
    }
    verdict_rows(&mut h, &strategies);
    let best = strategies
        .iter()
        .filter(|(_, m, _)| num(m, "sharpe").is_finite())
        .max_by(|a, b| num(a.1, "sharpe").total_cmp(&num(b.1, "sharpe")));
    if let Some((name, m, v)) = best {
        let _ = writeln!(
            h,
            "<p>Highest Sharpe ratio on this window: <b>{}</b> ({}){}.</p>",
            escape_html(name),
            format_metric("sharpe", num(m, "sharpe")),
            match v.get("summary").and_then(Value::as_str) {
                Some(line) => format!("; {}", escape_html(line)),
                None => String::new(),
            }
        );
    }
    h.push_str(equity_svg);
    Ok(h)
}

/// The verdicts: each Sharpe ratio against buy-and-hold's, as the report has them.
fn verdict_rows(h: &mut String, strategies: &[(String, &Value, &Value)]) {
    h.push_str("<tr><td>Sharpe (mean/sd) - B&amp;H [95% CI]</td>");
    for (_, _, v) in strategies {
        let cell = match (v.get("sharpe_diff"), v.get("ci_low"), v.get("ci_high")) {
            (Some(_), Some(_), Some(_)) => format!(
                "{:+.3} [{:+.3}, {:+.3}]",
                num(v, "sharpe_diff"),
                num(v, "ci_low"),
                num(v, "ci_high")
            ),
            _ => "-".into(),
        };
        let _ = write!(h, "<td>{}</td>", escape_html(&cell));
    }
    h.push_str("</tr>\n<tr><td>vs Buy &amp; Hold</td>");
    for (_, _, v) in strategies {
        let word = match v.get("verdict").and_then(Value::as_str) {
            Some("no_difference") => "n.s.",
            Some("too_short") => "too short",
            Some(w) => w,
            None => "-",
        };
        let _ = write!(h, "<td>{}</td>", escape_html(word));
    }
    h.push_str("</tr>\n</table>\n");
}

/// The whole page.
pub fn page(out: &Path, quick: bool, from_scratch: bool) -> anyhow::Result<String> {
    let card = read_json(&out.join("scorecard/scorecard.json"))?;
    let stats = read_json(&out.join("backtest/stats.json"))?;
    let svg_path = out.join("backtest/equity.svg");
    let svg = std::fs::read_to_string(&svg_path).with_context(|| svg_path.display().to_string())?;
    let pretrained = if from_scratch {
        format!(
            "configs/tiny.toml{} pretrained on the four bundled series (BTC/USD hourly, EUR/USD hourly, \
             an A-share at 5 minutes, the S&amp;P 500 daily)",
            if quick { " (cut down: --quick)" } else { "" }
        )
    } else {
        "The shipped base model (models/base: pretrained on the first 80% of the four bundled series, \
         BTC/USD hourly, EUR/USD hourly, an A-share at 5 minutes and the S&amp;P 500 daily, and on synthetic \
         markets), forecasting and scored zero-shot, and"
            .to_string()
    };
    let models = if from_scratch {
        "<code>runs/pretrain</code>, <code>runs/finetune-spx</code>"
    } else {
        "the base model (<code>candlecast forecast</code> without <code>--model</code>), <code>runs/finetune-spx</code>"
    };
    Ok(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>candlecast demo</title>
<style>{STYLE}</style></head><body>
<h1>candlecast demo</h1>
<p>{pretrained} fine-tuned on the S&amp;P 500's first 80%, and judged on the rest.{}</p>
{}
{}
<h2>Everything</h2>
<ul>
<li><a href="scorecard/evaluate.html">Scorecard</a>: one-step forecasts against the classical baselines,
with Diebold-Mariano verdicts and calibration plots (<a href="scorecard/scorecard.md">Markdown</a>,
<a href="scorecard/scorecard.json">JSON</a>, <a href="scorecard/calibration.csv">PIT histograms</a>).</li>
<li><a href="backtest/report.html">Backtest report</a>: vol-target and the forecast rules on the S&amp;P 500's test
window beside the rule strategies (<a href="backtest/stats.json">stats</a>,
<a href="backtest/trades.csv">trades</a>, <a href="backtest/equity.csv">equity</a>,
<a href="backtest/forecasts.csv">forecasts</a>).</li>
<li><a href="forecast.csv">Forecasts</a> of the next bars of every series (quantiles, mean, P(up)).</li>
<li>Models: {models} (training curves in <code>curve.csv</code>).</li>
</ul></body></html>
"#,
        if quick {
            " <b>--quick</b>: a smoke test of every stage; the numbers below are not worth reading."
        } else {
            ""
        },
        scorecard(&card)?,
        backtest(&stats, &svg)?,
    ))
}

/// A headline number as the backtest's own table prints it (trade counts whole).
fn format_metric(key: &str, x: f64) -> String {
    match key {
        "n_trades" if x.is_finite() && x >= 0.0 => format_stat(key, Stat::Count(x as usize)),
        _ => format_stat(key, Stat::Number(x)),
    }
}
