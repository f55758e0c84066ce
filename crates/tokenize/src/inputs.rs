//! Inputs beyond the bar token: per-token ids of the model's extra input channels,
//! aligned with [`Encoded::tokens`] (a `START` or `GAP` token takes the ids of the
//! bar it stands for). The model sums one embedding per channel into the token
//! embedding; it still predicts bar tokens only.
//!
//! - **Calendar** (`calendar = true`): two channels of fixed size, the same for
//!   every series, so one pretrained model serves every interval. `time_of_day`:
//!   0 = not applicable, 1..=48 the half hour of the bar's local time (its stamp in
//!   the series' own zone, daylight saving included), used when the series'
//!   interval is under a day. `day_of_week`: 0 = not applicable, 1..=7 Monday to
//!   Sunday, used when the interval is under a week. Monthly or weekly bars get 0
//!   in both. The interval is the lower median of the series' first 32 spacings
//!   seen so far (as the gap rule takes it), so a bar's ids depend on bars up to it
//!   only; bar 0 has no spacing yet and gets 0 in both.
//! - **Relative volume** (`volume_input_bins = N > 0`): the bar's volume over its
//!   EWMA level of the bars before it (the ratio of the volume token factor, same
//!   function, same `volume_lambda`), in N equal-frequency bins fitted on the
//!   training bars: ids 1..=N. Id 0 = "no volume": every bar until the series'
//!   first positive volume, so a file without volume is 0 throughout. Bar 0 with
//!   volume has no level to compare with and takes the neutral bin.
//!
//! - **Volatility regime** (`regime_input_bins = N > 0`): two channels of N ids,
//!   last in the order, from the scale and range after the bar (see the `regime`
//!   module).
//!
//! Bars after a forecast origin ([`Tokenizer::future_inputs`]) get the calendar
//! of their stamped timestamps and the **neutral** volume bin, the one that holds
//! ratio 1 ("volume at its usual level"): the model predicts bar tokens, not
//! volume, so a path has no volume of its own to bin. The regime ids are not
//! there: they follow each path's own bars, so the rollout appends them per path
//! ([`Tokenizer::regime_ids`], [`Tokenizer::n_path_inputs`]).

use crate::error::TokenizeError;
use crate::regime::{self, RegimeState};
use crate::scale::VolState;
use crate::tokenizer::{Encoded, Tokenizer};
use crate::volume::volume_ratio;
use candlecast_data::{Series, Timestamp, WallClock};

/// Name and size of the time-of-day channel.
pub const TIME_OF_DAY: (&str, usize) = ("time_of_day", 1 + 48);
/// Name and size of the day-of-week channel.
pub const DAY_OF_WEEK: (&str, usize) = ("day_of_week", 1 + 7);
/// Name of the relative-volume channel (size `volume_input_bins + 1`).
pub const VOLUME: &str = "volume";

const DAY_MS: i64 = 86_400_000;
const HALF_HOUR_MS: i64 = 1_800_000;
/// Spacings that fix a series' interval (as in the gap rule).
const INTERVAL_SAMPLE: usize = 32;

/// The lower median of the first [`INTERVAL_SAMPLE`] spacings seen so far.
#[derive(Default)]
struct Interval {
    sorted: Vec<i64>,
}

impl Interval {
    fn observe(&mut self, dt_ms: i64) {
        if self.sorted.len() < INTERVAL_SAMPLE {
            let at = self.sorted.partition_point(|&x| x <= dt_ms);
            self.sorted.insert(at, dt_ms);
        }
    }

    fn get(&self) -> Option<i64> {
        self.sorted
            .get(self.sorted.len().checked_sub(1)? / 2)
            .copied()
    }

    /// The estimate after bars `0..=last` of `ts`.
    fn upto(ts: &[Timestamp], last: usize) -> Interval {
        let mut iv = Interval::default();
        let end = (last + 1).min(ts.len()).min(INTERVAL_SAMPLE + 1);
        for w in ts[..end].windows(2) {
            iv.observe(w[1].0 - w[0].0);
        }
        iv
    }
}

/// `(time_of_day, day_of_week)` ids of a bar stamped `ts` in a series of interval
/// `interval` (`None`: not known yet).
fn calendar(clock: &WallClock, interval: Option<i64>, ts: Timestamp) -> [u32; 2] {
    let Some(iv) = interval else {
        return [0, 0];
    };
    let local = clock.local_ms(ts);
    let tod = match iv < DAY_MS {
        true => 1 + (local.rem_euclid(DAY_MS) / HALF_HOUR_MS) as u32,
        false => 0,
    };
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
    let dow = match iv < 7 * DAY_MS {
        true => 1 + (local.div_euclid(DAY_MS) + 3).rem_euclid(7) as u32,
        false => 0,
    };
    [tod, dow]
}

