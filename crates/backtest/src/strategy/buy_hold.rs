//! Buy with everything at the first decision and hold: the yardstick.
//!
//! It decides at the close of bar 1 and so fills at bar 2's open, as
//! backtesting.py's buy-and-hold (`if not self.position: self.buy()`) does:
//! backtesting.py first calls `next()` one bar after the slowest indicator's
//! warm-up, which without indicators is bar 1. Its buy-and-hold return is then
//! measured from bar 0's close. In a window starting later (`--from`) the bars
//! before it are history, and it decides at the window's first bar.

use super::{Context, Strategy, Target};
use crate::config::FULL;
use crate::error::BacktestError;

#[derive(Debug, Clone, Copy, Default)]
pub struct BuyHold;

impl Strategy for BuyHold {
    fn name(&self) -> String {
        "buy-hold".into()
    }

    fn first_decision(&self) -> usize {
        1
    }

    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
        // Asks again only when the first order could not be filled (too little
        // cash for one unit).
        Ok((ctx.position == 0.0).then_some(Target::Long(FULL)))
    }
}
