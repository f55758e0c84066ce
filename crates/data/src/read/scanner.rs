//! The row-by-row parse every reader shares (CSV in one pass or in parts, JSON,
//! Parquet): one record in, one checked row or its problems out.

use super::columns::{Layout, TsSource};
use super::rows::{pack_year_last, Problems, Record, Rows, Scanned, Sink, StampKind};
use super::time::{self, DateFormat, Shape, Stamp};
use super::ReadOptions;
use crate::bar::{check_input_values, BarField, BarViolation};
use crate::error::{ColumnRef, Problem};
use std::collections::HashMap;

/// The row-by-row parse shared by every reader, with the state that crosses rows.
/// `shape` and `kind` are set once, by the first row that decides them, and never
/// change after: a later part of a file can start from them (see [`super::parallel`]).
pub(super) struct Scanner<'a> {
    layout: &'a Layout,
    ts_col: usize,
    fields: [(usize, BarField); 4],
    /// The timestamp shape and the line of the first row it was recognised on.
    pub(super) shape: Option<(Shape, u64)>,
    /// Zone or not, and the line of the first timestamp that parsed.
    pub(super) kind: Option<(StampKind, u64)>,
    /// The offset of the first timestamp with a zone.
    pub(super) first_offset: Option<i32>,
    pub(super) symbols: HashMap<Vec<u8>, u32>,
    ts_buf: String,
    days: time::DayCache,
    /// `--repair ohlc`: a high/low that does not contain the body is kept for
    /// [`super::finish`] instead of refused.
    widen: bool,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(layout: &'a Layout, opts: &ReadOptions) -> Scanner<'a> {
        Scanner {
            layout,
            ts_col: ts_column(layout),
            fields: [
                (layout.open, BarField::Open),
                (layout.high, BarField::High),
                (layout.low, BarField::Low),
                (layout.close, BarField::Close),
            ],
            shape: match &opts.date_format {
                Some(DateFormat::Strftime(p)) => Some((Shape::Strftime(p.clone()), 0)),
                _ => None,
            },
            kind: None,
            first_offset: None,
            symbols: HashMap::new(),
            ts_buf: String::new(),
            days: time::DayCache::default(),
            widen: opts.repair.ohlc,
        }
    }

    pub(super) fn into_scanned(self, rows: Rows, problems: Problems) -> Scanned {
        Scanned {
            rows,
            problems,
            kind: self.kind,
            first_offset: self.first_offset,
            symbols: self.symbols,
        }
    }

    /// Parses and checks one record found on `line`: a good row goes to `rows`, a
    /// bad one only to `problems`. Every part of a row is checked even after one
    /// fails, so a row reports all its bad fields at once.
    pub(super) fn row<S: Sink>(
        &mut self,
        rec: &impl Record,
        line: u64,
        rows: &mut S,
        problems: &mut Problems,
    ) {
        let layout = self.layout;
        if rec.len() == 1 && rec.field(0).trim_ascii().is_empty() {
            return; // a blank line (`\r` only, in CRLF files)
        }
        if rec.len() != layout.ncols {
            problems.push(field_count(rec.len(), layout.ncols, line));
            return;
        }
        let before = problems.total;
        let raw_ts = self.timestamp(rec, line, problems);
        let v = self.values(rec, line, problems);
        if problems.total == before {
            self.check_bar(&v, line, problems);
        }
        let sym = self.symbol_id(rec, line, problems);
        if problems.total > before {
            return;
        }
        rows.push(raw_ts, v, layout.symbol.map(|_| sym), line);
    }

    /// The row's raw stamp (see [`Rows::ts`]), or 0 with the problem pushed.
    #[inline]
    fn timestamp(&mut self, rec: &impl Record, line: u64, problems: &mut Problems) -> i64 {
        // A typed timestamp, or the text (date and time columns are joined).
        let stamp = match rec.stamp() {
            Some(st) => Ok(st),
            None => match stamp_text(self.layout.ts, rec, &mut self.ts_buf) {
                None => Err("not valid UTF-8".to_string()),
                Some("") => Err("empty timestamp".to_string()),
                Some(t) => parse_stamp(&mut self.shape, &mut self.days, t, line),
            },
        };
        match stamp {
            Ok(st) => self.stamp_value(st, line, problems),
            Err(msg) => {
                problems.push(Problem::at(line, column(self.layout, self.ts_col), msg));
                0
            }
        }
    }

    /// A parsed stamp as the raw value, fixing the file's kind (zone or not) on
    /// the first one: a later stamp of the other kind is refused.
    #[inline]
    fn stamp_value(&mut self, st: Stamp, line: u64, problems: &mut Problems) -> i64 {
        let (k, v) = match st {
            Stamp::Naive(v) => (StampKind::Naive, v),
            Stamp::Aware {
                utc_ms,
                offset_secs,
            } => {
                self.first_offset.get_or_insert(offset_secs);
                (StampKind::Aware, utc_ms)
            }
            Stamp::YearLast { a, b, year, tod_ms } => {
                (StampKind::YearLast, pack_year_last(a, b, year, tod_ms))
            }
        };
        match self.kind {
            None => self.kind = Some((k, line)),
            Some((k0, l0)) if k0 != k => problems.push(mixed_zone(
                line,
                column(self.layout, self.ts_col),
                (k, k0, l0),
            )),
            Some(_) => {}
        }
        v
    }

    /// Open, high, low, close and volume; a field that does not parse stays 0 with
    /// its problem pushed.
    #[inline]
    fn values(&self, rec: &impl Record, line: u64, problems: &mut Problems) -> [f64; 5] {
        let layout = self.layout;
        let mut v = [0.0f64; 5];
        for (slot, &(i, _)) in v.iter_mut().zip(self.fields.iter()) {
            if let Some(x) = field_number(rec, i, line, layout, problems) {
                *slot = x;
            }
        }
        if let Some(i) = layout.volume {
            if let Some(x) = field_number(rec, i, line, layout, problems) {
                v[4] = x;
            }
        }
        v
    }

    /// Refuses values no bar can have, at the column of the field at fault; with
    /// `--repair ohlc` a high/low that misses the body passes, to be widened later.
    #[inline]
    fn check_bar(&self, v: &[f64; 5], line: u64, problems: &mut Problems) {
        let Err(violation) = check_input_values(v[0], v[1], v[2], v[3], v[4]) else {
            return;
        };
        let layout = self.layout;
        let i = match violation.field() {
            BarField::Volume => layout.volume.unwrap_or(layout.close),
            f => self
                .fields
                .iter()
                .find(|(_, g)| *g == f)
                .map_or(layout.close, |(i, _)| *i),
        };
        match violation {
            BarViolation::HighBelowBody { .. } | BarViolation::LowAboveBody { .. } => {
                if !self.widen {
                    problems.push(Problem::at(
                        line,
                        column(layout, i),
                        format!(
                            "{violation}; --repair ohlc widens high/low to contain open and close"
                        ),
                    ));
                }
            }
            _ => problems.push(Problem::at(line, column(layout, i), violation.to_string())),
        }
    }

    /// The row's symbol id (0 without a symbol column), numbering new symbols in
    /// the order they first appear.
    #[inline]
    fn symbol_id(&mut self, rec: &impl Record, line: u64, problems: &mut Problems) -> u32 {
        let Some(i) = self.layout.symbol else {
            return 0;
        };
        let s = rec.field(i).trim_ascii();
        if s.is_empty() {
            problems.push(Problem::at(line, column(self.layout, i), "empty symbol"));
            0
        } else if let Some(&id) = self.symbols.get(s) {
            id
        } else {
            let id = self.symbols.len() as u32;
            self.symbols.insert(s.to_vec(), id);
            id
        }
    }
}

