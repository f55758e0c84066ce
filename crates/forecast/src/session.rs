//! When a series' future bars happen: the session calendar learned from its own
//! history, so a forecast's bars (and the calendar inputs the model reads while it
//! rolls a path forward) land when the market trades: no Saturday bars for FX that
//! has none, none in an exchange's lunch break or overnight, none on a date the
//! history never trades on (New Year's Day for the S&P 500).
//!
//! The rule, all of it in the series' own wall-clock time ([`WallClock`]: its named
//! zone or offset, UTC for UTC and naive timestamps):
//!
//! - **Intraday bars** (median interval under a day): a *slot* is a time of the week
//!   (weekday and time of day). A slot is open when bars fell on it in at least half
//!   of the last [`SESSION_WINDOW_WEEKS`] weeks before the origin (of the weeks the
//!   history covers, if fewer): a recent majority, so a stray bar does not open a
//!   slot, a holiday does not close one, and a session that changed (a new trading
//!   hour, daylight saving in a UTC-stamped file) is followed within a few weeks.
//!   The next stamps step the bar interval from the last bar and skip every
//!   instant whose slot is closed.
//! - **Daily bars** (median interval of one day): the slots are the weekdays, under
//!   the same majority rule; stamps move by local dates and keep the last bar's
//!   local time of day (so a daily bar stamped at local midnight stays at local
//!   midnight across daylight saving).
//! - **Holidays**, for both: a calendar date (month and day) is closed when the
//!   history never has a bar on it although it fell on an open weekday inside the
//!   history in at least [`HOLIDAY_MIN_YEARS`] years (Jan 1 and Dec 25 for US
//!   stocks). Only fixed-date holidays are learned: moving ones (Easter, Thanksgiving,
//!   Lunar New Year) and a holiday observed on another day because its date fell on a
//!   weekend are not predicted, and those stamps fall on days the market is closed.
//! - **Everything else** steps the median interval: weekly and longer bars, a
//!   history shorter than [`SESSION_HISTORY_WEEKS`] weeks (too short to tell a closed
//!   slot from one that has not come up yet: then daily bars skip Saturday and
//!   Sunday only when the history has no weekend bar), and bars off one grid (when
//!   no open slot comes within [`PROBE_WEEKS`] weeks of stepping, the rest of the
//!   stamps step plainly).
//!
//! Every rule looks only at bars up to the origin, so an origin inside a series
//! (a backtest's) is stamped as the series cut at that origin would be. The
//! calendar is built once per series; each origin's stamps cost a few binary
//! searches per step.

use candlecast_data::{Series, Timestamp, WallClock};
use std::collections::HashMap;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Weeks of history (first bar to origin) needed before the calendar is used.
pub const SESSION_HISTORY_WEEKS: i64 = 4;
/// Weeks before the origin whose bars decide which slots are open: long enough that
/// a holiday week or two cannot close a slot, short enough that the sessions of a
/// UTC-stamped market follow its daylight-saving shift a few weeks after it.
pub const SESSION_WINDOW_WEEKS: i64 = 8;
/// Years in which a date must have been an open weekday without a bar before it is
/// taken as a holiday (three consecutive years cannot all put a date on a weekend).
pub const HOLIDAY_MIN_YEARS: usize = 3;
/// How far ahead (weeks) a stamp looks for an open slot before the calendar is
/// given up for plain stepping (longer than any fixed-date closure, such as the
/// A-share week from Oct 1).
pub const PROBE_WEEKS: i64 = 4;

/// Timestamps of the `horizon` bars after the last one, by the session calendar of
/// the series' history (see the module docs for the rule).
pub fn future_timestamps(series: &Series, horizon: usize) -> Vec<Timestamp> {
    match series.last_ts() {
        Some(last) => Stamper::of(series).after(last, horizon),
        None => vec![],
    }
}

/// How a series' future bars are stamped (see [`future_timestamps`]); the rollout
/// stamps a path's bars the same way to give them their calendar inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamper {
    step: i64,
    clock: WallClock,
    /// One bar a day: slots are weekdays and stamps move by local dates.
    daily: bool,
    /// The short-history rule for daily bars: skip weekends if the history has none.
    skip_weekends: bool,
    /// `None` for bars of a week or longer (and series without bars).
    calendar: Option<Arc<Calendar>>,
}

