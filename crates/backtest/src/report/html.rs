//! `report.html`: one file with the statistics and inline SVG charts; no
//! scripts, styles or fonts from elsewhere, so it opens offline and can be
//! mailed or archived as is. Every name that came from the input is escaped.

use super::plot::{self, Band, Chart, Line, Marker, BLUE_, ORANGE_, PALETTE};
use super::{escape_html, format_metric, Report, SIGNIFICANCE_ROWS};
use crate::error::BacktestError;
use crate::metrics::{drawdowns, METRICS};
use std::fmt::Write as _;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1040px;color:#222}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:28px 0 6px}.sub{color:#666;font-size:13px}\
table{border-collapse:collapse;font-size:13px;margin-top:8px}th,td{padding:3px 10px;border-bottom:1px solid #eee}\
td{text-align:right;font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}\
th{background:#f6f6f6}.main{font-weight:600}svg{display:block;margin:6px 0}";

pub fn render(r: &Report<'_>) -> Result<String, BacktestError> {
    let s = r.series;
    let run = r.main.run;
    let ws = run.window_start;
    let x: Vec<f64> = s.timestamps()[ws.min(s.len())..]
        .iter()
        .map(|t| t.0 as f64)
        .collect();
    let at = |i: usize| s.timestamps().get(i).map_or(f64::NAN, |t| t.0 as f64);

    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Backtest: {}</title><style>{STYLE}</style></head><body>\n",
        escape_html(&r.title)
    );
    let _ = writeln!(
        html,
        "<h1>Backtest: {}</h1><div class=\"sub\">strategy <b>{}</b>{} &middot; {} to {} ({} bars) &middot; \
         cash {} &middot; commission {} &middot; spread {} &middot; slippage {} &middot; {} units{}{}</div>",
        escape_html(&r.title),
        escape_html(&r.main.spec),
        r.model
            .as_deref()
            .map(|m| format!(" with model {}", escape_html(m)))
            .unwrap_or_default(),
        s.timestamps().get(ws).map(|t| t.to_rfc3339()).unwrap_or_default(),
        s.last_ts().map(|t| t.to_rfc3339()).unwrap_or_default(),
        x.len(),
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
    );

    // Statistics.
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
    for (key, label) in METRICS {
        let _ = write!(html, "<tr><td>{}</td>", escape_html(label));
        for (k, e) in std::iter::once(&r.main).chain(&r.compare).enumerate() {
            let v = format_metric(key, e.metrics.get(key).unwrap_or(f64::NAN));
            let _ = write!(
                html,
                "<td{}>{v}</td>",
                if k == 0 { " class=\"main\"" } else { "" }
            );
        }
        html.push_str("</tr>\n");
    }
    for (label, cell) in SIGNIFICANCE_ROWS {
        let _ = write!(html, "<tr><td>{}</td>", escape_html(label));
        for (k, e) in std::iter::once(&r.main).chain(&r.compare).enumerate() {
            let v = e.vs_buy_hold.as_ref().map_or("-".into(), cell);
            let _ = write!(
                html,
                "<td{}>{}</td>",
                if k == 0 { " class=\"main\"" } else { "" },
                escape_html(&v)
            );
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
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
    for e in std::iter::once(&r.main).chain(&r.compare) {
        if let Some(t) = &e.run.open_trade {
            let _ =
                write!(
                html,
                "<div class=\"sub\">{}: a {} trade of {} units from {} is open at the end and not \
                 counted in the trade statistics (--finalize closes it).</div>",
                escape_html(&e.spec),
                if t.size > 0.0 { "long" } else { "short" },
                t.size.abs(),
                s.timestamps().get(t.entry_bar).map(|t| t.to_rfc3339()).unwrap_or_default(),
            );
        }
    }

    // Equity beside buy-and-hold and the comparison strategies.
    let bh = plot::buy_hold(s, run, r.broker.cash);
    let mut lines = vec![Line {
        label: r.main.label(),
        points: plot::reduce(&x, &run.equity),
        color: &BLUE_,
        width: 2,
    }];
    lines.push(Line {
        label: "buy & hold (no costs)".into(),
        points: plot::reduce(&x, &bh),
        color: &ORANGE_,
        width: 1,
    });
    for (k, e) in r.compare.iter().enumerate() {
        lines.push(Line {
            label: e.label(),
            points: plot::reduce(&x, &e.run.equity),
            color: &PALETTE[k % PALETTE.len()],
            width: 1,
        });
    }
    html.push_str("<h2>Equity</h2>");
    html.push_str(&plot::svg(&Chart {
        title: "Equity",
        y_label: "equity",
        height: 340,
        lines,
        bands: vec![],
        markers: vec![],
        fill_first: false,
    })?);

    let dd: Vec<f64> = drawdowns(&run.equity)
        .iter()
        .map(|d| 0.0 - d * 100.0)
        .collect();
    html.push_str("<h2>Drawdown</h2>");
    html.push_str(&plot::svg(&Chart {
        title: "Drawdown [%]",
        y_label: "%",
        height: 200,
        lines: vec![Line {
            label: "drawdown".into(),
            points: plot::reduce(&x, &dd),
            color: &plot::RED_,
            width: 1,
        }],
        bands: vec![],
        markers: vec![],
        fill_first: true,
    })?);

    // Price with entries and exits.
    let close = &s.close()[ws.min(s.len())..];
    let mut markers = Vec::new();
    let trades = run.trades.iter().chain(run.open_trade.iter());
    for t in trades {
        let m = if t.size > 0.0 {
            Marker::Up
        } else {
            Marker::Down
        };
        markers.push((at(t.entry_bar), t.entry_price, m));
        if run.open_trade.as_ref() != Some(t) {
            markers.push((at(t.exit_bar), t.exit_price, Marker::Exit));
        }
    }
    let _ = write!(
        html,
        "<h2>Trades</h2><div class=\"sub\">&#9650; long entry &middot; &#9660; short entry &middot; \
         &#9632; exit{}</div>",
        if run.trades.len() > 300 {
            " &middot; markers for the most recent trades only"
        } else {
            ""
        }
    );
    html.push_str(&plot::svg(&Chart {
        title: "Close with trades",
        y_label: "price",
        height: 340,
        lines: vec![Line {
            label: "close".into(),
            points: plot::reduce(&x, close),
            color: &BLUE_,
            width: 1,
        }],
        bands: vec![],
        markers,
        fill_first: false,
    })?);

    // Forecast fan: the horizon-step forecast made at each decision, plotted
    // at the bar it forecast, against the close that came.
    if let Some(h) = run
        .forecasts
        .first()
        .map(|f| f.mean.len())
        .filter(|&h| h > 0)
    {
        let mut lower = Vec::new();
        let mut upper = Vec::new();
        let mut median = Vec::new();
        for f in &run.forecasts {
            let i = f.origin_bar + h;
            if i >= s.len() {
                continue;
            }
            if let Some(q) = f.quantiles.get(h - 1) {
                let t = at(i);
                lower.push((t, q[0]));
                median.push((t, q[1]));
                upper.push((t, q[2]));
            }
        }
        let _ = write!(
            html,
            "<h2>Forecasts</h2><div class=\"sub\">{} forecasts; the close {h} bar{} after each decision: \
             the model's 10&ndash;90% band and median against the close that came.</div>",
            run.forecasts.len(),
            if h == 1 { "" } else { "s" }
        );
        let mut lines = vec![Line {
            label: "close".into(),
            points: plot::reduce(&x, close),
            color: &plot::GREY_,
            width: 1,
        }];
        if median.len() <= 2000 {
            lines.push(Line {
                label: "forecast median".into(),
                points: median,
                color: &BLUE_,
                width: 1,
            });
        }
        html.push_str(&plot::svg(&Chart {
            title: &format!("Forecast of the close {h} bars ahead"),
            y_label: "price",
            height: 340,
            lines,
            bands: if lower.len() <= 4000 {
                vec![Band {
                    label: "10-90% band".into(),
                    lower,
                    upper,
                    color: BLUE_,
                }]
            } else {
                vec![]
            },
            markers: vec![],
            fill_first: false,
        })?);
    }
    html.push_str(
        "<p class=\"sub\">Made by candlecast. Statistics follow backtesting.py 0.6.6's definitions; \
         orders fill at the next bar's open.</p></body></html>\n",
    );
    Ok(html)
}
