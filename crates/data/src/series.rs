//! Columnar OHLCV series and multi-symbol panels.

use crate::bar::{Bar, Timestamp};
use std::fmt;

/// Where the timestamps of a series came from, so a user can see what was assumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceZone {
    /// The source stamped UTC explicitly (`Z`, `+00:00`) or used epoch numbers.
    Utc,
    /// The source carried a fixed offset, e.g. `+02:00` (seconds east of UTC).
    Offset(i32),
    /// Naive local times localised with `--tz`.
    Named(String),
    /// Naive times (or dates) read as UTC because nothing said otherwise.
    AssumedUtc,
}

impl fmt::Display for SourceZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceZone::Utc => f.write_str("UTC"),
            SourceZone::Offset(secs) => {
                let sign = if *secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
            }
            SourceZone::Named(name) => f.write_str(name),
            SourceZone::AssumedUtc => f.write_str("naive, read as UTC"),
        }
    }
}

/// One instrument's bars, column by column.
///
/// Columnar because every consumer (tokenizer, baselines, backtester) walks one
/// field at a time, and because views (`slice`) then cost nothing. Timestamps are
/// strictly increasing and every bar satisfies [`Bar::check`]; the readers and
/// [`Series::from_bars`] are the only ways in and both enforce that.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub symbol: Option<String>,
    pub zone: SourceZone,
    ts: Vec<Timestamp>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

/// Why [`Series::from_bars`] refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    #[error("bar {index} ({ts}): {violation}")]
    InvalidBar {
        index: usize,
        ts: Timestamp,
        violation: crate::bar::BarViolation,
    },
    #[error("bar {index} ({ts}) is not after the previous bar ({prev})")]
    NotIncreasing {
        index: usize,
        ts: Timestamp,
        prev: Timestamp,
    },
}

impl Series {
    /// Builds a series from bars, checking every invariant the type promises.
    pub fn from_bars(
        symbol: Option<String>,
        zone: SourceZone,
        bars: &[Bar],
    ) -> Result<Series, SeriesError> {
        let mut s = Series::with_capacity(symbol, zone, bars.len());
        for (index, b) in bars.iter().enumerate() {
            b.check().map_err(|violation| SeriesError::InvalidBar {
                index,
                ts: b.ts,
                violation,
            })?;
            if let Some(&prev) = s.ts.last() {
                if b.ts <= prev {
                    return Err(SeriesError::NotIncreasing {
                        index,
                        ts: b.ts,
                        prev,
                    });
                }
            }
            s.push_unchecked(*b);
        }
        Ok(s)
    }

