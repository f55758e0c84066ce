//! The broker's settings: what a fill costs and how big a position may be.

use crate::error::BacktestError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// backtesting.py's default order size, `1 - sys.float_info.epsilon`: "all
/// available cash" without the rounding that could make a whole-cash order
/// cost a hair more than the cash. Rule strategies use it so their unit counts
/// match backtesting.py exactly.
pub const FULL: f64 = 1.0 - f64::EPSILON;

/// An adverse price adjustment per fill: a fraction of the price in basis points,
/// or a fixed amount in the quote currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost {
    Bps(f64),
    Price(f64),
}

impl Cost {
    /// The adjustment at `price`, in price units.
    pub fn at(self, price: f64) -> f64 {
        match self {
            Cost::Bps(b) => price * b * 1e-4,
            Cost::Price(p) => p,
        }
    }
}

impl FromStr for Cost {
    type Err = String;

    /// `5bps` (basis points of the price) or `0.01` (price units).
    fn from_str(s: &str) -> Result<Cost, String> {
        let t = s.trim();
        let (num, bps) = match t.strip_suffix("bps") {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        match num.parse::<f64>() {
            Ok(x) if x >= 0.0 && x.is_finite() => Ok(if bps { Cost::Bps(x) } else { Cost::Price(x) }),
            _ => Err(format!(
                "'{s}' is not a cost: give basis points such as 5bps or a price amount such as 0.01 (>= 0)"
            )),
        }
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cost::Bps(b) => write!(f, "{b}bps"),
            Cost::Price(p) => write!(f, "{p}"),
        }
    }
}

/// Whether positions are whole units (shares, contracts; backtesting.py) or any
/// positive amount (crypto, FX notional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    #[default]
    Whole,
    Fractional,
}

/// The broker: starting cash, costs, sizing, and whether the open trade is
/// closed at the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerConfig {
    pub cash: f64,
    /// Fraction of the traded value charged on every fill (entry and exit).
    pub commission: f64,
    /// The full bid-ask spread; each fill pays half of it.
    pub spread: Option<Cost>,
    /// Extra adverse price move per fill.
    pub slippage: Option<Cost>,
    pub units: Units,
    /// Close the open trade on the last bar so it counts in the trade statistics
    /// (backtesting.py's `finalize_trades=True`: the close fills at the last bar's open).
    pub finalize: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            cash: 10_000.0,
            commission: 0.0,
            spread: None,
            slippage: None,
            units: Units::Whole,
            finalize: false,
        }
    }
}

impl BrokerConfig {
    /// Refuses settings no broker could honour, before any work starts.
    pub fn validate(&self) -> Result<(), BacktestError> {
        if !(self.cash > 0.0 && self.cash.is_finite()) {
            return Err(BacktestError::Config(format!(
                "cash must be a positive amount, got {}",
                self.cash
            )));
        }
        // backtesting.py's bounds: negative is a market maker's rebate.
        if !(-0.1..0.1).contains(&self.commission) {
            return Err(BacktestError::Config(format!(
                "commission is a fraction of the traded value between -0.1 and 0.1 \
                 (0.002 = 0.2%), got {}",
                self.commission
            )));
        }
        Ok(())
    }

    /// The price a fill at `price` actually gets: worse by half the spread plus
    /// the slippage. Without either it is `price` itself, bit for bit, which the
    /// backtesting.py parity relies on.
    pub(crate) fn fill_price(&self, price: f64, buy: bool) -> f64 {
        if self.spread.is_none() && self.slippage.is_none() {
            return price;
        }
        let adj = self.spread.map_or(0.0, |c| 0.5 * c.at(price))
            + self.slippage.map_or(0.0, |c| c.at(price));
        if buy {
            price + adj
        } else {
            (price - adj).max(f64::MIN_POSITIVE)
        }
    }

    /// What opening and later closing a position at `price` costs, as a
    /// fraction of the price: two commissions, the full spread (half on each
    /// fill) and two slippages. The cost-aware forecast rule weighs expected
    /// returns against it.
    pub fn round_trip(&self, price: f64) -> f64 {
        let at = |c: Option<Cost>| c.map_or(0.0, |c| c.at(price));
        2.0 * self.commission + (at(self.spread) + 2.0 * at(self.slippage)) / price
    }

    /// Commission on `units` at `price`, in backtesting.py's order of operations.
    pub(crate) fn commission_on(&self, units: f64, price: f64) -> f64 {
        units.abs() * price * self.commission
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_parse_bps_and_price() {
        assert_eq!("5bps".parse::<Cost>(), Ok(Cost::Bps(5.0)));
        assert_eq!("0.01".parse::<Cost>(), Ok(Cost::Price(0.01)));
        assert!("-1".parse::<Cost>().is_err());
        assert!("5 percent".parse::<Cost>().is_err());
        assert_eq!(Cost::Bps(10.0).at(200.0), 0.2);
    }

    #[test]
    fn fills_are_adverse_and_exact_without_costs() {
        let mut b = BrokerConfig::default();
        assert_eq!(b.fill_price(100.1, true), 100.1);
        b.spread = Some(Cost::Price(0.2));
        b.slippage = Some(Cost::Bps(10.0));
        assert!((b.fill_price(100.0, true) - 100.2).abs() < 1e-12);
        assert!((b.fill_price(100.0, false) - 99.8).abs() < 1e-12);
        // 0.2 spread + 2 x 10 bps slippage at 100, plus 2 x 0.1% commission.
        b.commission = 0.001;
        assert!((b.round_trip(100.0) - (0.002 + 0.002 + 0.002)).abs() < 1e-15);
        assert_eq!(BrokerConfig::default().round_trip(50.0), 0.0);
    }

    #[test]
    fn bad_cash_and_commission_are_refused() {
        let b = BrokerConfig {
            cash: -5.0,
            ..Default::default()
        };
        assert!(b.validate().unwrap_err().to_string().contains("cash"));
        let b = BrokerConfig {
            commission: 0.5,
            ..Default::default()
        };
        assert!(b.validate().unwrap_err().to_string().contains("commission"));
    }
}
