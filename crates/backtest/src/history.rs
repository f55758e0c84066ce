//! What a strategy may look at: the bars up to and including the decision bar.

use candlecast_data::{Series, Timestamp};

/// A read-only view of the first `len` bars of a series.
///
/// The strategy gets this instead of the series so that looking ahead is not
/// something a strategy can do by mistake: every accessor stops at the decision
/// bar (backtesting.py's `_set_length`, nautilus' `ts_init`).
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    series: &'a Series,
    len: usize,
}

impl<'a> History<'a> {
    /// The first `len` bars of `series` (all of it when `len` is larger).
    pub fn new(series: &'a Series, len: usize) -> History<'a> {
        History {
            series,
            len: len.min(series.len()),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Index of the decision bar (the last visible one).
    pub fn now(&self) -> Option<usize> {
        self.len.checked_sub(1)
    }

    pub fn timestamps(&self) -> &'a [Timestamp] {
        &self.series.timestamps()[..self.len]
    }
    pub fn open(&self) -> &'a [f64] {
        &self.series.open()[..self.len]
    }
    pub fn high(&self) -> &'a [f64] {
        &self.series.high()[..self.len]
    }
    pub fn low(&self) -> &'a [f64] {
        &self.series.low()[..self.len]
    }
    pub fn close(&self) -> &'a [f64] {
        &self.series.close()[..self.len]
    }
    pub fn volume(&self) -> &'a [f64] {
        &self.series.volume()[..self.len]
    }

    /// The visible bars as a series of their own, for code that takes a
    /// [`Series`] (the forecaster). Copies `len` bars.
    pub fn to_series(&self) -> Series {
        self.series.slice(0..self.len)
    }

    pub fn symbol(&self) -> Option<&'a str> {
        self.series.symbol.as_deref()
    }
}
