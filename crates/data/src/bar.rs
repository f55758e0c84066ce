//! One OHLCV bar and the invariants every bar in candlecast satisfies.

use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
///
/// Milliseconds cover every format we accept (`.fff` is the finest seen in real
/// exports) and keep arithmetic on intervals exact, unlike floating seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// RFC 3339 in UTC with a `Z` suffix; milliseconds only when non-zero, so daily
    /// and minute bars print the way exchanges write them.
    pub fn to_rfc3339(self) -> String {
        use chrono::{DateTime, SecondsFormat};
        match DateTime::from_timestamp_millis(self.0) {
            Some(dt) if self.0.rem_euclid(1000) == 0 => {
                dt.to_rfc3339_opts(SecondsFormat::Secs, true)
            }
            Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("@{}ms", self.0),
        }
    }

    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// One price bar. Prices are in the instrument's quote currency; `volume` is in
/// whatever unit the source used (shares, contracts, base currency, ticks).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bar {
    pub ts: Timestamp,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// Largest price accepted. With [`MIN_PRICE`] this bounds every product, ratio and
/// square the forecasting and backtesting arithmetic forms: a ratio of two prices is
/// at most 1e27, its square 1e54, and a sum of squared prices over 2^24 bars about
/// 1.7e37, all far from f64's 1.8e308. A bar at 1.7e308 passed the finite check,
/// then made a backtest's `price * position` overflow to infinity and spin. No
/// quoted instrument comes near 1e15 (a currency after hyperinflation is redenominated
/// first); a column in such units can be rescaled before reading.
pub const MAX_PRICE: f64 = 1e15;
/// Smallest price accepted: 1e-12 still covers satoshi-quoted pairs (1e-8 and
/// below), and keeps a high/low ratio below 1e27 together with [`MAX_PRICE`].
pub const MIN_PRICE: f64 = 1e-12;
/// Largest volume accepted: above the most traded token counts in base units
/// (about 1e14 a day), and 1e18 * 1e15 (notional) squared stays below 1e67.
pub const MAX_VOLUME: f64 = 1e18;

/// Which bar invariant was broken; [`Bar::check`] returns the first one found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarField {
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl BarField {
    pub fn name(self) -> &'static str {
        match self {
            BarField::Open => "open",
            BarField::High => "high",
            BarField::Low => "low",
            BarField::Close => "close",
            BarField::Volume => "volume",
        }
    }
}

/// A broken bar invariant, with the values that broke it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BarViolation {
    NotFinite {
        field: BarField,
        value: f64,
    },
    NotPositive {
        field: BarField,
        value: f64,
    },
    NegativeVolume {
        value: f64,
    },
    /// Finite and of the right sign, but outside `MIN_PRICE..=MAX_PRICE` (or above
    /// `MAX_VOLUME`), where arithmetic on it could overflow.
    OutOfRange {
        field: BarField,
        value: f64,
    },
    HighBelowBody {
        high: f64,
        body_max: f64,
    },
    LowAboveBody {
        low: f64,
        body_min: f64,
    },
}

impl BarViolation {
    /// The field to blame in an error message (the one a person would fix).
    pub fn field(&self) -> BarField {
        match *self {
            BarViolation::NotFinite { field, .. }
            | BarViolation::NotPositive { field, .. }
            | BarViolation::OutOfRange { field, .. } => field,
            BarViolation::NegativeVolume { .. } => BarField::Volume,
            BarViolation::HighBelowBody { .. } => BarField::High,
            BarViolation::LowAboveBody { .. } => BarField::Low,
        }
    }
}

impl fmt::Display for BarViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BarViolation::NotFinite { field, value } => {
                write!(f, "{} is {value}, not a finite number", field.name())
            }
            BarViolation::NotPositive { field, value } => {
                write!(f, "{} is {value}; prices must be > 0", field.name())
            }
            BarViolation::NegativeVolume { value } => write!(f, "volume is {value}; must be >= 0"),
            BarViolation::OutOfRange {
                field: BarField::Volume,
                value,
            } => write!(
                f,
                "volume is {value:e}, above the supported {MAX_VOLUME:e}, where arithmetic on it could overflow; if it is real, rescale the column (e.g. thousands)"
            ),
            BarViolation::OutOfRange { field, value } => write!(
                f,
                "{} is {value:e}, outside the supported {MIN_PRICE:e}..{MAX_PRICE:e} for prices, where arithmetic on it could overflow; if it is real, rescale the price columns",
                field.name()
            ),
            BarViolation::HighBelowBody { high, body_max } => {
                write!(f, "high {high} is below max(open, close) = {body_max}")
            }
            BarViolation::LowAboveBody { low, body_min } => {
                write!(f, "low {low} is above min(open, close) = {body_min}")
            }
        }
    }
}

