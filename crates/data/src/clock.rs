//! Local wall-clock time of a series: what the calendar inputs of the model read
//! (time of day and day of week in the market's own zone, not in UTC).

use crate::bar::Timestamp;
use crate::series::SourceZone;
use chrono::{Offset, TimeZone};

/// Converts a series' UTC timestamps to its local wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WallClock(Zone);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    /// Milliseconds east of UTC.
    Fixed(i64),
    /// A named zone, with its daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl WallClock {
    /// The clock of UTC (and of naive times read as UTC).
    pub const UTC: WallClock = WallClock(Zone::Fixed(0));

    /// The clock of a series' zone: UTC for `Utc` and `AssumedUtc` (naive times read
    /// as UTC are their own wall clock), the offset for `Offset`, the named zone's
    /// rules for `Named`; `None` for a zone name chrono-tz does not know.
    pub fn of(zone: &SourceZone) -> Option<WallClock> {
        Some(WallClock(match zone {
            SourceZone::Utc | SourceZone::AssumedUtc => Zone::Fixed(0),
            SourceZone::Offset(secs) => Zone::Fixed(i64::from(*secs) * 1000),
            SourceZone::Named(name) => Zone::Named(name.parse().ok()?),
        }))
    }

    /// Local time of `ts` as milliseconds since 1970-01-01T00:00 local: its
    /// `rem_euclid(day)` is the time of day, its `div_euclid(day)` the local date.
    pub fn local_ms(&self, ts: Timestamp) -> i64 {
        match self.0 {
            Zone::Fixed(off) => ts.0.saturating_add(off),
            Zone::Named(tz) => {
                // Out of chrono's range (years beyond +-262143): taken as UTC.
                let off = chrono::DateTime::from_timestamp_millis(ts.0).map_or(0, |d| {
                    tz.offset_from_utc_datetime(&d.naive_utc())
                        .fix()
                        .local_minus_utc()
                });
                ts.0.saturating_add(i64::from(off) * 1000)
            }
        }
    }

    /// The UTC instant (ms) of local wall-clock time `local` (ms since 1970-01-01T00:00
    /// local), the inverse of [`WallClock::local_ms`]: lets a forecast step daily bars
    /// by local dates and keep their local time of day across daylight saving. A
    /// local time that occurs twice (clocks going back) is its earlier instant; one
    /// that does not occur (clocks going forward) is read an hour later, where the
    /// same wall-clock reading exists again. Out of chrono's range: taken as UTC.
    pub fn utc_ms(&self, local: i64) -> i64 {
        match self.0 {
            Zone::Fixed(off) => local.saturating_sub(off),
            Zone::Named(tz) => {
                use chrono::LocalResult;
                let Some(naive) = chrono::DateTime::from_timestamp_millis(local) else {
                    return local;
                };
                let naive = naive.naive_utc();
                let at = |n: chrono::NaiveDateTime| match tz.from_local_datetime(&n) {
                    LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
                        Some(d.timestamp_millis())
                    }
                    LocalResult::None => None,
                };
                at(naive)
                    .or_else(|| at(naive + chrono::TimeDelta::hours(1)))
                    .unwrap_or(local)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_daylight_saving() {
        let hour = 3_600_000;
        // 2024-07-01T12:00Z and 2024-01-15T12:00Z.
        let (summer, winter) = (Timestamp(1_719_835_200_000), Timestamp(1_705_320_000_000));
        let ny = WallClock::of(&SourceZone::Named("America/New_York".into()));
        let ny = ny.unwrap_or(WallClock(Zone::Fixed(0)));
        assert_eq!(ny.local_ms(summer), summer.0 - 4 * hour);
        assert_eq!(ny.local_ms(winter), winter.0 - 5 * hour);
        let plus2 = WallClock::of(&SourceZone::Offset(7200)).unwrap_or(WallClock(Zone::Fixed(0)));
        assert_eq!(plus2.local_ms(winter), winter.0 + 2 * hour);
        for z in [SourceZone::Utc, SourceZone::AssumedUtc] {
            assert_eq!(
                WallClock::of(&z).map(|c| c.local_ms(summer)),
                Some(summer.0)
            );
        }
        assert_eq!(
            WallClock::of(&SourceZone::Named("Mars/Olympus".into())),
            None
        );
        // Back from local time: both seasons, a fixed offset, and the two edges of
        // daylight saving (2024-03-10 02:30 does not exist in New York; 2024-11-03
        // 01:30 occurs twice).
        for t in [summer, winter] {
            assert_eq!(ny.utc_ms(ny.local_ms(t)), t.0);
            assert_eq!(plus2.utc_ms(plus2.local_ms(t)), t.0);
        }
        let spring_gap = 1_710_037_800_000; // 2024-03-10T02:30 as if UTC
        assert_eq!(ny.utc_ms(spring_gap), 1_710_055_800_000); // 03:30 EDT = 07:30Z
        let fall_twice = 1_730_597_400_000; // 2024-11-03T01:30 as if UTC
        assert_eq!(ny.utc_ms(fall_twice), 1_730_611_800_000); // 01:30 EDT = 05:30Z
    }
}