/// The timestamp text of a record: its one column, or the date and time columns
/// joined in `buf` (reused across rows, so no allocation per row). `None` when
/// not UTF-8.
#[inline]
fn stamp_text<'r>(ts: TsSource, rec: &'r impl Record, buf: &'r mut String) -> Option<&'r str> {
    match ts {
        TsSource::Single(i) => std::str::from_utf8(rec.field(i).trim_ascii()).ok(),
        TsSource::Split { date, time } => {
            buf.clear();
            match (
                std::str::from_utf8(rec.field(date).trim_ascii()),
                std::str::from_utf8(rec.field(time).trim_ascii()),
            ) {
                (Ok(d), Ok(t)) => {
                    buf.push_str(d);
                    buf.push(' ');
                    buf.push_str(t);
                    Some(buf.as_str())
                }
                _ => None,
            }
        }
    }
}

/// Parses timestamp text in the file's shape, which the first stamp that has one
/// decides (`shape` is set then, with its line, and kept).
#[inline]
fn parse_stamp(
    shape: &mut Option<(Shape, u64)>,
    days: &mut time::DayCache,
    t: &str,
    line: u64,
) -> Result<Stamp, String> {
    if shape.is_none() {
        *shape = time::detect(t).map(|s| (s, line));
    }
    match &*shape {
        None => Err(format!(
            "unrecognised timestamp '{t}': accepted are ISO 8601, M/D/YYYY, DD.MM.YYYY, YYYYMMDD HHMMSS and epoch seconds/milliseconds, or give --date-format"
        )),
        Some((s, first_line)) => {
            time::parse_with(s, t, days).map_err(|why| bad_stamp(s, *first_line, t, why))
        }
    }
}

/// Why `t` did not parse in `shape`: another shape (mixed formats) or a bad value.
#[cold]
fn bad_stamp(s: &Shape, first_line: u64, t: &str, why: &str) -> String {
    match time::detect(t) {
        Some(other) if &other != s => format!(
            "mixed date formats: '{t}' looks like {other}, but line {first_line} was {s}"
        ),
        _ if matches!(s, Shape::Strftime(_)) => format!("bad timestamp '{t}': {why}"),
        _ => format!(
            "bad timestamp '{t}': {why}; for another layout give --date-format with a strftime pattern (e.g. '%Y-%m-%d %I-%p' for '2020-01-01 09-PM')"
        ),
    }
}

