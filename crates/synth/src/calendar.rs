//! When each kind of market trades: the bar times of a synthetic series, and where
//! in its session and week a bar falls (for the volatility profiles).

use serde::Serialize;

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// A kind of market, by its trading hours (all in UTC, no daylight saving).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Venue {
    /// Around the clock, every day (crypto).
    Continuous,
    /// Sunday 22:00 to Friday 22:00 (spot FX).
    FxWeek,
    /// Weekdays 14:30-21:00 (a US equity session): overnight and weekend gaps.
    EquitySession,
    /// Weekdays 01:30-03:30 and 05:00-07:00 (a Chinese A-share day with its lunch break).
    SplitSession,
    /// One bar per weekday at 00:00 (daily equity or index closes), a few holidays.
    DailyWeekdays,
}

impl Venue {
    /// The open sessions of a weekday, as [start, end) minutes of the UTC day;
    /// `dow` 0 = Monday. Daily bars and continuous markets say "all day".
    fn sessions(self, dow: i64) -> &'static [(i64, i64)] {
        const ALL: &[(i64, i64)] = &[(0, 1440)];
        const NONE: &[(i64, i64)] = &[];
        match self {
            Venue::Continuous => ALL,
            Venue::FxWeek => match dow {
                0..=3 => ALL,
                4 => &[(0, 22 * 60)],
                5 => NONE,
                _ => &[(22 * 60, 1440)],
            },
            Venue::EquitySession => match dow {
                0..=4 => &[(14 * 60 + 30, 21 * 60)],
                _ => NONE,
            },
            Venue::SplitSession => match dow {
                0..=4 => &[(90, 210), (300, 420)],
                _ => NONE,
            },
            Venue::DailyWeekdays => match dow {
                0..=4 => ALL,
                _ => NONE,
            },
        }
    }

    /// Whether a bar starting at `t` (ms since the epoch) lies inside a session.
    pub fn is_open(self, t: i64, interval: i64) -> bool {
        let day = t.div_euclid(DAY);
        // 1970-01-01 was a Thursday (3 with Monday = 0).
        let dow = (day + 3).rem_euclid(7);
        let minute = t.rem_euclid(DAY) / MINUTE;
        let end = minute + (interval / MINUTE).max(1);
        self.sessions(dow)
            .iter()
            .any(|&(a, b)| minute >= a && (end <= b || interval >= DAY))
    }

    /// Where in the trading day a bar falls, in [0, 1): the share of the day's open
    /// minutes before it. Continuous venues use the UTC clock.
    pub fn day_position(self, t: i64) -> f64 {
        let day = t.div_euclid(DAY);
        let dow = (day + 3).rem_euclid(7);
        let minute = t.rem_euclid(DAY) / MINUTE;
        let sessions = match self {
            Venue::Continuous | Venue::FxWeek | Venue::DailyWeekdays => {
                return minute as f64 / 1440.0
            }
            _ => self.sessions(dow),
        };
        let total: i64 = sessions.iter().map(|(a, b)| b - a).sum();
        let before: i64 = sessions
            .iter()
            .map(|&(a, b)| (minute.min(b) - a).max(0))
            .sum();
        if total == 0 {
            0.0
        } else {
            before as f64 / total as f64
        }
    }

    /// Open minutes in a typical trading day, to turn daily volatility into per-bar.
    pub fn minutes_per_day(self) -> f64 {
        match self {
            Venue::Continuous | Venue::FxWeek | Venue::DailyWeekdays => 1440.0,
            Venue::EquitySession => 390.0,
            Venue::SplitSession => 240.0,
        }
    }
}

/// Day of the week of `t`, 0 = Monday.
pub fn weekday(t: i64) -> usize {
    (t.div_euclid(DAY) + 3).rem_euclid(7) as usize
}

/// The next bar time after `t` at which the venue is open, stepping by `interval`
/// (holidays, if any, are the caller's: see [`crate::process`]).
pub fn next_open(venue: Venue, t: i64, interval: i64) -> i64 {
    let mut next = t + interval;
    // A week of steps always reaches an open bar on every venue; the bound only
    // guards the loop.
    for _ in 0..(7 * DAY / interval.max(MINUTE) + 2) {
        if venue.is_open(next, interval) {
            return next;
        }
        next += interval;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-01-01 00:00 UTC, a Monday.
    const MONDAY: i64 = 1_704_067_200_000;

    #[test]
    fn monday_is_day_zero() {
        assert_eq!(weekday(MONDAY), 0);
        assert_eq!(weekday(MONDAY + 6 * DAY), 6);
    }

    #[test]
    fn equity_sessions_skip_nights_and_weekends() {
        let v = Venue::EquitySession;
        let i = 30 * MINUTE;
        assert!(!v.is_open(MONDAY + 14 * HOUR, i));
        assert!(v.is_open(MONDAY + 14 * HOUR + 30 * MINUTE, i));
        // The last half hour starts at 20:30; 21:00 is closed.
        assert!(v.is_open(MONDAY + 20 * HOUR + 30 * MINUTE, i));
        assert!(!v.is_open(MONDAY + 21 * HOUR, i));
        // Friday's last bar is followed by Monday's first.
        let fri_last = MONDAY + 4 * DAY + 20 * HOUR + 30 * MINUTE;
        assert_eq!(
            next_open(v, fri_last, i),
            MONDAY + 7 * DAY + 14 * HOUR + 30 * MINUTE
        );
        assert!((v.day_position(MONDAY + 14 * HOUR + 30 * MINUTE)).abs() < 1e-12);
    }

    #[test]
    fn fx_week_and_lunch_break() {
        let fx = Venue::FxWeek;
        assert!(!fx.is_open(MONDAY + 5 * DAY + 12 * HOUR, HOUR));
        assert!(fx.is_open(MONDAY + 6 * DAY + 22 * HOUR, HOUR));
        assert!(!fx.is_open(MONDAY + 4 * DAY + 22 * HOUR, HOUR));
        let a = Venue::SplitSession;
        assert!(a.is_open(MONDAY + 3 * HOUR + 25 * MINUTE, 5 * MINUTE));
        assert!(!a.is_open(MONDAY + 4 * HOUR, 5 * MINUTE));
        assert_eq!(
            next_open(a, MONDAY + 3 * HOUR + 25 * MINUTE, 5 * MINUTE),
            MONDAY + 5 * HOUR
        );
        // Halfway through the day's 240 open minutes at the lunch break.
        assert!((a.day_position(MONDAY + 5 * HOUR) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn daily_bars_are_weekdays() {
        let d = Venue::DailyWeekdays;
        assert!(d.is_open(MONDAY, DAY));
        assert!(!d.is_open(MONDAY + 5 * DAY, DAY));
        assert_eq!(next_open(d, MONDAY + 4 * DAY, DAY), MONDAY + 7 * DAY);
    }
}
