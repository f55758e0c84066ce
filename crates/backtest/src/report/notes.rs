//! What a user should be told beside the numbers: runs that cannot trade,
//! trades the statistics leave out, and the window buy-and-hold is compared on.
//! The same sentences go to the terminal, `stats.json` and `report.html`.

use super::{Entry, Report};
use crate::config::{BrokerConfig, Units};
use candlecast_data::Series;

/// A warning when whole units are unaffordable at the window's first bar: one
/// unit (the open plus spread, slippage and commission) costs more than the
/// cash, so no order can fill there. A $43k bitcoin and $10k of cash make zero
/// trades in every strategy; saying so before any forecast is made saves the
/// user the wait for an empty report. `None` with fractional units.
pub fn whole_units_warning(
    series: &Series,
    window_start: usize,
    broker: &BrokerConfig,
) -> Option<String> {
    if broker.units != Units::Whole {
        return None;
    }
    let opens = series.open().get(window_start..)?;
    let unit = |open: f64| broker.fill_price(open, true) + broker.commission_on(1.0, open);
    let first = unit(*opens.first()?);
    if first <= broker.cash {
        return None;
    }
    let over = opens.iter().filter(|&&o| unit(o) > broker.cash).count();
    let reach = if over == opens.len() {
        "it costs more at every bar of the window, so no order can fill and every strategy \
         makes 0 trades"
            .to_string()
    } else {
        format!(
            "no order can fill at {over} of the window's {} bars",
            opens.len()
        )
    };
    Some(format!(
        "with whole units one unit costs {first:.2} at the window's first bar and the cash is {}: \
         {reach}; --fractional trades fractions of a unit (or raise --cash)",
        broker.cash
    ))
}

/// The bar buy-and-hold is measured from when strategies are compared: the
/// latest of their own starts (backtesting.py measures it from the close
/// before each strategy's first decision, so a slower warm-up moves it), i.e.
/// the first bar from which every compared strategy could trade. With one
/// strategy it is backtesting.py's.
pub fn common_buy_hold_start(r: &Report<'_>) -> usize {
    r.entries().map(|e| e.run.buy_hold_start).max().unwrap_or(0)
}

/// Buy-and-hold's return in percent from the close of bar `start` to the last close.
pub fn buy_hold_return_pct(series: &Series, start: usize) -> f64 {
    let c = series.close();
    match (c.get(start), c.last()) {
        (Some(&a), Some(&b)) => (b - a) / a * 100.0,
        _ => f64::NAN,
    }
}

fn open_trade_note(r: &Report<'_>, e: &Entry<'_>) -> Option<String> {
    let t = e.run.open_trade.as_ref()?;
    if r.broker.finalize {
        return None;
    }
    let since = r
        .series
        .timestamps()
        .get(t.entry_bar)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    Some(format!(
        "{} holds a {} trade from {since} open at the end: # Trades, Exposure Time and the trade \
         statistics leave it out (backtesting.py counts closed trades only; Return and Equity \
         include it); --finalize closes it on the last bar",
        e.label(),
        if t.size > 0.0 { "long" } else { "short" },
    ))
}

/// Notes on the finished runs.
pub fn notes(r: &Report<'_>) -> Vec<String> {
    let mut out: Vec<String> = r.entries().filter_map(|e| open_trade_note(r, e)).collect();
    let start = common_buy_hold_start(r);
    if r.entries().any(|e| e.run.buy_hold_start != start) {
        let at = r
            .series
            .timestamps()
            .get(start)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        out.push(format!(
            "Buy & Hold Return [%] is over one window in every column: from the close of {at}, \
             after the slowest warm-up, to the last close; stats.json keeps backtesting.py's \
             per-strategy value (from each strategy's own first trading bar) as buy_hold_return_pct"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use candlecast_data::{Bar, SourceZone, Timestamp};

    fn series(opens: &[f64]) -> Series {
        let bars: Vec<Bar> = opens
            .iter()
            .enumerate()
            .map(|(i, &o)| Bar {
                ts: Timestamp(i as i64 * 3_600_000),
                open: o,
                high: o,
                low: o,
                close: o,
                volume: 1.0,
            })
            .collect();
        Series::from_bars(None, SourceZone::Utc, &bars).unwrap()
    }

    #[test]
    fn unaffordable_whole_units_are_named_with_the_flag() {
        let b = BrokerConfig::default(); // 10,000 cash, whole units
        let w = whole_units_warning(&series(&[43_000.0, 44_000.0]), 0, &b).unwrap();
        assert!(w.contains("every strategy makes 0 trades"), "{w}");
        assert!(w.contains("--fractional") && w.contains("43000.00"), "{w}");
        let w = whole_units_warning(&series(&[43_000.0, 9_000.0, 9_500.0]), 0, &b).unwrap();
        assert!(
            w.contains("no order can fill at 1 of the window's 3 bars"),
            "{w}"
        );
        // The commission counts: 9,990 plus 0.2% is over 10,000.
        let c = BrokerConfig {
            commission: 0.002,
            ..BrokerConfig::default()
        };
        assert!(whole_units_warning(&series(&[9_990.0]), 0, &c).is_some());
        assert!(whole_units_warning(&series(&[9_990.0]), 0, &b).is_none());
        // The window, not the history before it, and not with fractional units.
        assert!(whole_units_warning(&series(&[43_000.0, 100.0]), 1, &b).is_none());
        let f = BrokerConfig {
            units: Units::Fractional,
            ..BrokerConfig::default()
        };
        assert!(whole_units_warning(&series(&[43_000.0]), 0, &f).is_none());
    }
}
