//! Period returns and annualisation, as backtesting.py 0.6.6 derives them from
//! the bar timestamps: the bar interval is the median spacing of the last 100
//! bars; daily-or-finer data is annualised with 252 periods (365 when weekend
//! bars are common), weekly with 52, monthly with 12, yearly with 1; the equity
//! is sampled at the last bar of each calendar period (UTC).

use super::span::Span;
use candlecast_data::Timestamp;

const DAY_MS: i64 = 86_400_000;

/// The calendar period equity is sampled at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Weeks ending on Sunday (pandas `W`).
    Week,
    Month,
    Year,
}

/// The bar spacing backtesting.py assumes (`_data_period`): the median spacing of
/// the last 100 bars; `None` for fewer than two bars.
pub fn bar_spacing(ts: &[Timestamp]) -> Option<Span> {
    let tail = &ts[ts.len().saturating_sub(100)..];
    let mut d: Vec<i64> = tail.windows(2).map(|w| w[1].0 - w[0].0).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    let m = d.len() / 2;
    // In nanoseconds the mean of two milliseconds counts is exact.
    Some(if d.len() % 2 == 1 {
        Span::from_ms(d[m])
    } else {
        Span((Span::from_ms(d[m - 1]).0 + Span::from_ms(d[m]).0) / 2)
    })
}

/// Periods per year and the period to sample at, for bars stamped `ts`.
pub fn annualisation(ts: &[Timestamp]) -> (f64, Period) {
    // pandas' Timedelta.days: whole days, rounded down.
    let freq_days = bar_spacing(ts).map_or(0, Span::days);
    match freq_days {
        7 => (52.0, Period::Week),
        31 => (12.0, Period::Month),
        365 => (1.0, Period::Year),
        _ => {
            let mut day = DayCache::default();
            let weekend = ts
                .iter()
                .filter(|t| day.get(t.0, |ms| weekday(ms) >= 5))
                .count() as f64;
            let have_weekends = weekend / (ts.len().max(1) as f64) > 2.0 / 7.0 * 0.6;
            (if have_weekends { 365.0 } else { 252.0 }, Period::Day)
        }
    }
}

/// A value that depends only on a timestamp's UTC day, computed once per day
/// rather than once per bar: bars come in time order, so a million one-minute
/// bars take some 700 divisions (or calendar conversions) instead of a million.
#[derive(Debug, Clone, Copy)]
struct DayCache<T> {
    /// The day's first millisecond and the next day's, and the value for it.
    range: (i64, i64),
    value: Option<T>,
}

impl<T> Default for DayCache<T> {
    fn default() -> Self {
        DayCache {
            range: (0, 0),
            value: None,
        }
    }
}

impl<T: Copy> DayCache<T> {
    /// `f(ms)`, or the value of the day `ms` falls in if it was the last asked for.
    fn get(&mut self, ms: i64, f: impl FnOnce(i64) -> T) -> T {
        match self.value {
            Some(v) if ms >= self.range.0 && ms < self.range.1 => v,
            _ => {
                let v = f(ms);
                // Near the ends of i64 a day is cut off: cache nothing there.
                self.range = match ms.div_euclid(DAY_MS).checked_mul(DAY_MS) {
                    Some(start) => (start, start.saturating_add(DAY_MS)),
                    None => (ms, ms),
                };
                self.value = Some(v);
                v
            }
        }
    }
}

/// Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday).
fn weekday(ms: i64) -> i64 {
    (ms.div_euclid(DAY_MS) + 3).rem_euclid(7)
}

/// A key that is equal for bars in the same period.
fn period_key(ms: i64, p: Period) -> i64 {
    let day = ms.div_euclid(DAY_MS);
    match p {
        Period::Day => day,
        Period::Week => day + (6 - weekday(ms)),
        Period::Month | Period::Year => {
            let (y, m) = chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| {
                    use chrono::Datelike;
                    (t.year() as i64, t.month() as i64)
                })
                .unwrap_or((0, 0));
            if p == Period::Month {
                y * 12 + m
            } else {
                y
            }
        }
    }
}

