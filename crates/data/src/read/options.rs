//! What a caller asks of a read and what it gets back: kept apart from the
//! readers so every format takes and returns the same types.

use super::columns::Role;
use super::time::DateFormat;
use crate::series::Panel;

/// Safe fixes a user may ask for; each row touched is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repair {
    /// Sort rows by time (stable), per symbol.
    pub sort: bool,
    /// Drop a row identical in every field to the row before it at the same time.
    pub dedupe: bool,
    /// Widen high and low to contain open and close: a few bars of real vendor
    /// files have a low a tick above the open (a 2,800-bar ETF file had 2).
    pub ohlc: bool,
    /// Of rows at the same time with different values, keep the one later in the
    /// file (appended exports put corrections last); exact copies are dropped too.
    pub keep_last: bool,
}

impl std::str::FromStr for Repair {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut r = Repair::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "sort" => r.sort = true,
                "dedupe" => r.dedupe = true,
                "ohlc" => r.ohlc = true,
                "keep-last" => r.keep_last = true,
                other => {
                    return Err(format!(
                        "unknown repair '{other}': use sort, dedupe, keep-last, ohlc, or several joined by commas (sort,dedupe)"
                    ))
                }
            }
        }
        Ok(r)
    }
}

/// How to read a file; every field has a default that suits clean exports.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Field delimiter; sniffed among `,` `;` tab `|` when `None`.
    pub delimiter: Option<u8>,
    /// Column roles in file order, for headerless files or to override a header.
    pub columns: Option<Vec<Role>>,
    pub date_format: Option<DateFormat>,
    /// Zone of naive timestamps; `None` reads them as UTC (and says so).
    pub tz: Option<chrono_tz::Tz>,
    pub repair: Repair,
    /// Problems listed before the rest are only counted.
    pub max_problems: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: None,
            columns: None,
            date_format: None,
            tz: None,
            repair: Repair::default(),
            max_problems: 20,
        }
    }
}

/// A row changed by `--repair`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RepairDone {
    pub line: u64,
    pub symbol: Option<String>,
    pub action: RepairAction,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RepairAction {
    /// Moved into time order.
    Sorted,
    /// Dropped as an exact copy of the row on `of_line`.
    DroppedDuplicate { of_line: u64 },
    /// Dropped for the row at the same time with other values on `kept_line`.
    DroppedConflict { kept_line: u64 },
    /// High and/or low widened to contain open and close: `[before, after]`.
    Widened {
        high: Option<[f64; 2]>,
        low: Option<[f64; 2]>,
    },
}

/// A file read successfully: its series and what was assumed or repaired.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: String,
    pub panel: Panel,
    /// Assumptions and recognised layouts (preamble, newest-first, zone), in words.
    pub notes: Vec<String>,
    pub repairs: Vec<RepairDone>,
}
