/*!
Walk-forward backtests: a broker with backtesting.py's fill and cost rules, rule
strategies and a strategy driven by the GPT's sample paths, backtesting.py's
statistics, and a report folder (`stats.json`, `trades.csv`, `forecasts.csv`, a
self-contained `report.html` and its `equity.svg`, and on request the per-bar
`equity.csv`).

# Brief overview

- [`StrategySpec`] parses `buy-hold`, the rules of [`RULES`] (`sma-cross:FAST,SLOW`),
  `forecast:...`, `forecast-threshold:...`, `vol-target:...`.
- A [`Strategy`] sees a [`History`] that ends at the decision bar, and answers
  with a [`Target`] position that fills at the next bar's open.
- [`run`] walks the bars with a [`BrokerConfig`] and gives a [`Run`]: equity,
  trades, orders, fills, forecasts.
- [`Refitting`] fine-tunes a model strategy's GPT every N bars on the bars up
  to then ([`GptRefitter`]), walk-forward.
- [`Metrics::compute`] gives the statistics; [`METRICS`] maps their keys to
  backtesting.py's labels; [`significance`] bootstraps a strategy's Sharpe
  ratio against buy-and-hold's.
- [`report::write`] writes the report folder atomically.

# Example

```
use candlecast_backtest::{run, BrokerConfig, Metrics, RunOptions, SmaCross};
use candlecast_data::{Bar, Series, SourceZone, Timestamp};

let bars: Vec<Bar> = (0..600)
    .map(|i| {
        let c = 100.0 + 10.0 * (i as f64 / 15.0).sin();
        Bar { ts: Timestamp(i * 86_400_000), open: c, high: c + 1.0, low: c - 1.0, close: c, volume: 1.0 }
    })
    .collect();
let series = Series::from_bars(None, SourceZone::Utc, &bars)?;
let broker = BrokerConfig { cash: 10_000.0, commission: 0.002, ..Default::default() };
let result = run(&series, &mut SmaCross::new(10, 20), &broker, &RunOptions::default(), &mut |_| {})?;
let m = Metrics::compute(&result, &series);
assert!(m.n_trades >= 8, "{}", m.n_trades);
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

mod config;
mod engine;
mod error;
mod history;
pub mod metrics;
pub mod report;
pub mod significance;
mod spec;
mod strategy;
pub mod synthetic;

pub use config::{BrokerConfig, Cost, Units, FULL};
pub use engine::{run, Fill, FillKind, Order, Run, RunOptions, Trade};
pub use error::BacktestError;
pub use history::History;
pub use metrics::{Metrics, Span, Stat, METRICS};
pub use spec::{ForecastRule, RuleSpec, Sizing, StrategySpec, Trigger, VolTargetRule};
pub use strategy::{
    bars_per_year, refit_seed, rolling_mean, BuyHold, Context, ForecastRecord, ForecastStrategy,
    GptRefitter, ModelStrategy, Refit, RefitError, RefitPlan, RefitRecord, Refitter, Refitting,
    Rule, SmaCross, Strategy, Target, VolTarget, QUANTILE_LEVELS, RULES,
};

/// A rule strategy from its spec; `None` for specs that need a model
/// ([`ForecastStrategy::new`] builds those).
pub fn rule_strategy(spec: &StrategySpec) -> Result<Option<Box<dyn Strategy>>, BacktestError> {
    Ok(match spec {
        StrategySpec::BuyHold => Some(Box::new(BuyHold)),
        StrategySpec::Rule(r) => Some(r.strategy()?),
        StrategySpec::Forecast(_) | StrategySpec::VolTarget(_) => None,
    })
}
