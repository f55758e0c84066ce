//! Buy with everything at the first decision and hold: the yardstick.

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
        0
    }

    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
        // Asks again only when the first order could not be filled (too little
        // cash for one unit).
        Ok((ctx.position == 0.0).then_some(Target::Long(FULL)))
    }
}
