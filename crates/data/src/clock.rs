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
    }
}