impl Tokenizer {
    /// The extra input channels this tokenizer's config asks for, as (name, number
    /// of ids): what the model's `[model] inputs` must be.
    pub fn input_channels(&self) -> Vec<(String, usize)> {
        let c = self.config();
        let mut out = Vec::new();
        if c.calendar {
            out.push((TIME_OF_DAY.0.to_string(), TIME_OF_DAY.1));
            out.push((DAY_OF_WEEK.0.to_string(), DAY_OF_WEEK.1));
        }
        if c.volume_input_bins > 0 {
            out.push((VOLUME.to_string(), c.volume_input_bins as usize + 1));
        }
        if c.regime_input_bins > 0 {
            let n = c.regime_input_bins as usize;
            out.push((crate::regime::VOL_LEVEL.to_string(), n));
            out.push((crate::regime::RANGE_VOL.to_string(), n));
        }
        out
    }

    /// Number of input channels (ids per token).
    pub fn n_inputs(&self) -> usize {
        let c = self.config();
        2 * usize::from(c.calendar)
            + usize::from(c.volume_input_bins > 0)
            + 2 * usize::from(c.regime_input_bins > 0)
    }

    /// The volume id of the neutral bin (ratio 1: volume at its usual level).
    fn neutral_volume(&self) -> u32 {
        self.state
            .volume_input
            .as_ref()
            .map_or(0, |q| 1 + q.bin(1.0) as u32)
    }

    fn clock(&self, series: &Series) -> Result<Option<WallClock>, TokenizeError> {
        if !self.config().calendar {
            return Ok(None);
        }
        WallClock::of(&series.zone)
            .map(Some)
            .ok_or_else(|| TokenizeError::UnknownZone(series.zone.to_string()))
    }

    /// The input ids of every token of `enc` (the encoding of `series`), `n_inputs()`
    /// per token, token by token, channels in [`Tokenizer::input_channels`] order.
    /// Empty when no channel is on. A bar's ids depend on bars up to it only.
    pub fn input_ids(&self, series: &Series, enc: &Encoded) -> Result<Vec<u32>, TokenizeError> {
        let c = self.n_inputs();
        if c == 0 {
            return Ok(vec![]);
        }
        let clock = self.clock(series)?;
        let (ts, vol) = (series.timestamps(), series.volume());
        let lambda = self.config().volume_lambda;
        let neutral = self.neutral_volume();
        let mut per_bar: Vec<u32> = Vec::with_capacity(ts.len() * c);
        let mut interval = Interval::default();
        let mut level = vol.first().copied().unwrap_or(0.0);
        let mut seen = false;
        let regime = self.regime_per_bar(series);
        for (t, (&stamp, &v)) in ts.iter().zip(vol).enumerate() {
            if t > 0 {
                interval.observe(stamp.0 - ts[t - 1].0);
            }
            if let Some(clock) = &clock {
                per_bar.extend(calendar(clock, interval.get(), stamp));
            }
            if let Some(q) = &self.state.volume_input {
                let r = match t {
                    0 => 1.0,
                    _ => volume_ratio(&mut level, lambda, v),
                };
                seen |= v > 0.0;
                per_bar.push(match (seen, t) {
                    (false, _) => 0,
                    (true, 0) => neutral,
                    (true, _) => 1 + q.bin(r) as u32,
                });
            }
            if self.state.regime_input.is_some() {
                per_bar.extend(regime.get(t).copied().unwrap_or([0, 0]));
            }
        }
        let mut out = Vec::with_capacity(enc.len() * c);
        for &b in &enc.bar {
            let at = b as usize * c;
            let ids = per_bar
                .get(at..at + c)
                .ok_or(TokenizeError::ScaleSequence(format!(
                    "token of bar {b} in a series of {} bars",
                    ts.len()
                )))?;
            out.extend_from_slice(ids);
        }
        Ok(out)
    }

    /// What the input ids of bars after bar `origin` of `series` depend on besides
    /// their timestamps: the zone, the interval as known at the origin, and for
    /// volume the neutral bin (or 0 while the series has shown no volume up to the
    /// origin). `None` when no channel is on.
    pub fn future_inputs(
        &self,
        series: &Series,
        origin: usize,
    ) -> Result<Option<FutureInputs>, TokenizeError> {
        if self.n_inputs() == 0 {
            return Ok(None);
        }
        let vol = series.volume();
        let volume = self.state.volume_input.as_ref().map(|_| {
            match vol[..(origin + 1).min(vol.len())].iter().any(|&v| v > 0.0) {
                true => self.neutral_volume(),
                false => 0,
            }
        });
        Ok(Some(FutureInputs {
            clock: self.clock(series)?,
            interval: Interval::upto(series.timestamps(), origin).get(),
            volume,
        }))
    }
}