/// Simple returns between the last equity values of consecutive periods that
/// have bars (pandas: `resample(freq).last().dropna().pct_change().dropna()`).
pub fn period_returns(ts: &[Timestamp], equity: &[f64], p: Period) -> Vec<f64> {
    let mut out = Vec::new();
    let mut prev_last: Option<f64> = None;
    let mut cur: Option<(i64, f64)> = None;
    let mut day = DayCache::default();
    for (t, &e) in ts.iter().zip(equity) {
        let k = day.get(t.0, |ms| period_key(ms, p));
        match cur {
            Some((ck, _)) if ck == k => cur = Some((k, e)),
            Some((_, last)) => {
                if let Some(pl) = prev_last {
                    out.push(last / pl - 1.0);
                }
                prev_last = Some(last);
                cur = Some((k, e));
            }
            None => cur = Some((k, e)),
        }
    }
    if let (Some((_, last)), Some(pl)) = (cur, prev_last) {
        out.push(last / pl - 1.0);
    }
    out
}

/// backtesting.py's `geometric_mean`: 0 when any return is -100% or worse, NaN
/// for none.
pub fn geometric_mean(returns: &[f64]) -> f64 {
    if returns.iter().any(|r| r + 1.0 <= 0.0) {
        return 0.0;
    }
    if returns.is_empty() {
        return f64::NAN;
    }
    let s: f64 = returns.iter().map(|r| (r + 1.0).ln()).sum();
    (s / returns.len() as f64).exp() - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(ds: &[i64]) -> Vec<Timestamp> {
        ds.iter().map(|d| Timestamp(d * DAY_MS)).collect()
    }

    #[test]
    fn weekday_daily_bars_are_252_and_calendar_days_365() {
        // 1970-01-05 was a Monday: weekdays only.
        let wk: Vec<i64> = (0..200).map(|i| 4 + (i / 5) * 7 + i % 5).collect();
        assert_eq!(annualisation(&days(&wk)), (252.0, Period::Day));
        let all: Vec<i64> = (0..200).collect();
        assert_eq!(annualisation(&days(&all)), (365.0, Period::Day));
        let weekly: Vec<i64> = (0..50).map(|i| 7 * i).collect();
        assert_eq!(annualisation(&days(&weekly)), (52.0, Period::Week));
    }

    #[test]
    fn period_returns_take_the_last_value_of_each_period() {
        let h = 3_600_000;
        let ts: Vec<Timestamp> = [0, h, 2 * h, DAY_MS, DAY_MS + h, 3 * DAY_MS]
            .iter()
            .map(|&t| Timestamp(t))
            .collect();
        let eq = [100.0, 101.0, 102.0, 99.0, 110.0, 121.0];
        let r = period_returns(&ts, &eq, Period::Day);
        assert_eq!(r.len(), 2);
        assert!((r[0] - (110.0 / 102.0 - 1.0)).abs() < 1e-15);
        assert!((r[1] - 0.1).abs() < 1e-15);
    }

    /// Per-day caching gives every bar the key and weekday it has on its
    /// own, in order, out of order and across the epoch and the extremes.
    #[test]
    fn the_day_cache_is_the_per_bar_computation() {
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut ms: Vec<i64> = (0..5000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % (40 * DAY_MS as u64)) as i64 - 20 * DAY_MS
            })
            .collect();
        ms.extend([
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            -1,
            0,
            DAY_MS - 1,
            DAY_MS,
            -DAY_MS,
        ]);
        let mut sorted = ms.clone();
        sorted.sort_unstable();
        for ms in [ms, sorted] {
            for p in [Period::Day, Period::Week, Period::Month, Period::Year] {
                let mut day = DayCache::default();
                for &t in &ms {
                    assert_eq!(
                        day.get(t, |m| period_key(m, p)),
                        period_key(t, p),
                        "{t} {p:?}"
                    );
                }
            }
            let mut day = DayCache::default();
            for &t in &ms {
                assert_eq!(day.get(t, weekday), weekday(t), "{t}");
            }
        }
    }

    #[test]
    fn geometric_mean_of_a_wipeout_is_zero() {
        assert_eq!(geometric_mean(&[0.1, -1.0]), 0.0);
        assert!((geometric_mean(&[0.21, 0.0]) - 0.1).abs() < 1e-12);
        assert!(geometric_mean(&[]).is_nan());
    }
}