impl Bar {
    /// A bar only if every invariant holds (see [`Bar::check`]).
    pub fn new_checked(
        ts: Timestamp,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Bar, BarViolation> {
        let bar = Bar {
            ts,
            open,
            high,
            low,
            close,
            volume,
        };
        bar.check().map(|()| bar)
    }

    /// Checks the invariants every consumer relies on: finite values, positive prices
    /// (log-returns need them), non-negative volume, and a high/low that bound the
    /// body. `high >= low` follows from the last two.
    pub fn check(&self) -> Result<(), BarViolation> {
        check_values(self.open, self.high, self.low, self.close, self.volume)
    }
}

/// [`Bar::check`] on loose values, so columnar readers need not build a `Bar`.
pub fn check_values(
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
) -> Result<(), BarViolation> {
    let prices = [
        (BarField::Open, open),
        (BarField::High, high),
        (BarField::Low, low),
        (BarField::Close, close),
    ];
    for (field, value) in prices.into_iter().chain([(BarField::Volume, volume)]) {
        if !value.is_finite() {
            return Err(BarViolation::NotFinite { field, value });
        }
    }
    for (field, value) in prices {
        if value <= 0.0 {
            return Err(BarViolation::NotPositive { field, value });
        }
    }
    if volume < 0.0 {
        return Err(BarViolation::NegativeVolume { value: volume });
    }
    let body_max = open.max(close);
    if high < body_max {
        return Err(BarViolation::HighBelowBody { high, body_max });
    }
    let body_min = open.min(close);
    if low > body_min {
        return Err(BarViolation::LowAboveBody { low, body_min });
    }
    Ok(())
}

/// [`check_values`] and the input bounds ([`MIN_PRICE`], [`MAX_PRICE`],
/// [`MAX_VOLUME`]): what every bar read from a file must pass. The bounds are not
/// part of [`Bar::check`]: bars decoded from forecasts may wander past them in the
/// tails, and need only be finite, positive and well-formed.
pub fn check_input_values(
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
) -> Result<(), BarViolation> {
    match check_values(open, high, low, close, volume) {
        // Bounds first: `--repair ohlc` keeps a bar whose only fault is its body.
        Err(BarViolation::HighBelowBody { .. } | BarViolation::LowAboveBody { .. }) | Ok(()) => {}
        Err(e) => return Err(e),
    }
    let prices = [
        (BarField::Open, open),
        (BarField::High, high),
        (BarField::Low, low),
        (BarField::Close, close),
    ];
    for (field, value) in prices {
        if !(MIN_PRICE..=MAX_PRICE).contains(&value) {
            return Err(BarViolation::OutOfRange { field, value });
        }
    }
    if volume > MAX_VOLUME {
        return Err(BarViolation::OutOfRange {
            field: BarField::Volume,
            value: volume,
        });
    }
    check_values(open, high, low, close, volume)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(o: f64, h: f64, l: f64, c: f64, v: f64) -> Result<Bar, BarViolation> {
        Bar::new_checked(Timestamp(0), o, h, l, c, v)
    }

    #[test]
    fn accepts_valid_and_degenerate_bars() {
        assert!(bar(1.0, 2.0, 0.5, 1.5, 10.0).is_ok());
        assert!(bar(1.0, 1.0, 1.0, 1.0, 0.0).is_ok());
        assert!(check_input_values(MIN_PRICE, MAX_PRICE, MIN_PRICE, MAX_PRICE, MAX_VOLUME).is_ok());
        // Out of the input bounds, still a well-formed bar.
        assert!(bar(1.0, 1.7e308, 0.5, 1.5, 1.0).is_ok());
    }

    #[test]
    fn each_invariant_has_its_violation() {
        let cases = [
            (bar(f64::NAN, 2.0, 0.5, 1.5, 1.0), BarField::Open),
            (bar(1.0, f64::INFINITY, 0.5, 1.5, 1.0), BarField::High),
            (bar(1.0, 2.0, 0.5, 1.5, f64::NAN), BarField::Volume),
            (bar(1.0, 2.0, 0.0, 1.5, 1.0), BarField::Low),
            (bar(-1.0, 2.0, 0.5, 1.5, 1.0), BarField::Open),
            (bar(1.0, 2.0, 0.5, 1.5, -1.0), BarField::Volume),
            (bar(1.0, 1.2, 0.5, 1.5, 1.0), BarField::High),
            (bar(1.0, 2.0, 1.1, 1.5, 1.0), BarField::Low),
        ];
        for (got, field) in cases {
            match got {
                Err(v) => assert_eq!(v.field(), field, "{v}"),
                Ok(b) => panic!("accepted {b:?}"),
            }
        }
    }

    #[test]
    fn inputs_outside_the_bounds_are_refused() {
        for (v, field) in [
            (
                check_input_values(1.0, 1.7e308, 0.5, 1.5, 1.0),
                BarField::High,
            ),
            (
                check_input_values(1e308, 1e308, 1e308, 1e308, 1.0),
                BarField::Open,
            ),
            (check_input_values(1.0, 2.0, 1e-13, 1.5, 1.0), BarField::Low),
            (
                check_input_values(1.0, 2.0, 0.5, 1.5, 1.1e18),
                BarField::Volume,
            ),
        ] {
            match v {
                Err(e @ BarViolation::OutOfRange { .. }) => assert_eq!(e.field(), field, "{e}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn timestamps_print_as_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_500).to_rfc3339(), "1970-01-01T00:00:01.500Z");
    }
}
