//! Resampling to a coarser bar interval.
//!
//! Buckets are aligned to the Unix epoch (so `1d` buckets are UTC days and `1h`
//! buckets start on the hour) and labelled by their start: a bar stamped 10:00 in
//! a `1h` resample holds the source bars stamped 10:00 up to 10:59. open = first,
//! high = max, low = min, close = last, volume = sum; buckets with no source bar
//! are skipped, never filled.

use crate::bar::{Bar, Timestamp};
use crate::series::Series;
use std::fmt;

/// A bar interval such as `5m`, `1h` or `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    ms: i64,
}

impl Interval {
    pub fn from_millis(ms: i64) -> Option<Interval> {
        (ms > 0).then_some(Interval { ms })
    }
    pub fn millis(self) -> i64 {
        self.ms
    }
}

impl std::str::FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let n: i64 = n
            .parse()
            .map_err(|_| format!("'{s}' is not an interval: use e.g. 30s, 5m, 1h, 1d"))?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(format!("'{s}': unknown unit '{unit}'; use s, m, h, d or w")),
        };
        n.checked_mul(unit_ms)
            .and_then(Interval::from_millis)
            .ok_or_else(|| format!("'{s}' is not a positive interval"))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.ms;
        for (unit, size) in [
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

/// Why a resample was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample {from} bars to {to}: the target must be coarser than the source")]
    NotCoarser { from: Interval, to: Interval },
}

/// Aggregates `series` into `every`-sized buckets (see the module docs).
pub fn resample(series: &Series, every: Interval) -> Result<Series, ResampleError> {
    if let Some(from) = series.interval_ms().and_then(Interval::from_millis) {
        if every.ms < from.ms {
            return Err(ResampleError::NotCoarser { from, to: every });
        }
    }
    let mut out = Series::with_capacity(series.symbol.clone(), series.zone.clone(), series.len());
    let mut cur: Option<Bar> = None;
    for b in series.bars() {
        let start = Timestamp(b.ts.0.div_euclid(every.ms) * every.ms);
        match &mut cur {
            Some(c) if c.ts == start => {
                c.high = c.high.max(b.high);
                c.low = c.low.min(b.low);
                c.close = b.close;
                c.volume += b.volume;
            }
            _ => {
                if let Some(done) = cur.take() {
                    out.push_unchecked(done);
                }
                cur = Some(Bar { ts: start, ..b });
            }
        }
    }
    if let Some(done) = cur {
        out.push_unchecked(done);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::SourceZone;

    fn minute(i: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
        Bar {
            ts: Timestamp(i * 60_000),
            open: o,
            high: h,
            low: l,
            close: c,
            volume: 1.0,
        }
    }

    #[test]
    fn aggregates_first_max_min_last_sum_and_skips_empty_buckets(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let bars = [
            minute(0, 1.0, 2.0, 0.5, 1.5),
            minute(1, 1.5, 3.0, 1.0, 2.0),
            minute(4, 2.0, 2.5, 0.2, 1.0),
            // 5..9 missing entirely: no bucket
            minute(10, 1.0, 1.1, 0.9, 1.05),
        ];
        let s = Series::from_bars(None, SourceZone::Utc, &bars)?;
        let r = resample(&s, "5m".parse()?)?;
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.bar(0),
            Some(Bar {
                ts: Timestamp(0),
                open: 1.0,
                high: 3.0,
                low: 0.2,
                close: 1.0,
                volume: 3.0
            })
        );
        assert_eq!(r.bar(1).map(|b| b.ts), Some(Timestamp(600_000)));
        assert!(r.bars().all(|b| b.check().is_ok()));
        assert!(matches!(
            resample(&r, "1m".parse()?),
            Err(ResampleError::NotCoarser { .. })
        ));
        Ok(())
    }

    #[test]
    fn interval_text() {
        assert_eq!("5m".parse::<Interval>().map(|i| i.millis()), Ok(300_000));
        assert_eq!(
            "1d".parse::<Interval>().map(|i| i.to_string()),
            Ok("1d".into())
        );
        assert_eq!(
            Interval::from_millis(5_400_000).map(|i| i.to_string()),
            Some("90m".into())
        );
        assert!("0h".parse::<Interval>().is_err());
        assert!("5x".parse::<Interval>().is_err());
        assert!("h".parse::<Interval>().is_err());
    }
}