/// What the history says about its sessions, indexed so that any origin can ask
/// about the bars up to it.
#[derive(Debug, PartialEq)]
struct Calendar {
    /// Local time (ms) of the first bar.
    first: i64,
    /// Slot (local time of week, or weekday for daily bars) -> the local times of
    /// the bars on it, ascending.
    slots: HashMap<i64, Vec<i64>>,
    /// (month, day) -> the local time of the first bar on such a date.
    first_on_date: HashMap<(u32, u32), i64>,
}

/// 0 = Sunday, of a local day number (1970-01-01 was a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 4).rem_euclid(7)
}

impl Stamper {
    pub fn of(series: &Series) -> Stamper {
        let step = series.interval_ms().unwrap_or(DAY_MS).max(1);
        // An unknown zone name cannot reach here through the reader (it validates
        // --tz); if it does, the calendar is read in UTC.
        let clock = WallClock::of(&series.zone).unwrap_or(WallClock::UTC);
        let daily = step == DAY_MS;
        let local: Vec<i64> = series
            .timestamps()
            .iter()
            .map(|&t| clock.local_ms(t))
            .collect();
        let skip_weekends = daily
            && local
                .iter()
                .all(|t| !matches!(weekday(t.div_euclid(DAY_MS)), 0 | 6));
        let calendar = (step <= DAY_MS && !local.is_empty()).then(|| {
            let mut slots: HashMap<i64, Vec<i64>> = HashMap::new();
            let mut first_on_date = HashMap::new();
            for &t in &local {
                let slot = match daily {
                    true => weekday(t.div_euclid(DAY_MS)),
                    false => t.rem_euclid(WEEK_MS),
                };
                slots.entry(slot).or_default().push(t);
                let (_, m, d) = civil(t.div_euclid(DAY_MS));
                first_on_date
                    .entry((m, d))
                    .and_modify(|f: &mut i64| *f = (*f).min(t))
                    .or_insert(t);
            }
            // Local times repeat an hour when clocks go back: sort to search.
            for v in slots.values_mut() {
                v.sort_unstable();
            }
            Arc::new(Calendar {
                first: local.iter().copied().min().unwrap_or(0),
                slots,
                first_on_date,
            })
        });
        Stamper {
            step,
            clock,
            daily,
            skip_weekends,
            calendar,
        }
    }

    /// The `horizon` stamps after `last` (a bar of the series: the calendar uses the
    /// bars up to it).
    pub fn after(&self, last: Timestamp, horizon: usize) -> Vec<Timestamp> {
        let local_last = self.clock.local_ms(last);
        let view = self
            .calendar
            .as_deref()
            .filter(|c| local_last.saturating_sub(c.first) >= SESSION_HISTORY_WEEKS * WEEK_MS)
            .map(|c| View::new(c, local_last, self.daily));
        match view {
            Some(v) if self.daily => self.daily_after(local_last, horizon, v),
            Some(v) => self.intraday_after(last, horizon, v),
            None => self.plain_after(last, horizon),
        }
    }

    /// Today's rule before a calendar can be learned: the median interval apart,
    /// skipping weekends for daily bars whose history has none.
    fn plain_after(&self, last: Timestamp, horizon: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(horizon);
        let mut t = last.0;
        while out.len() < horizon {
            t = t.saturating_add(self.step);
            let day = self.clock.local_ms(Timestamp(t)).div_euclid(DAY_MS);
            if self.skip_weekends && matches!(weekday(day), 0 | 6) {
                continue;
            }
            out.push(Timestamp(t));
        }
        out
    }

    fn intraday_after(&self, last: Timestamp, horizon: usize, v: View) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(horizon);
        let mut view = Some(v);
        let limit = PROBE_WEEKS * WEEK_MS;
        let mut t = last.0;
        while out.len() < horizon {
            t = t.saturating_add(self.step);
            if let Some(v) = view.as_mut() {
                let mut probe = t;
                let found = loop {
                    if probe.saturating_sub(t) >= limit {
                        break None;
                    }
                    let local = self.clock.local_ms(Timestamp(probe));
                    if v.open_slot(local.rem_euclid(WEEK_MS))
                        && !v.closed_day(local.div_euclid(DAY_MS))
                    {
                        break Some(probe);
                    }
                    probe = probe.saturating_add(self.step);
                };
                match found {
                    Some(p) => t = p,
                    // Bars off the history's grid: step plainly from here on.
                    None => view = None,
                }
            }
            out.push(Timestamp(t));
        }
        out
    }

    fn daily_after(&self, local_last: i64, horizon: usize, v: View) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(horizon);
        let mut view = Some(v);
        let time_of_day = local_last.rem_euclid(DAY_MS);
        let mut day = local_last.div_euclid(DAY_MS);
        while out.len() < horizon {
            day = day.saturating_add(1);
            if let Some(v) = view.as_mut() {
                let found = (day..day.saturating_add(PROBE_WEEKS * 7))
                    .find(|&d| v.open_slot(weekday(d)) && !v.closed_day(d));
                match found {
                    Some(d) => day = d,
                    None => view = None,
                }
            }
            let local = day.saturating_mul(DAY_MS).saturating_add(time_of_day);
            out.push(Timestamp(self.clock.utc_ms(local)));
        }
        out
    }
}

