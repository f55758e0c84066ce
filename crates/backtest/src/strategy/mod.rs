//! Strategies: given what was known at a bar's close, the position wanted from
//! the next bar's open.

mod buy_hold;
mod forecast;
mod refit;
mod sma_cross;
mod vol_target;

pub use buy_hold::BuyHold;
pub use forecast::{ForecastRecord, ForecastStrategy, QUANTILE_LEVELS};
pub use refit::{
    refit_seed, GptRefitter, Refit, RefitError, RefitPlan, RefitRecord, Refitter, Refitting,
};
pub use sma_cross::{rolling_mean, SmaCross};
pub use vol_target::{bars_per_year, VolTarget};

use crate::error::BacktestError;
use crate::history::History;
use candlecast_gpt::Gpt;
use serde::Serialize;

/// The position a strategy asks for. An order for `Flat`, `Long` or `Short`
/// closes the open trade (exclusive orders, as backtesting.py's
/// `exclusive_orders=True`) and opens the new one, sized from the cash
/// available after the close. `Exposure` resizes instead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Flat,
    /// Long with this fraction of the available equity, in (0, 1].
    Long(f64),
    /// Short with this fraction of the available equity, in (0, 1].
    Short(f64),
    /// This signed fraction of the equity (negative: short, 0: flat), in
    /// [-1, 1], reached by trading only the difference from the units held: a
    /// small resize pays costs on the change, not a round trip on the whole
    /// position (which closing and reopening would).
    Exposure(f64),
}

impl Target {
    /// -1, 0 or 1.
    pub fn side(self) -> i8 {
        match self {
            Target::Flat => 0,
            Target::Long(_) => 1,
            Target::Short(_) => -1,
            Target::Exposure(f) if f > 0.0 => 1,
            Target::Exposure(f) if f < 0.0 => -1,
            Target::Exposure(_) => 0,
        }
    }

    /// The signed fraction of equity asked for.
    pub fn fraction(self) -> f64 {
        match self {
            Target::Flat => 0.0,
            Target::Long(f) | Target::Exposure(f) => f,
            Target::Short(f) => -f,
        }
    }
}

/// What a strategy sees at a decision: the bars so far and its own position.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub history: History<'a>,
    /// Units held now (negative when short), after this bar's fills.
    pub position: f64,
    /// Equity at this bar's close (cash plus the open position marked there).
    pub equity: f64,
    /// Whether short targets are allowed (the engine turns them into flat otherwise).
    pub allow_short: bool,
}

/// A trading rule.
///
/// The engine calls [`Strategy::observe`] at every bar's close (for state such as
/// moving averages) and [`Strategy::decide`] at decision bars; the answer is
/// filled at the next bar's open. Neither can see a bar after the current one.
pub trait Strategy {
    /// A short name for tables and file names, e.g. `sma-cross:10,20`.
    fn name(&self) -> String;

    /// Index of the first bar at which a decision can be made: the bars before
    /// it are the strategy's warm-up (backtesting.py starts one bar after the
    /// slowest indicator's first value).
    fn first_decision(&self) -> usize;

    /// Updates incremental state with the newest bar of `history`.
    fn observe(&mut self, _history: &History<'_>) {}

    /// The position wanted from the next open, or `None` to leave things as they are.
    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError>;

    /// Forecasts the strategy made, for `forecasts.csv` and the fan chart.
    fn forecasts(&self) -> &[ForecastRecord] {
        &[]
    }

    /// Walk-forward refits the strategy made, for `stats.json` and the report.
    fn refits(&self) -> &[RefitRecord] {
        &[]
    }
}

/// A strategy driven by a GPT whose weights can be replaced mid-run, which is
/// what a walk-forward refit ([`Refitting`]) needs: the model changes between
/// decisions, everything else (rule, sampling, random streams) stays.
pub trait ModelStrategy: Strategy {
    /// Decides with `model` from now on.
    fn set_model(&mut self, model: Gpt);
}

/// A strategy that needs no model, known by name on the command line. Parsing,
/// the help text and construction go through [`RULES`], so a new rule is its own
/// file with a `RULE` constant plus its `mod` line and entry here.
#[derive(Debug)]
pub struct Rule {
    /// What is typed before the colon, e.g. `sma-cross`.
    pub name: &'static str,
    /// Other spellings accepted for `name`.
    pub aliases: &'static [&'static str],
    /// The form shown in the help and in errors, e.g. `sma-cross:FAST,SLOW`.
    pub usage: &'static str,
    /// The strategy from the text after the colon (`None` without one), or what
    /// is wrong with that text. Called once when a spec is parsed, to check it,
    /// and again for each run.
    pub build: BuildRule,
}

/// A [`Rule`]'s constructor: the text after the colon in, a strategy or what is
/// wrong with the text out.
pub type BuildRule = fn(Option<&str>) -> Result<Box<dyn Strategy>, String>;

/// Every rule strategy that needs no model, in the order of the help text.
pub static RULES: &[Rule] = &[sma_cross::RULE];

/// The rule `name` (or one of its aliases) stands for, ignoring case.
pub fn rule(name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| {
        r.name.eq_ignore_ascii_case(name) || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}
