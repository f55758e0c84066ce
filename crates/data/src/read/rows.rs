//! The row and record types both CSV paths (and the JSON and Parquet readers)
//! share: a scan writes into these whether it runs in one pass or in parts, so
//! neither path reaches into the other for them.

use super::time::Stamp;
use crate::error::Problem;
use std::collections::HashMap;

/// Problems found so far: the first `max` kept, all counted.
pub(super) struct Problems {
    pub(super) list: Vec<Problem>,
    pub(super) total: usize,
    pub(super) max: usize,
}

impl Problems {
    pub(super) fn new(max: usize) -> Problems {
        Problems {
            list: Vec::new(),
            total: 0,
            max: max.max(1),
        }
    }

    pub(super) fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.list.len() < self.max {
            self.list.push(p);
        }
    }
}

/// Everything parsed from the data rows, column by column, before ordering.
#[derive(Default)]
pub(super) struct Rows {
    /// Raw stamps: UTC or naive milliseconds, or packed `a/b/YYYY` parts.
    pub(super) ts: Vec<i64>,
    pub(super) open: Vec<f64>,
    pub(super) high: Vec<f64>,
    pub(super) low: Vec<f64>,
    pub(super) close: Vec<f64>,
    pub(super) volume: Vec<f64>,
    pub(super) symbol: Vec<u32>,
    /// The line of each row, as runs of consecutive lines.
    pub(super) line: LineMap,
}

/// Row index to line number, stored as the rows where the line does not follow
/// the row before (the first row, and rows after blank lines or refused rows)
/// with their lines: a clean file needs one entry, not one per row.
#[derive(Default)]
pub(super) struct LineMap {
    pub(super) runs: Vec<(usize, u64)>,
}

impl LineMap {
    /// Row `row` (the next one) is on `line`.
    pub(super) fn push(&mut self, row: usize, line: u64) {
        match self.runs.last() {
            Some(&(r0, l0)) if l0 + (row - r0) as u64 == line => {}
            _ => self.runs.push((row, line)),
        }
    }

    pub(super) fn get(&self, row: usize) -> u64 {
        let i = self.runs.partition_point(|&(r0, _)| r0 <= row);
        match i.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some(&(r0, l0)) => l0 + (row - r0) as u64,
            None => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StampKind {
    Naive,
    Aware,
    YearLast,
}

/// The fields of one record.
pub(super) trait Record {
    fn len(&self) -> usize;
    /// Field `i`, empty when there is none.
    fn field(&self, i: usize) -> &[u8];
    /// The timestamp, when the source has it typed (a Parquet datetime column):
    /// used instead of parsing the text, which a typed value does not have.
    fn stamp(&self) -> Option<Stamp> {
        None
    }
    /// Field `i` as a number, when the source has it typed; `None` parses the text
    /// (an empty field, as a null gives, is refused as an empty value).
    fn number(&self, _i: usize) -> Option<f64> {
        None
    }
}

impl Record for csv::ByteRecord {
    fn len(&self) -> usize {
        csv::ByteRecord::len(self)
    }
    fn field(&self, i: usize) -> &[u8] {
        self.get(i).unwrap_or_default()
    }
}

/// Where the scan puts good rows.
pub(super) trait Sink {
    fn push(&mut self, ts: i64, v: [f64; 5], symbol: Option<u32>, line: u64);
}

impl Sink for Rows {
    fn push(&mut self, ts: i64, v: [f64; 5], symbol: Option<u32>, line: u64) {
        self.line.push(self.ts.len(), line);
        self.ts.push(ts);
        self.open.push(v[0]);
        self.high.push(v[1]);
        self.low.push(v[2]);
        self.close.push(v[3]);
        self.volume.push(v[4]);
        if let Some(s) = symbol {
            self.symbol.push(s);
        }
    }
}

impl Rows {
    /// `n` rows of zeros (the parallel parts fill them in place).
    pub(super) fn zeroed(n: usize, symbols: bool) -> Rows {
        Rows {
            ts: vec![0; n],
            open: vec![0.0; n],
            high: vec![0.0; n],
            low: vec![0.0; n],
            close: vec![0.0; n],
            volume: vec![0.0; n],
            symbol: vec![0; if symbols { n } else { 0 }],
            line: LineMap::default(),
        }
    }

    pub(super) fn with_capacity(n: usize, symbols: bool) -> Rows {
        Rows {
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
            symbol: Vec::with_capacity(if symbols { n } else { 0 }),
            line: LineMap::default(),
        }
    }
}

pub(super) fn pack_year_last(a: u8, b: u8, year: i32, tod_ms: i64) -> i64 {
    ((year as i64) << 37) | ((a as i64) << 32) | ((b as i64) << 27) | tod_ms
}

pub(super) fn unpack_year_last(v: i64) -> (u8, u8, i32, i64) {
    (
        (v >> 32 & 31) as u8,
        (v >> 27 & 31) as u8,
        (v >> 37) as i32,
        v & ((1 << 27) - 1),
    )
}

/// What a scan found: the rows, the problems and the state the later steps need.
pub(super) struct Scanned {
    pub(super) rows: Rows,
    pub(super) problems: Problems,
    pub(super) kind: Option<(StampKind, u64)>,
    pub(super) first_offset: Option<i32>,
    pub(super) symbols: HashMap<Vec<u8>, u32>,
}

/// How a scan of one stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScanEnd {
    /// Read to the end; `newlines` counts the line ends seen.
    Done { newlines: u64 },
    /// Stopped at a problem that ends the read (a runaway line, unreadable CSV).
    Stopped,
    /// A quote in a parallel part: the parts are dropped for one pass.
    Aborted,
}
