//! The report's CSV files.

use super::fields::{push_f64, push_timestamp};
use super::Report;
use crate::engine::Run;
use candlecast_data::Series;
use candlecast_forecast::future_timestamps;
use std::io::{self, Write};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn ts(series: &Series, i: usize) -> String {
    series
        .timestamps()
        .get(i)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// Rows are built in a buffer and handed to the writer in chunks of about this
/// many bytes.
const CHUNK: usize = 1 << 16;

fn push_ts(buf: &mut Vec<u8>, series: &Series, i: usize) {
    if let Some(&t) = series.timestamps().get(i) {
        push_timestamp(buf, t);
    }
}

fn push_num(buf: &mut Vec<u8>, v: f64) {
    buf.push(b',');
    push_f64(buf, v);
}

fn flush_if_full(buf: &mut Vec<u8>, out: &mut impl Write) -> io::Result<()> {
    if buf.len() >= CHUNK {
        out.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}

/// One row per trade; the trade still open at the end comes last, marked at
/// the last close, with `status` open.
pub fn trades(series: &Series, run: &Run, out: &mut impl Write) -> io::Result<()> {
    out.write_all(
        b"entry_time,exit_time,side,size,entry_price,exit_price,pnl,return_pct,commission,entry_bar,exit_bar,status\n",
    )?;
    let mut buf = Vec::with_capacity(CHUNK + 512);
    let closed = run.trades.iter().map(|t| (t, "closed"));
    for (t, status) in closed.chain(run.open_trade.iter().map(|t| (t, "open"))) {
        push_ts(&mut buf, series, t.entry_bar);
        buf.push(b',');
        push_ts(&mut buf, series, t.exit_bar);
        buf.extend_from_slice(if t.size > 0.0 { b",long" } else { b",short" });
        for v in [
            t.size.abs(),
            t.entry_price,
            t.exit_price,
            t.pnl,
            t.ret * 100.0,
            t.commission,
        ] {
            push_num(&mut buf, v);
        }
        writeln!(buf, ",{},{},{status}", t.entry_bar, t.exit_bar)?;
        flush_if_full(&mut buf, out)?;
    }
    out.write_all(&buf)
}

/// Per bar of the window: the close, the strategy's equity and drawdown,
/// buy-and-hold (no costs) from the same start, and the comparison strategies'
/// equity.
pub fn equity(r: &Report<'_>, out: &mut impl Write) -> io::Result<()> {
    let run = r.main.run;
    let ws = run.window_start;
    out.write_all(b"timestamp,close,equity,drawdown_pct,buy_hold_equity")?;
    for e in &r.compare {
        write!(out, ",{}", field(&format!("equity_{}", e.spec)))?;
    }
    out.write_all(b"\n")?;
    let dd = super::plot::drawdown_pct(&run.equity);
    let bh = super::plot::buy_hold(r.series, run, r.broker.cash);
    let close = r.series.close();
    let mut buf = Vec::with_capacity(CHUNK + 512);
    for (((k, &e), dd), bh) in run.equity.iter().enumerate().zip(dd).zip(bh) {
        let i = ws + k;
        push_ts(&mut buf, r.series, i);
        push_num(&mut buf, close.get(i).copied().unwrap_or(f64::NAN));
        push_num(&mut buf, e);
        push_num(&mut buf, dd);
        push_num(&mut buf, bh);
        for c in &r.compare {
            push_num(&mut buf, c.run.equity.get(k).copied().unwrap_or(f64::NAN));
        }
        buf.push(b'\n');
        flush_if_full(&mut buf, out)?;
    }
    out.write_all(&buf)
}

/// Long format, one row per forecast origin and step: the forecast close's mean
/// and quantiles, P(up over the horizon), the position the rule wanted, and
/// what actually happened when the data has that bar.
pub fn forecasts(series: &Series, run: &Run, out: &mut impl Write) -> io::Result<()> {
    out.write_all(
        b"origin,origin_close,step,timestamp,mean,q0.1,q0.5,q0.9,p_up,wanted,wanted_fraction,actual\n",
    )?;
    let n = series.len();
    for f in &run.forecasts {
        let wanted = match f.wanted.side() {
            1 => "long",
            -1 => "short",
            _ => "flat",
        };
        let frac = f.wanted.fraction().abs();
        let beyond = (f.origin_bar + f.mean.len() + 1).saturating_sub(n);
        let future = if beyond > 0 {
            future_timestamps(series, beyond)
        } else {
            vec![]
        };
        for (k, (mean, q)) in f.mean.iter().zip(&f.quantiles).enumerate() {
            let i = f.origin_bar + k + 1;
            let (stamp, actual) = if i < n {
                (ts(series, i), series.close()[i].to_string())
            } else {
                (
                    future
                        .get(i - n)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                    String::new(),
                )
            };
            writeln!(
                out,
                "{},{},{},{stamp},{mean},{},{},{},{},{wanted},{frac},{actual}",
                ts(series, f.origin_bar),
                f.origin_close,
                k + 1,
                q[0],
                q[1],
                q[2],
                f.p_up,
            )?;
        }
    }
    Ok(())
}