/// The calendar as seen from one origin: only bars up to `last` count.
struct View<'a> {
    cal: &'a Calendar,
    last: i64,
    daily: bool,
    /// Bars a slot needs in the window to be open.
    need: usize,
    /// Weekdays with an open slot, when first asked (holidays only).
    open_days: Option<[bool; 7]>,
    /// Local day -> closed, as decided.
    days: HashMap<i64, bool>,
}

impl<'a> View<'a> {
    fn new(cal: &'a Calendar, last: i64, daily: bool) -> View<'a> {
        let weeks = (last.saturating_sub(cal.first) / WEEK_MS).clamp(1, SESSION_WINDOW_WEEKS);
        View {
            cal,
            last,
            daily,
            need: (weeks as usize).div_ceil(2),
            open_days: None,
            days: HashMap::new(),
        }
    }

    /// Bars fell on `slot` in at least half of the window's weeks.
    fn open_slot(&self, slot: i64) -> bool {
        let Some(times) = self.cal.slots.get(&slot) else {
            return false;
        };
        let from = self.last.saturating_sub(SESSION_WINDOW_WEEKS * WEEK_MS);
        let lo = times.partition_point(|&t| t <= from);
        let hi = times.partition_point(|&t| t <= self.last);
        hi.saturating_sub(lo) >= self.need
    }

    /// Local `day`'s date (month, day) is a learned holiday: no bar on it up to the
    /// origin, though it was an open weekday inside the history in enough years.
    fn closed_day(&mut self, day: i64) -> bool {
        if let Some(&c) = self.days.get(&day) {
            return c;
        }
        let (_, m, d) = civil(day);
        let traded = self
            .cal
            .first_on_date
            .get(&(m, d))
            .is_some_and(|&t| t <= self.last);
        let closed = !traded && {
            let open = self.open_days();
            let (first, last) = (
                self.cal.first.div_euclid(DAY_MS),
                self.last.div_euclid(DAY_MS),
            );
            let years = civil(first).0..=civil(last).0;
            years
                .filter_map(|y| days_from_civil(y, m, d))
                .filter(|&n| n >= first && n <= last && open[weekday(n) as usize])
                .count()
                >= HOLIDAY_MIN_YEARS
        };
        self.days.insert(day, closed);
        closed
    }

    fn open_days(&mut self) -> [bool; 7] {
        if let Some(o) = self.open_days {
            return o;
        }
        let mut open = [false; 7];
        for &slot in self.cal.slots.keys() {
            let wd = match self.daily {
                true => slot,
                false => weekday(slot.div_euclid(DAY_MS)),
            };
            if let Some(o) = open.get_mut(wd as usize) {
                *o = *o || self.open_slot(slot);
            }
        }
        self.open_days = Some(open);
        open
    }
}

/// (year, month, day) of a day number since 1970-01-01 (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of a date, `None` when the date does not exist (Feb 29 of a
/// common year).
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let leap = y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0);
    let len = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if d == 0 || d > len {
        return None;
    }
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candlecast_data::{read_path, Bar, ReadOptions, SourceZone};

    fn series_in(zone: SourceZone, ts: &[i64]) -> Series {
        let bars: Vec<Bar> = ts
            .iter()
            .map(|&t| Bar {
                ts: Timestamp(t),
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                volume: 0.0,
            })
            .collect();
        Series::from_bars(None, zone, &bars).unwrap()
    }

    fn series(ts: &[i64]) -> Series {
        series_in(SourceZone::Utc, ts)
    }

    /// A file of the repository's `data/` folder.
    fn data(file: &str) -> Series {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data")
            .join(file);
        let mut ds = read_path(&path, &ReadOptions::default()).unwrap();
        ds.panel.series.remove(0)
    }

    /// `YYYY-MM-DDTHH:MM` of a UTC instant.
    fn iso(t: Timestamp) -> String {
        let (y, m, d) = civil(t.0.div_euclid(DAY_MS));
        let tod = t.0.rem_euclid(DAY_MS) / 60_000;
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", tod / 60, tod % 60)
    }

    fn isos(ts: &[Timestamp]) -> Vec<String> {
        ts.iter().map(|&t| iso(t)).collect()
    }

    const H: i64 = 3_600_000;
    const DAY: i64 = 24 * H;
    /// 1970-01-05 was a Monday.
    const MONDAY: i64 = 4 * DAY;

    #[test]
    fn civil_dates_round_trip() {
        for day in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil(day);
            assert_eq!(days_from_civil(y, m, d), Some(day));
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2019, 1, 2), Some(17_898));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2024, 2, 29).map(civil), Some((2024, 2, 29)));
        assert_eq!(weekday(0), 4); // a Thursday
    }

    #[test]
    fn intraday_stamps_skip_hours_and_days_without_trading() {
        // Hourly bars 09:00..=16:00 on weekdays, for six weeks.
        let mut ts = vec![];
        for d in 0..42 {
            if d % 7 < 5 {
                for h in 9..=16 {
                    ts.push(MONDAY + d * DAY + h * H);
                }
            }
        }
        let s = series(&ts);
        let last = *ts.last().unwrap(); // a Friday, 16:00
        let f = future_timestamps(&s, 10);
        let expect: Vec<i64> = (9..=16)
            .map(|h| last - 16 * H + 3 * DAY + h * H)
            .chain([
                last - 16 * H + 4 * DAY + 9 * H,
                last - 16 * H + 4 * DAY + 10 * H,
            ])
            .collect();
        assert_eq!(f.iter().map(|t| t.0).collect::<Vec<_>>(), expect);
    }

    /// A stray bar (one Saturday, once) does not open its slot; a slot that
    /// stopped trading for good closes once most of the window lacks it.
    #[test]
    fn stray_bars_and_old_sessions_do_not_open_slots() {
        let mut ts = vec![];
        for d in 0..70 {
            if d % 7 < 5 {
                // 16:00 traded only in the first three weeks.
                let close = if d < 21 { 16 } else { 15 };
                for h in 9..=close {
                    ts.push(MONDAY + d * DAY + h * H);
                }
            }
        }
        ts.push(MONDAY + 68 * DAY + 12 * H); // a Saturday
        ts.sort_unstable();
        let s = series(&ts);
        let friday = MONDAY + 67 * DAY;
        let f = Stamper::of(&s).after(Timestamp(friday + 15 * H), 2);
        assert_eq!(
            f.iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![friday + 3 * DAY + 9 * H, friday + 3 * DAY + 10 * H]
        );
    }

    #[test]
    fn short_history_steps_plainly() {
        let ts: Vec<i64> = (0..100).map(|i| MONDAY + 9 * H + i * H).collect();
        let f = future_timestamps(&series(&ts), 3);
        let last = *ts.last().unwrap();
        assert_eq!(
            f.iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![last + H, last + 2 * H, last + 3 * H]
        );
    }

    /// FX hourly (UTC stamps): no Saturday, the week opens on Sunday at 22:00 UTC
    /// in winter and 21:00 UTC in summer (New York's daylight saving), and the
    /// calendar follows the season of the weeks before the origin.
    #[test]
    fn fx_hourly_opens_sunday_evening_and_never_on_saturday() {
        let s = data("eurusd_1h_ask_gymanytrading.csv");
        let f = future_timestamps(&s, 200);
        assert_eq!(
            isos(&f[..3]),
            ["2017-12-31T22:00", "2017-12-31T23:00", "2018-01-01T00:00"]
        );
        assert!(f.iter().all(|t| weekday(t.0.div_euclid(DAY_MS)) != 6));
        // Friday's last bar is 21:00 in winter: then Sunday 22:00 again.
        let fri = f
            .iter()
            .position(|t| iso(*t) == "2018-01-05T21:00")
            .unwrap();
        assert_eq!(iso(f[fri + 1]), "2018-01-07T22:00");
        // In summer, from Friday 2017-07-14 20:00 (the week's last bar): 21:00 Sunday.
        let ts = s.timestamps();
        let at = ts
            .iter()
            .position(|&t| iso(t) == "2017-07-14T20:00")
            .unwrap();
        let g = Stamper::of(&s).after(ts[at], 2);
        assert_eq!(isos(&g), ["2017-07-16T21:00", "2017-07-16T22:00"]);
    }

    /// A-share 5-minute bars, stamped in UTC at the bar's end: the morning session
    /// ends 03:30Z (11:30 Beijing), the afternoon runs 05:05Z..=07:00Z (13:05..=15:00).
    /// The stamps skip the lunch break, the night and the weekend; read in the
    /// exchange's own zone the calendar is the same.
    #[test]
    fn a_share_lunch_break_night_and_weekend() {
        let s = data("sh600977_5m_kronos.csv");
        assert_eq!(iso(s.last_ts().unwrap()), "2024-08-29T03:30"); // a Thursday
        let f = future_timestamps(&s, 48 + 24 + 1);
        assert_eq!(isos(&f[..2]), ["2024-08-29T05:05", "2024-08-29T05:10"]);
        assert_eq!(iso(f[23]), "2024-08-29T07:00");
        assert_eq!(iso(f[24]), "2024-08-30T01:35"); // Friday morning
        assert_eq!(iso(f[71]), "2024-08-30T07:00");
        assert_eq!(iso(f[72]), "2024-09-02T01:35"); // Monday
        let traded: std::collections::HashSet<i64> = s
            .timestamps()
            .iter()
            .map(|t| t.0.rem_euclid(DAY_MS))
            .collect();
        assert!(f.iter().all(|t| traded.contains(&t.0.rem_euclid(DAY_MS))));
        let bars: Vec<Bar> = s.bars().collect();
        let local = Series::from_bars(None, SourceZone::Named("Asia/Shanghai".into()), &bars);
        assert_eq!(future_timestamps(&local.unwrap(), 73), f);
    }

    /// SPX daily: the history (1999..2018) never trades on Jan 1, Dec 25 or Jul 4,
    /// so the stamps skip them as well as weekends.
    #[test]
    fn spx_daily_skips_weekends_and_fixed_holidays() {
        let s = data("spx_1d_arch.csv");
        let f = future_timestamps(&s, 4);
        assert_eq!(
            isos(&f),
            [
                "2019-01-02T00:00",
                "2019-01-03T00:00",
                "2019-01-04T00:00",
                "2019-01-07T00:00"
            ]
        );
        let ts = s.timestamps();
        let stamper = Stamper::of(&s);
        for (origin, next) in [
            ("2017-12-22", "2017-12-26"), // Christmas on a Monday
            ("2018-07-03", "2018-07-05"),
            ("2018-12-21", "2018-12-24"),
        ] {
            let at = ts.iter().position(|&t| iso(t).starts_with(origin)).unwrap();
            let got = stamper.after(ts[at], 1);
            assert_eq!(iso(got[0]), format!("{next}T00:00"), "after {origin}");
            // An origin inside the series is stamped as the series cut there.
            assert_eq!(
                future_timestamps(&s.slice(0..at + 1), 5),
                stamper.after(ts[at], 5)
            );
        }
    }

    /// Crypto trades around the clock: every hour, Saturdays included.
    #[test]
    fn crypto_hourly_steps_every_hour() {
        let s = data("btcusd_1h_coinbase_cdd.csv");
        let last = s.last_ts().unwrap().0;
        let f = future_timestamps(&s, 24 * 8);
        let want: Vec<i64> = (1..=24 * 8).map(|k| last + k * H).collect();
        assert_eq!(f.iter().map(|t| t.0).collect::<Vec<_>>(), want);
    }

    /// Daily bars at local midnight in New York keep local midnight across the
    /// change to daylight saving (05:00Z in winter, 04:00Z in summer).
    #[test]
    fn daily_bars_keep_local_time_across_daylight_saving() {
        let ny = SourceZone::Named("America/New_York".into());
        // Weekdays from Monday 2024-01-01 to Friday 2024-03-08, at 05:00Z.
        let start = days_from_civil(2024, 1, 1).unwrap();
        let ts: Vec<i64> = (0..68)
            .filter(|d| d % 7 < 5)
            .map(|d| (start + d) * DAY + 5 * H)
            .collect();
        assert_eq!(iso(Timestamp(*ts.last().unwrap())), "2024-03-08T05:00");
        let f = future_timestamps(&series_in(ny, &ts), 2);
        assert_eq!(isos(&f), ["2024-03-11T04:00", "2024-03-12T04:00"]);
    }
}