/// A stamp of kind `k` after the file's first, of kind `k0` on line `l0`.
#[cold]
fn mixed_zone(
    line: u64,
    col: Option<ColumnRef>,
    (k, k0, l0): (StampKind, StampKind, u64),
) -> Problem {
    let what = |k| {
        if k == StampKind::Aware {
            "with a zone"
        } else {
            "without a zone"
        }
    };
    Problem::at(
        line,
        col,
        format!(
            "mixed date formats: this timestamp is {}, line {l0}'s is {}",
            what(k),
            what(k0)
        ),
    )
}

#[cold]
fn field_count(n: usize, ncols: usize, line: u64) -> Problem {
    Problem::at(
        line,
        None,
        format!("{n} field(s), expected {ncols} like the header"),
    )
}

/// Field `i` as a number, or `None` with its problem pushed.
#[inline(always)]
fn field_number(
    rec: &impl Record,
    i: usize,
    line: u64,
    layout: &Layout,
    problems: &mut Problems,
) -> Option<f64> {
    match rec
        .number(i)
        .map_or_else(|| parse_number(rec.field(i).trim_ascii()), Ok)
    {
        Ok(x) => Some(x),
        Err(msg) => {
            problems.push(Problem::at(line, column(layout, i), msg));
            None
        }
    }
}

/// Column `i` (0-based) as messages name it.
pub(super) fn column(layout: &Layout, i: usize) -> Option<ColumnRef> {
    Some(ColumnRef {
        index: i + 1,
        name: layout.name(i),
    })
}

pub(super) fn ts_column(layout: &Layout) -> usize {
    match layout.ts {
        TsSource::Single(i) | TsSource::Split { date: i, .. } => i,
    }
}

/// A number field: the fast path inline (the five of a row then overlap), the rest
/// out of line.
#[inline(always)]
pub(super) fn parse_number(b: &[u8]) -> Result<f64, String> {
    match plain_decimal(b) {
        Some(x) => Ok(x),
        None => parse_number_slow(b),
    }
}

#[inline(never)]
fn parse_number_slow(b: &[u8]) -> Result<f64, String> {
    if b.is_empty() {
        return Err("empty value".into());
    }
    // fast-float2 parses the bytes directly (correctly rounded, like std's parser)
    // and skips the UTF-8 check std's `str::parse` needs: a third of the read time.
    match fast_float2::parse::<f64, _>(b).ok() {
        Some(x) => Ok(x),
        None => Err(format!(
            "'{}' is not a number",
            String::from_utf8_lossy(&b[..b.len().min(40)])
        )),
    }
}

/// Powers of ten that are exact in an `f64`.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Plain decimals (`42`, `1.05155`: digits on both sides of at most one point, 15
/// digits at most) by Clinger's fast path: the digits as an integer below 2^53
/// and 10^k are both exact, so the one division is correctly rounded, the same
/// value as fast-float2's (or std's). Anything else is `None`. Prices are nearly
/// always of this form, and this is several times faster than the general parser.
#[inline(always)]
fn plain_decimal(b: &[u8]) -> Option<f64> {
    let mut m: u64 = 0;
    let mut digits = 0usize;
    let mut point: Option<usize> = None;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            m = m * 10 + u64::from(d);
            digits += 1;
            if digits > 15 {
                return None;
            }
        } else if c == b'.' && point.is_none() {
            point = Some(digits);
        } else {
            return None;
        }
    }
    let k = match point {
        None => 0,
        Some(p) if p > 0 && p < digits => digits - p,
        Some(_) => return None,
    };
    if digits == 0 {
        return None;
    }
    Some(m as f64 / *EXACT_POW10.get(k)?)
}

#[cfg(test)]
mod tests {
    use super::{parse_number, plain_decimal};

    /// The fast path gives std's value, bit for bit, and declines what it does not cover.
    #[test]
    fn plain_decimals_match_std() {
        let same = |s: &str| {
            let want = s.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(
                parse_number(s.as_bytes()).ok().map(f64::to_bits),
                want,
                "{s}"
            );
            if let Some(x) = plain_decimal(s.as_bytes()) {
                assert_eq!(Some(x.to_bits()), want, "{s}");
            }
        };
        for s in [
            "0",
            "00.5",
            "1.05155",
            "999999999999999",
            "99999999999999.9",
            "0.000000000000001",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "1.",
            ".5",
            "1.2.3",
            "-1.5",
            "+2",
            "1e5",
            "inf",
            "NaN",
            "",
            "0.1",
            "0.3",
            "2.675",
            "1.0000000000000002",
        ] {
            same(s);
        }
        assert_eq!(plain_decimal(b"1."), None);
        assert_eq!(plain_decimal(b".5"), None);
        assert_eq!(plain_decimal(b"1234567890123456"), None);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 15 + 1) as usize;
            let point = (x >> 8) as usize % (digits + 1);
            let mut s: String = (0..digits)
                .map(|i| char::from(b'0' + ((x >> (i * 4 % 60)) % 10) as u8))
                .collect();
            if point > 0 && point < digits {
                s.insert(point, '.');
            }
            same(&s);
        }
    }
}