    pub(crate) fn with_capacity(symbol: Option<String>, zone: SourceZone, n: usize) -> Series {
        Series {
            symbol,
            zone,
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    /// Columns the caller has checked (every bar valid, times increasing).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_columns_unchecked(
        symbol: Option<String>,
        zone: SourceZone,
        ts: Vec<Timestamp>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        volume: Vec<f64>,
    ) -> Series {
        Series {
            symbol,
            zone,
            ts,
            open,
            high,
            low,
            close,
            volume,
        }
    }

    /// Callers have checked the bar and its order.
    pub(crate) fn push_unchecked(&mut self, b: Bar) {
        self.ts.push(b.ts);
        self.open.push(b.open);
        self.high.push(b.high);
        self.low.push(b.low);
        self.close.push(b.close);
        self.volume.push(b.volume);
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn timestamps(&self) -> &[Timestamp] {
        &self.ts
    }
    pub fn open(&self) -> &[f64] {
        &self.open
    }
    pub fn high(&self) -> &[f64] {
        &self.high
    }
    pub fn low(&self) -> &[f64] {
        &self.low
    }
    pub fn close(&self) -> &[f64] {
        &self.close
    }
    pub fn volume(&self) -> &[f64] {
        &self.volume
    }

    /// The bar at `i`, or `None` past the end.
    pub fn bar(&self, i: usize) -> Option<Bar> {
        Some(Bar {
            ts: *self.ts.get(i)?,
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        })
    }

    pub fn bars(&self) -> impl ExactSizeIterator<Item = Bar> + '_ {
        let prices = self
            .open
            .iter()
            .zip(&self.high)
            .zip(&self.low)
            .zip(&self.close);
        self.ts.iter().zip(prices).zip(&self.volume).map(
            |((&ts, (((&open, &high), &low), &close)), &volume)| Bar {
                ts,
                open,
                high,
                low,
                close,
                volume,
            },
        )
    }

    pub fn first_ts(&self) -> Option<Timestamp> {
        self.ts.first().copied()
    }

    pub fn last_ts(&self) -> Option<Timestamp> {
        self.ts.last().copied()
    }

    /// A copy of bars `range` (clamped to the series). Splits such as train/test
    /// take the head; the invariants of a slice hold because they hold for the whole.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Series {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Series {
            symbol: self.symbol.clone(),
            zone: self.zone.clone(),
            ts: self.ts[start..end].to_vec(),
            open: self.open[start..end].to_vec(),
            high: self.high[start..end].to_vec(),
            low: self.low[start..end].to_vec(),
            close: self.close[start..end].to_vec(),
            volume: self.volume[start..end].to_vec(),
        }
    }

    /// The bar spacing, taken as the median of consecutive differences: robust to
    /// weekends, nights and holidays, which are gaps rather than the interval.
    pub fn interval_ms(&self) -> Option<i64> {
        if self.len() < 2 {
            return None;
        }
        let mut d: Vec<i64> = self.ts.windows(2).map(|w| w[1].0 - w[0].0).collect();
        let mid = d.len() / 2;
        let (_, m, _) = d.select_nth_unstable(mid);
        Some(*m)
    }

    /// Consecutive differences larger than the interval: missing bars, but also
    /// closed sessions, which a consumer may treat differently.
    pub fn gap_count(&self) -> usize {
        match self.interval_ms() {
            Some(iv) => self.ts.windows(2).filter(|w| w[1].0 - w[0].0 > iv).count(),
            None => 0,
        }
    }
}

/// Many symbols read from one long-format file, in symbol order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    pub series: Vec<Series>,
}

impl Panel {
    pub fn get(&self, symbol: &str) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| s.symbol.as_deref() == Some(symbol))
    }

    pub fn rows(&self) -> usize {
        self.series.iter().map(Series::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(t: i64, c: f64) -> Bar {
        Bar {
            ts: Timestamp(t),
            open: c,
            high: c,
            low: c,
            close: c,
            volume: 0.0,
        }
    }

    #[test]
    fn from_bars_enforces_order_and_validity() {
        let ok = Series::from_bars(None, SourceZone::Utc, &[b(1, 1.0), b(2, 2.0)]);
        assert_eq!(ok.map(|s| s.len()), Ok(2));
        let dup = Series::from_bars(None, SourceZone::Utc, &[b(1, 1.0), b(1, 2.0)]);
        assert!(matches!(
            dup,
            Err(SeriesError::NotIncreasing { index: 1, .. })
        ));
        let bad = Series::from_bars(None, SourceZone::Utc, &[b(1, -1.0)]);
        assert!(matches!(bad, Err(SeriesError::InvalidBar { index: 0, .. })));
    }

    #[test]
    fn interval_is_median_spacing_and_gaps_exceed_it() -> Result<(), SeriesError> {
        let ts = [0, 60, 120, 180, 600, 660];
        let bars: Vec<Bar> = ts.iter().map(|&t| b(t * 1000, 1.0)).collect();
        let s = Series::from_bars(None, SourceZone::Utc, &bars)?;
        assert_eq!(s.interval_ms(), Some(60_000));
        assert_eq!(s.gap_count(), 1);
        assert_eq!(s.slice(1..3).len(), 2);
        assert_eq!(s.slice(5..100).len(), 1);
        Ok(())
    }
}
