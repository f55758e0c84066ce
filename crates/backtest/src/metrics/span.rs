//! Lengths of time the way backtesting.py reports them: pandas `Timedelta`s,
//! printed as pandas prints them ("3116 days 00:00:00"), and its durations
//! rounded up to the resolution of the bar spacing (`_round_timedelta`).

use candlecast_data::Timestamp;
use serde::{Serialize, Serializer};
use std::fmt;

const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// A length of time in nanoseconds (pandas' unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub i64);

impl Span {
    /// From `a` to `b`.
    pub fn between(a: Timestamp, b: Timestamp) -> Span {
        Span((b.0 - a.0).saturating_mul(MS))
    }

    pub fn from_ms(ms: i64) -> Span {
        Span(ms.saturating_mul(MS))
    }

    /// Whole days, rounded down (pandas `Timedelta.days`).
    pub fn days(self) -> i64 {
        self.0.div_euclid(DAY)
    }

    /// Whole seconds after the whole days (pandas `Timedelta.seconds`, 0..86399).
    pub fn seconds(self) -> i64 {
        self.0.rem_euclid(DAY) / SEC
    }

    /// The unit pandas rounds a duration to when the bars are `self` apart: the
    /// finest non-zero component of the spacing (`Timedelta.resolution_string`:
    /// a day for daily bars, an hour for hourly, a minute for 15-minute bars).
    pub fn resolution(self) -> i64 {
        [DAY, HOUR, MIN, SEC, MS, US]
            .into_iter()
            .find(|&u| self.0 % u == 0)
            .unwrap_or(1)
    }

    /// Rounded up to a multiple of `unit` (`Timedelta.ceil`).
    pub fn ceil(self, unit: i64) -> Span {
        if unit <= 1 {
            return self;
        }
        Span(self.0.div_euclid(unit) * unit + if self.0.rem_euclid(unit) > 0 { unit } else { 0 })
    }

    /// The mean of `spans` as pandas takes it from microsecond timedeltas (the
    /// unit pandas 3 parses these files to): the sum in float64, divided, and
    /// truncated to whole microseconds. `None` for no spans (NaT).
    pub fn mean(spans: impl IntoIterator<Item = Span>) -> Option<Span> {
        let (mut sum_us, mut n) = (0.0f64, 0usize);
        for s in spans {
            sum_us += (s.0 / US) as f64;
            n += 1;
        }
        (n > 0).then(|| Span((sum_us / n as f64).trunc() as i64 * US))
    }
}

impl fmt::Display for Span {
    /// pandas' `str(Timedelta)`: `D days HH:MM:SS[.ffffff[fff]]`; a negative span
    /// as whole negative days plus a positive remainder (`-1 days +23:00:00`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY);
        let rest = self.0.rem_euclid(DAY);
        let (h, m, s) = (rest / HOUR, rest % HOUR / MIN, rest % MIN / SEC);
        let sub = rest % SEC;
        write!(
            f,
            "{days} days {}{h:02}:{m:02}:{s:02}",
            if days < 0 { "+" } else { "" }
        )?;
        if sub != 0 {
            if sub % US == 0 {
                write!(f, ".{:06}", sub / US)
            } else {
                write!(f, ".{sub:09}")
            }
        } else {
            Ok(())
        }
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_pandas() {
        // Each string is what str(pd.Timedelta(...)) printed (pandas 3.1.1).
        assert_eq!(Span(3116 * DAY).to_string(), "3116 days 00:00:00");
        assert_eq!(Span(294 * DAY + 6 * HOUR).to_string(), "294 days 06:00:00");
        assert_eq!(Span(0).to_string(), "0 days 00:00:00");
        assert_eq!(Span(1500 * MS).to_string(), "0 days 00:00:01.500000");
        assert_eq!(Span(1).to_string(), "0 days 00:00:00.000000001");
        assert_eq!(Span(-HOUR).to_string(), "-1 days +23:00:00");
    }

    #[test]
    fn resolution_and_ceil_follow_pandas() {
        assert_eq!(Span(DAY).resolution(), DAY);
        assert_eq!(Span(0).resolution(), DAY);
        assert_eq!(Span(DAY + 12 * HOUR).resolution(), HOUR);
        assert_eq!(Span(15 * MIN).resolution(), MIN);
        assert_eq!(Span(DAY + 1).ceil(DAY), Span(2 * DAY));
        assert_eq!(Span(2 * DAY).ceil(DAY), Span(2 * DAY));
        assert_eq!(Span(90 * MIN).ceil(HOUR), Span(2 * HOUR));
    }

    #[test]
    fn mean_truncates_to_microseconds() {
        let m = Span::mean([Span(1), Span(2 * US), Span(2 * US)]).unwrap();
        assert_eq!(m, Span(US));
        assert_eq!(Span::mean([]), None);
        assert_eq!(Span(3 * DAY + 7 * SEC).days(), 3);
        assert_eq!(Span(3 * DAY + 7 * SEC).seconds(), 7);
    }
}
