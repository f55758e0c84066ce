//! `report.html`: one file with the statistics and inline SVG charts; no
//! scripts, styles or fonts from elsewhere, so it opens offline and can be
//! mailed or archived as is. Every name that came from the input is escaped.

use super::charts;
use super::{escape_html, notes, whole_units_warning, Report, SIGNIFICANCE_ROWS};
use crate::error::BacktestError;
use std::fmt::Write as _;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1040px;color:#222}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:28px 0 6px}.sub{color:#666;font-size:13px}\
table{border-collapse:collapse;font-size:13px;margin-top:8px}th,td{padding:3px 10px;border-bottom:1px solid #eee}\
td{text-align:right;font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}\
th{background:#f6f6f6}.main{font-weight:600}svg{display:block;margin:6px 0}.warn{color:#a40;font-size:13px;font-weight:600}";

/// The page; `equity_svg` is [`charts::equity`]'s chart, drawn once for this
/// page and `equity.svg`.
pub fn render(r: &Report<'_>, equity_svg: &str) -> Result<String, BacktestError> {
    let mut html = String::new();
    header(&mut html, r);
    statistics(&mut html, r);
    statistics_notes(&mut html, r);
    if r.refit.is_some() {
        refits(&mut html, r);
    }
    chart_sections(&mut html, r, equity_svg)?;
    html.push_str(
        "<p class=\"sub\">Made by candlecast. Every statistic backtesting.py 0.6.6 reports, with its \
         names and definitions (Buy &amp; Hold Return over one window for all columns, see the note \
         when that differs from backtesting.py's per-strategy value); orders fill at the next bar's \
         open.</p></body></html>\n",
    );
    Ok(html)
}

/// The document head and the title line: everything needed to reproduce the
/// run (window, broker, decision and refit schedule) sits under the title, so
/// a page read on its own says what it measured.
fn header(html: &mut String, r: &Report<'_>) {
    let s = r.series;
    let ws = r.main.run.window_start;
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Backtest: {}</title><style>{STYLE}</style></head><body>\n",
        escape_html(&r.title)
    );
    let _ = writeln!(
        html,
        "<h1>Backtest: {}</h1><div class=\"sub\">strategy <b>{}</b>{} &middot; {} to {} ({} bars) &middot; \
         cash {} &middot; commission {} &middot; spread {} &middot; slippage {} &middot; {} units{}{}{}</div>",
        escape_html(&r.title),
        escape_html(&r.main.spec),
        r.model
            .as_deref()
            .map(|m| format!(" with model {}", escape_html(m)))
            .unwrap_or_default(),
        s.timestamps().get(ws).map(|t| t.to_rfc3339()).unwrap_or_default(),
        s.last_ts().map(|t| t.to_rfc3339()).unwrap_or_default(),
        s.len().saturating_sub(ws),
        r.broker.cash,
        r.broker.commission,
        r.broker.spread.map_or("none".into(), |c| c.to_string()),
        r.broker.slippage.map_or("none".into(), |c| c.to_string()),
        match r.broker.units {
            crate::Units::Whole => "whole",
            crate::Units::Fractional => "fractional",
        },
        if r.broker.finalize { " &middot; open trade closed at the end" } else { "" },
        if r.options.decide_every > 1 {
            format!(" &middot; decides every {} bars", r.options.decide_every)
        } else {
            String::new()
        },
        r.refit
            .map(|p| format!(" &middot; model refitted every {} bars ({} steps)", p.every, p.steps))
            .unwrap_or_default(),
    );
}

/// One cell of the statistics table; the main strategy's column is bold so it
/// stands out from the comparisons.
fn cell(html: &mut String, k: usize, v: &str) {
    let _ = write!(
        html,
        "<td{}>{}</td>",
        if k == 0 { " class=\"main\"" } else { "" },
        escape_html(v)
    );
}

/// The table: one column per strategy (the main one first), the metrics' rows,
/// then the significance rows against buy-and-hold.
fn statistics(html: &mut String, r: &Report<'_>) {
    html.push_str("<h2>Statistics</h2><table><tr><th></th>");
    for (k, e) in std::iter::once(&r.main).chain(&r.compare).enumerate() {
        let _ = write!(
            html,
            "<th{}>{}</th>",
            if k == 0 { " class=\"main\"" } else { "" },
            escape_html(&e.label())
        );
    }
    html.push_str("</tr>\n");
    for (label, cells) in r.cells() {
        let _ = write!(html, "<tr><td>{}</td>", escape_html(label));
        for (k, v) in cells.iter().enumerate() {
            cell(html, k, v);
        }
        html.push_str("</tr>\n");
    }
    for (label, f) in SIGNIFICANCE_ROWS {
        let _ = write!(html, "<tr><td>{}</td>", escape_html(label));
        for (k, e) in std::iter::once(&r.main).chain(&r.compare).enumerate() {
            let v = e.vs_buy_hold.as_ref().map_or("-".into(), f);
            cell(html, k, &v);
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
}

/// What the table cannot say in a cell: each strategy's comparison with
/// buy-and-hold in words, how that comparison is made, and the warnings and
/// notes that qualify the numbers.
fn statistics_notes(html: &mut String, r: &Report<'_>) {
    for e in std::iter::once(&r.main).chain(&r.compare) {
        if let Some(d) = &e.vs_buy_hold {
            let _ = write!(
                html,
                "<div class=\"sub\">{}: {}.</div>",
                escape_html(&e.label()),
                escape_html(&d.line())
            );
        }
    }
    let _ = writeln!(
        html,
        "<div class=\"sub\">Sharpe (mean/sd) - B&amp;H: the annualised mean over standard \
         deviation of the period (daily) returns, which unlike the table's Sharpe ratio does not \
         change with position size, minus buy-and-hold's; the interval is a paired block \
         bootstrap of both equity curves' returns, blocks of n^(1/3) periods, {} resamples \
         from a fixed seed; better or worse when the {:.0}% interval excludes 0.</div>",
        crate::significance::RESAMPLES,
        crate::significance::LEVEL * 100.0
    );
    if let Some(w) = whole_units_warning(r.series, r.main.run.window_start, r.broker) {
        let _ = write!(
            html,
            "<div class=\"warn\">Warning: {}.</div>",
            escape_html(&w)
        );
    }
    for n in notes(r) {
        let _ = write!(html, "<div class=\"sub\">{}.</div>", escape_html(&n));
    }
}

/// The chart sections; the forecast fan only for a model-driven run that
/// made forecasts.
fn chart_sections(
    html: &mut String,
    r: &Report<'_>,
    equity_svg: &str,
) -> Result<(), BacktestError> {
    html.push_str("<h2>Equity</h2>");
    if !r.report_options.equity_csv {
        html.push_str(
            "<div class=\"sub\">Per-bar values: rerun with --equity-csv for equity.csv.</div>",
        );
    }
    html.push_str(equity_svg);
    html.push_str("<h2>Drawdown</h2>");
    html.push_str(&charts::drawdown(r)?);
    let trades = charts::trades(r)?;
    let _ = write!(
        html,
        "<h2>Trades</h2><div class=\"sub\">{}</div>{}",
        trades.caption, trades.svg
    );
    if let Some(fan) = charts::fan(r)? {
        let _ = write!(
            html,
            "<h2>Forecasts</h2><div class=\"sub\">{}</div>{}",
            fan.caption, fan.svg
        );
    }
    Ok(())
}

/// The refit schedule: when each refit happened, what it trained on and how
/// its training loss moved.
fn refits(html: &mut String, r: &Report<'_>) {
    let list = &r.main.run.refits;
    let _ = write!(
        html,
        "<h2>Refits</h2><div class=\"sub\">{} refit{}: at each, the model was fine-tuned from its \
         current weights on the bars up to and including that bar's close (never a later one), \
         before the decision there. Loss: mean training cross-entropy (nats/token) of the first \
         and last steps.</div>",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    if list.is_empty() {
        return;
    }
    html.push_str(
        "<table><tr><th>#</th><th>bar</th><th>time</th><th>bars trained on</th><th>tokens</th>\
         <th>steps</th><th>loss first</th><th>loss last</th></tr>\n",
    );
    let ts = r.series.timestamps();
    for f in list {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td></tr>",
            f.index,
            f.bar,
            ts.get(f.bar).map(|t| t.to_rfc3339()).unwrap_or_default(),
            f.bars,
            f.tokens,
            f.steps,
            f.loss_start,
            f.loss_end
        );
    }
    html.push_str("</table>\n");
}