impl Tokenizer {
    /// Number of input channels whose ids follow a path's own draws (the regime's,
    /// when on): the last ones of [`Tokenizer::input_channels`].
    pub fn n_path_inputs(&self) -> usize {
        2 * usize::from(self.state.regime_input.is_some())
    }

    /// The regime state at a series start (`None` when the regime inputs are off),
    /// for callers that extend a series bar by bar: `observe` every bar, bar 0
    /// included.
    pub fn regime_state(&self) -> Option<RegimeState> {
        self.state
            .regime_input
            .as_ref()
            .map(|_| RegimeState::new(self.state.initial_variance, self.config().ewma_lambda))
    }

    /// The regime ids after a bar, from the scale state and regime state that have
    /// taken it in (nothing when the regime inputs are off).
    pub fn regime_ids(&self, vs: &VolState, rs: &RegimeState) -> Option<[u32; 2]> {
        let bins = self.state.regime_input.as_ref()?;
        Some(regime::ids(bins, vs, rs))
    }

    /// The regime ids of every bar of `series` (empty when off).
    fn regime_per_bar(&self, series: &Series) -> Vec<[u32; 2]> {
        let Some(bins) = self.state.regime_input.as_ref() else {
            return vec![];
        };
        let c = self.config();
        regime::ids_per_bar(
            bins,
            &self.vol_params(),
            c.gap_multiple,
            c.ewma_lambda,
            series,
        )
    }
}

/// The input ids of a forecast's future bars, from their stamped timestamps: see
/// [`Tokenizer::future_inputs`].
#[derive(Debug, Clone, PartialEq)]
pub struct FutureInputs {
    clock: Option<WallClock>,
    interval: Option<i64>,
    volume: Option<u32>,
}

impl FutureInputs {
    /// The ids of bars stamped `stamps`, in the layout of [`Tokenizer::input_ids`].
    pub fn ids(&self, stamps: &[Timestamp]) -> Vec<u32> {
        let mut out = Vec::new();
        for &stamp in stamps {
            if let Some(clock) = &self.clock {
                out.extend(calendar(clock, self.interval, stamp));
            }
            out.extend(self.volume);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candlecast_data::SourceZone;

    #[test]
    fn calendar_buckets_follow_the_interval_and_zone() {
        let utc = WallClock::of(&SourceZone::Utc).unwrap_or_else(|| unreachable!());
        // Monday 2024-01-15 13:45 UTC.
        let t = Timestamp(1_705_326_300_000);
        assert_eq!(calendar(&utc, Some(60_000), t), [1 + 27, 1]);
        assert_eq!(calendar(&utc, Some(3_600_000), t), [28, 1]);
        assert_eq!(calendar(&utc, Some(DAY_MS), t), [0, 1]);
        assert_eq!(calendar(&utc, Some(7 * DAY_MS), t), [0, 0]);
        assert_eq!(calendar(&utc, Some(30 * DAY_MS), t), [0, 0]);
        assert_eq!(calendar(&utc, None, t), [0, 0]);
        // Sunday 23:59 -> Sunday (7), last half hour (48).
        assert_eq!(
            calendar(&utc, Some(60_000), Timestamp(1_705_276_740_000)),
            [48, 7]
        );
        // Tokyo (+9): 13:45 UTC Monday is 22:45 Monday.
        let tokyo = WallClock::of(&SourceZone::Offset(9 * 3600)).unwrap_or_else(|| unreachable!());
        assert_eq!(calendar(&tokyo, Some(300_000), t), [1 + 45, 1]);
        // New York keeps its local hours across daylight saving: 09:30 local is
        // 14:30 UTC in winter and 13:30 UTC in summer, the same bucket (20).
        let ny = WallClock::of(&SourceZone::Named("America/New_York".into()))
            .unwrap_or_else(|| unreachable!());
        let winter = Timestamp(1_705_329_000_000); // 2024-01-15T14:30Z, Monday
        let summer = Timestamp(1_720_013_400_000); // 2024-07-03T13:30Z, Wednesday
        assert_eq!(calendar(&ny, Some(60_000), winter), [20, 1]);
        assert_eq!(calendar(&ny, Some(60_000), summer), [20, 3]);
        // Before 1970 too.
        assert_eq!(calendar(&utc, Some(DAY_MS), Timestamp(-DAY_MS)), [0, 3]);
    }

    #[test]
    fn the_interval_is_causal_and_settles() {
        let ts: Vec<Timestamp> = [0, 60, 120, 600, 660, 720]
            .iter()
            .map(|&s| Timestamp(s * 1000))
            .collect();
        assert_eq!(Interval::upto(&ts, 0).get(), None);
        assert_eq!(Interval::upto(&ts, 1).get(), Some(60_000));
        assert_eq!(Interval::upto(&ts, 3).get(), Some(60_000));
        assert_eq!(Interval::upto(&ts, 99).get(), Some(60_000));
    }
}
