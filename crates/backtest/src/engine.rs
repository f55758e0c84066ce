//! The walk-forward loop and its broker.
//!
//! Per bar `i`: the order decided at bar `i - 1` fills at bar `i`'s open (the
//! open trade closes first, then the new one opens, sized from the cash after
//! the close: exclusive orders); equity is marked at the close; then the
//! strategy sees bars `0..=i` and may place the order for bar `i + 1`. This is
//! backtesting.py 0.6.6's order of events, including its arithmetic (whole
//! units by floor division of the available cash by the price plus
//! commission per unit, commission charged on entry and on exit), so the
//! numbers agree with it to the last digits.
//!
//! A [`Target::Exposure`] order instead trades only the difference from the
//! position held, as backtesting.py does without exclusive orders: buying more
//! opens another lot, selling closes units of the oldest lots first (FIFO),
//! each closed part a trade of its own.

use crate::config::{BrokerConfig, Units};
use crate::error::BacktestError;
use crate::history::History;
use crate::strategy::{Context, ForecastRecord, RefitRecord, Strategy, Target};
use candlecast_data::Series;
use serde::Serialize;

/// A closed (or, in [`Run::open_trade`], still open) trade. Bars index the series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trade {
    /// Units, negative for a short.
    pub size: f64,
    pub entry_bar: usize,
    pub exit_bar: usize,
    /// Fill prices after spread and slippage.
    pub entry_price: f64,
    pub exit_price: f64,
    /// Profit in cash after both commissions.
    pub pnl: f64,
    /// Return on the entry value after commissions, as a fraction
    /// (backtesting.py's `ReturnPct`).
    pub ret: f64,
    /// Entry plus exit commission.
    pub commission: f64,
}

/// Why a fill happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillKind {
    Open,
    Close,
    /// Closed on the last bar by `finalize`.
    Finalize,
    /// Closed because equity fell to zero.
    Liquidation,
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fill {
    pub bar: usize,
    pub kind: FillKind,
    /// Signed units: positive bought, negative sold.
    pub units: f64,
    pub price: f64,
    pub commission: f64,
}

/// One order as the strategy placed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// The bar whose close the decision was made at; it fills at the next open.
    pub decided_bar: usize,
    pub target: Target,
    /// Whether it filled (false: replaced, not enough cash, or no bar left).
    pub filled: bool,
}

/// How to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunOptions {
    /// First bar of the backtest window; earlier bars are history only (the
    /// strategy sees them, nothing is traded or measured there).
    pub window_start: usize,
    /// Decide at every Nth bar from the first decision (>= 1).
    pub decide_every: usize,
    /// Let the strategy go short; otherwise its short targets mean flat.
    pub allow_short: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            window_start: 0,
            decide_every: 1,
            allow_short: true,
        }
    }
}

/// Everything a run produced; [`crate::metrics::Metrics::compute`] turns it into numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub strategy: String,
    pub window_start: usize,
    /// Equity at each bar's close for bars `window_start..`.
    pub equity: Vec<f64>,
    pub trades: Vec<Trade>,
    /// The trade still open at the end, marked at the last close.
    pub open_trade: Option<Trade>,
    pub orders: Vec<Order>,
    pub fills: Vec<Fill>,
    /// The first bar the strategy decided at.
    pub first_decision: usize,
    /// Where buy-and-hold is measured from (backtesting.py: the close of the bar
    /// before the first decision, i.e. where the slowest indicator starts).
    pub buy_hold_start: usize,
    /// Forecasts made by a model-driven strategy.
    pub forecasts: Vec<ForecastRecord>,
    /// Walk-forward refits of the strategy's model, in bar order.
    pub refits: Vec<RefitRecord>,
}

impl Run {
    /// Total commission of the closed trades (backtesting.py counts those only).
    pub fn commissions(&self) -> f64 {
        self.trades.iter().fold(0.0, |a, t| a + t.commission)
    }
}

/// One lot of the position: the units bought (or sold short) by one fill.
#[derive(Debug, Clone)]
struct Lot {
    size: f64,
    entry_bar: usize,
    entry_price: f64,
    /// What is left of the entry commission after partial closes.
    entry_commission: f64,
}

struct Broker<'c> {
    cfg: &'c BrokerConfig,
    cash: f64,
    /// Open lots, oldest first, all on one side. Exclusive orders keep at most one.
    lots: Vec<Lot>,
    trades: Vec<Trade>,
    fills: Vec<Fill>,
}

/// Python's float `//`: the division here decides unit counts, and must agree
/// with backtesting.py even when the quotient is within an ulp of an integer.
fn py_floordiv(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 {
            f + 1.0
        } else {
            f
        }
    } else {
        0.0f64.copysign(a / b)
    }
}

impl<'c> Broker<'c> {
    fn new(cfg: &'c BrokerConfig) -> Broker<'c> {
        Broker {
            cfg,
            cash: cfg.cash,
            lots: Vec::new(),
            trades: Vec::new(),
            fills: Vec::new(),
        }
    }

    fn equity(&self, price: f64) -> f64 {
        // backtesting.py: cash + (last * size - size * entry), summed over trades.
        self.cash
            + self
                .lots
                .iter()
                .map(|t| price * t.size - t.size * t.entry_price)
                .sum::<f64>()
    }

    fn position(&self) -> f64 {
        self.lots.iter().map(|t| t.size).sum()
    }

    /// Closes every lot at `price` (before costs) on bar `bar`, oldest first.
    fn close(&mut self, price: f64, bar: usize, kind: FillKind) {
        while !self.lots.is_empty() {
            let units = self.lots[0].size;
            self.close_units(units, price, bar, kind);
        }
    }

    /// Closes `units` (signed like the lot, at most its size) of the oldest lot.
    fn close_units(&mut self, units: f64, price: f64, bar: usize, kind: FillKind) {
        let Some(t) = self.lots.first_mut() else {
            return;
        };
        let whole = units == t.size;
        let px = self.cfg.fill_price(price, t.size < 0.0);
        let exit_commission = self.cfg.commission_on(units, px);
        // The closed part's share of the entry commission; all of it when whole
        // (the same arithmetic as a single-lot close, which the parity needs).
        let entry_commission = if whole {
            t.entry_commission
        } else {
            t.entry_commission * (units / t.size)
        };
        self.cash += units * (px - t.entry_price) - exit_commission;
        let commission = exit_commission + entry_commission;
        let sign = if units > 0.0 { 1.0 } else { -1.0 };
        self.trades.push(Trade {
            size: units,
            entry_bar: t.entry_bar,
            exit_bar: bar,
            entry_price: t.entry_price,
            exit_price: px,
            pnl: units * (px - t.entry_price) - commission,
            ret: sign * (px / t.entry_price - 1.0) - commission / (units.abs() * t.entry_price),
            commission,
        });
        self.fills.push(Fill {
            bar,
            kind,
            units: -units,
            price: px,
            commission: exit_commission,
        });
        if whole {
            self.lots.remove(0);
        } else {
            t.size -= units;
            t.entry_commission -= entry_commission;
        }
    }

    /// Opens a lot of `size` units (signed) at `px` (after costs).
    fn open_lot(&mut self, size: f64, px: f64, bar: usize) {
        let entry_commission = self.cfg.commission_on(size, px);
        self.cash -= entry_commission;
        self.lots.push(Lot {
            size,
            entry_bar: bar,
            entry_price: px,
            entry_commission,
        });
        self.fills.push(Fill {
            bar,
            kind: FillKind::Open,
            units: size,
            price: px,
            commission: entry_commission,
        });
    }

    /// Units that `fraction` of the equity buys (or sells short) at `open`, with
    /// backtesting.py's sizing (the commission at the unadjusted price).
    fn units_for(&self, fraction: f64, open: f64, buy: bool) -> Option<(f64, f64)> {
        let px = self.cfg.fill_price(open, buy);
        let per_unit = px + self.cfg.commission_on(fraction, open) / fraction;
        let available = self.equity(open).max(0.0);
        let units = match self.cfg.units {
            Units::Whole => py_floordiv(available * fraction, per_unit),
            Units::Fractional => available * fraction / per_unit,
        };
        (!units.is_nan() && units * per_unit <= available).then_some((units, px))
    }

    /// Fills an order for `target` at `open`; returns whether anything traded.
    fn execute(&mut self, target: Target, open: f64, bar: usize) -> bool {
        let (fraction, sign) = match target {
            Target::Exposure(f) => return self.rebalance(f, open, bar),
            Target::Flat => (0.0, 1.0),
            Target::Long(f) => (f, 1.0),
            Target::Short(f) => (f, -1.0),
        };
        let had = !self.lots.is_empty();
        self.close(open, bar, FillKind::Close);
        if fraction.is_nan() || fraction <= 0.0 {
            return had;
        }
        match self.units_for(fraction, open, sign > 0.0) {
            Some((units, px)) if units > 0.0 => {
                self.open_lot(sign * units, px, bar);
                true
            }
            _ => had,
        }
    }

    /// Moves the position to `fraction` of the equity (negative: short) by
    /// trading the difference only.
    fn rebalance(&mut self, fraction: f64, open: f64, bar: usize) -> bool {
        if fraction.is_nan() {
            return false;
        }
        let held = self.position();
        let mut traded = false;
        if held != 0.0 && (fraction == 0.0 || (held > 0.0) != (fraction > 0.0)) {
            self.close(open, bar, FillKind::Close);
            traded = true;
        }
        if fraction == 0.0 {
            return traded;
        }
        let sign = fraction.signum();
        let Some((want, px)) = self.units_for(fraction.abs(), open, sign > 0.0) else {
            return traded;
        };
        let have = self.position().abs();
        if want > have {
            self.open_lot(sign * (want - have), px, bar);
            return true;
        }
        let mut excess = have - want;
        while excess > 0.0 {
            let Some(size) = self.lots.first().map(|l| l.size) else {
                break;
            };
            let units = size.abs().min(excess);
            excess -= units;
            let part = if units == size.abs() {
                size
            } else {
                sign * units
            };
            self.close_units(part, open, bar, FillKind::Close);
            traded = true;
        }
        traded
    }

    /// The open position as one trade marked at `price`: its lots' units, their
    /// size-weighted entry price and their remaining entry commissions.
    fn mark(&self, price: f64, bar: usize) -> Option<Trade> {
        let first = self.lots.first()?;
        let size = self.position();
        let (entry_price, entry_commission) = match &self.lots[..] {
            [t] => (t.entry_price, t.entry_commission),
            lots => (
                lots.iter().map(|t| t.size * t.entry_price).sum::<f64>() / size,
                lots.iter().map(|t| t.entry_commission).sum::<f64>(),
            ),
        };
        let sign = if size > 0.0 { 1.0 } else { -1.0 };
        Some(Trade {
            size,
            entry_bar: first.entry_bar,
            exit_bar: bar,
            entry_price,
            exit_price: price,
            pnl: size * (price - entry_price) - entry_commission,
            ret: sign * (price / entry_price - 1.0) - entry_commission / (size.abs() * entry_price),
            commission: entry_commission,
        })
    }
}

/// Walks `strategy` through `series` with `broker`.
///
/// `on_bar` is called after each bar of the window (for progress bars).
pub fn run(
    series: &Series,
    strategy: &mut dyn Strategy,
    broker: &BrokerConfig,
    opts: &RunOptions,
    on_bar: &mut dyn FnMut(usize),
) -> Result<Run, BacktestError> {
    broker.validate()?;
    let n = series.len();
    let ws = opts.window_start;
    if ws >= n {
        return Err(BacktestError::EmptyWindow(format!(
            "the series has {n} bars and the window starts at bar {ws}"
        )));
    }
    let first_decision = strategy.first_decision().max(ws);
    let buy_hold_start = first_decision.saturating_sub(1).max(ws).min(n - 1);
    let mut w = walk(series, strategy, broker, opts, first_decision, on_bar)?;
    if broker.finalize && !w.broke {
        w.finalize(series);
    }
    let open_trade = w.broker.mark(series.close()[n - 1], n - 1);
    Ok(Run {
        strategy: strategy.name(),
        window_start: ws,
        equity: w.equity,
        trades: w.broker.trades,
        open_trade,
        orders: w.book.orders,
        fills: w.broker.fills,
        first_decision,
        buy_hold_start,
        forecasts: strategy.forecasts().to_vec(),
        refits: strategy.refits().to_vec(),
    })
}

/// The orders placed so far and the one waiting for the next open. They travel
/// together because filling the pending order marks it in the list.
struct OrderBook {
    orders: Vec<Order>,
    pending: Option<usize>,
}

impl OrderBook {
    /// Fills the pending order, if any, at `open` of bar `bar`.
    #[inline]
    fn fill(&mut self, b: &mut Broker<'_>, open: f64, bar: usize) {
        if let Some(k) = self.pending.take() {
            let filled = b.execute(self.orders[k].target, open, bar);
            self.orders[k].filled = filled;
        }
    }

    /// Records `target`, decided at `decided_bar`'s close, to fill at the next open.
    #[inline]
    fn place(&mut self, decided_bar: usize, target: Target) {
        self.pending = Some(self.orders.len());
        self.orders.push(Order {
            decided_bar,
            target,
            filled: false,
        });
    }
}

/// When the strategy decides: every `every`th bar from `first`, counted down
/// rather than found by a modulo per bar.
struct Cadence {
    first: usize,
    every: usize,
    /// Bars until the next decision.
    until: usize,
}

impl Cadence {
    /// Whether bar `i` is a decision bar; call once per bar, in order.
    #[inline]
    fn due(&mut self, i: usize) -> bool {
        i >= self.first && {
            let now = self.until == 0;
            self.until = if now { self.every - 1 } else { self.until - 1 };
            now
        }
    }
}

/// The strategy's target at `ctx`'s bar, with a short turned flat when the run
/// is long-only: strategies may ignore `allow_short`, the engine does not.
#[inline]
fn decide(strategy: &mut dyn Strategy, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
    let Some(target) = strategy.decide(ctx)? else {
        return Ok(None);
    };
    if !ctx.allow_short && target.side() < 0 {
        return Ok(Some(Target::Flat));
    }
    Ok(Some(target))
}

/// Out of money: liquidate at the close and stop, as backtesting.py does; the
/// rest of the window's equity is zero. Cold, so it stays out of the loop's way.
#[cold]
fn liquidate(b: &mut Broker<'_>, close: f64, bar: usize, equity: &mut Vec<f64>, len: usize) {
    b.close(close, bar, FillKind::Liquidation);
    b.cash = 0.0;
    equity.resize(len, 0.0);
}

/// What the per-bar loop leaves for the end of the run.
struct Walked<'c> {
    broker: Broker<'c>,
    equity: Vec<f64>,
    book: OrderBook,
    /// Equity ran out and the position was liquidated.
    broke: bool,
}

impl Walked<'_> {
    /// backtesting.py closes the open trade and re-runs its broker on the last
    /// bar: the close, and any order placed at the last close, fill at that
    /// bar's open.
    fn finalize(&mut self, series: &Series) {
        let last = series.len() - 1;
        let (open, close) = (series.open(), series.close());
        self.broker.close(open[last], last, FillKind::Finalize);
        self.book.fill(&mut self.broker, open[last], last);
        if let Some(e) = self.equity.last_mut() {
            *e = self.broker.equity(close[last]);
        }
    }
}

/// The per-bar loop. Its state lives in locals and its helpers are inlined: it
/// runs millions of bars a second, where a call or an allocation per bar shows.
fn walk<'c>(
    series: &Series,
    strategy: &mut dyn Strategy,
    broker: &'c BrokerConfig,
    opts: &RunOptions,
    first_decision: usize,
    on_bar: &mut dyn FnMut(usize),
) -> Result<Walked<'c>, BacktestError> {
    let n = series.len();
    let ws = opts.window_start;
    let (open, close) = (series.open(), series.close());
    let mut b = Broker::new(broker);
    let mut equity = Vec::with_capacity(n - ws);
    let mut book = OrderBook {
        orders: Vec::new(),
        pending: None,
    };
    let mut cadence = Cadence {
        first: first_decision,
        every: opts.decide_every.max(1),
        until: 0,
    };
    let mut broke = false;
    for i in 0..n {
        let history = History::new(series, i + 1);
        strategy.observe(&history);
        if i < ws {
            continue;
        }
        book.fill(&mut b, open[i], i);
        let e = b.equity(close[i]);
        if e <= 0.0 {
            liquidate(&mut b, close[i], i, &mut equity, n - ws);
            broke = true;
            on_bar(i);
            break;
        }
        equity.push(e);
        if cadence.due(i) {
            let ctx = Context {
                history,
                position: b.position(),
                equity: e,
                allow_short: opts.allow_short,
            };
            if let Some(target) = decide(strategy, &ctx)? {
                book.place(i, target);
            }
        }
        on_bar(i);
    }
    Ok(Walked {
        broker: b,
        equity,
        book,
        broke,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{BuyHold, SmaCross};
    use candlecast_data::{Bar, SourceZone, Timestamp};

    fn series(ohlc: &[(f64, f64)]) -> Series {
        let bars: Vec<Bar> = ohlc
            .iter()
            .enumerate()
            .map(|(i, &(o, c))| Bar {
                ts: Timestamp(i as i64 * 86_400_000),
                open: o,
                high: o.max(c),
                low: o.min(c),
                close: c,
                volume: 1.0,
            })
            .collect();
        Series::from_bars(None, SourceZone::Utc, &bars).unwrap()
    }

    /// Always wants the same target.
    struct Always(Target);
    impl Strategy for Always {
        fn name(&self) -> String {
            "always".into()
        }
        fn first_decision(&self) -> usize {
            0
        }
        fn decide(&mut self, _: &Context<'_>) -> Result<Option<Target>, BacktestError> {
            Ok(Some(self.0))
        }
    }

    #[test]
    fn whole_units_commission_and_marking_by_hand() {
        let s = series(&[(9.0, 9.0), (10.0, 10.0), (10.0, 11.0), (12.0, 12.5)]);
        let b = BrokerConfig {
            cash: 1000.0,
            commission: 0.01,
            ..Default::default()
        };
        let r = run(&s, &mut BuyHold, &b, &RunOptions::default(), &mut |_| {}).unwrap();
        // Decided at bar 1 (backtesting.py's first next()), filled at bar 2's open:
        // floor(1000 / (10 + 0.1)) = 99 units, entry commission 99 * 10 * 0.01 = 9.9.
        assert_eq!((r.first_decision, r.buy_hold_start), (1, 0));
        assert_eq!(r.fills[0].units, 99.0);
        assert_eq!(r.fills[0].bar, 2);
        assert_eq!(r.equity[1], 1000.0);
        assert!((r.equity[2] - (1000.0 - 9.9 + 99.0 * 1.0)).abs() < 1e-9);
        assert!((r.equity[3] - (1000.0 - 9.9 + 99.0 * 2.5)).abs() < 1e-9);
        assert!(r.trades.is_empty() && r.open_trade.is_some());
        // Finalize closes at the last bar's open (backtesting.py) and pays the exit commission.
        let b = BrokerConfig {
            finalize: true,
            ..b
        };
        let r = run(&s, &mut BuyHold, &b, &RunOptions::default(), &mut |_| {}).unwrap();
        let t = &r.trades[0];
        assert_eq!((t.exit_bar, t.exit_price), (3, 12.0));
        assert!((t.commission - (9.9 + 99.0 * 12.0 * 0.01)).abs() < 1e-9);
        assert!((r.equity[3] - (1000.0 - 9.9 + 99.0 * 2.0 - 11.88)).abs() < 1e-9);
        // In a later window the bars before it are history: it decides at once.
        let opts = RunOptions {
            window_start: 2,
            ..Default::default()
        };
        let r = run(&s, &mut BuyHold, &b, &opts, &mut |_| {}).unwrap();
        assert_eq!(
            (r.first_decision, r.buy_hold_start, r.fills[0].bar),
            (2, 2, 3)
        );
    }

    #[test]
    fn shorts_fractional_units_and_costs() {
        let s = series(&[(100.0, 100.0), (100.0, 90.0), (90.0, 80.0)]);
        let b = BrokerConfig {
            cash: 1000.0,
            units: Units::Fractional,
            slippage: Some(crate::Cost::Price(1.0)),
            ..Default::default()
        };
        let mut st = Always(Target::Short(0.5));
        let r = run(&s, &mut st, &b, &RunOptions::default(), &mut |_| {}).unwrap();
        // Sold at 100 - 1 = 99 with half the equity: 500 / 99 units.
        let u = 500.0 / 99.0;
        assert!((r.fills[0].units + u).abs() < 1e-12);
        assert_eq!(r.fills[0].price, 99.0);
        assert!((r.equity[1] - (1000.0 + u * 9.0)).abs() < 1e-9);
        // The same target again closes (bought back at 90 + 1) and reopens (exclusive orders).
        assert_eq!(r.trades.len(), 1);
        assert!((r.trades[0].pnl - u * (99.0 - 91.0)).abs() < 1e-9);
        // Long-only turns the shorts into flat: nothing trades.
        let opts = RunOptions {
            allow_short: false,
            ..Default::default()
        };
        let r = run(&s, &mut Always(Target::Short(0.5)), &b, &opts, &mut |_| {}).unwrap();
        assert!(r.fills.is_empty());
        assert!(r.orders.iter().all(|o| o.target == Target::Flat));
    }

    /// Wants `Exposure(f)` with f from a list, one per bar.
    struct Steps(Vec<f64>);
    impl Strategy for Steps {
        fn name(&self) -> String {
            "steps".into()
        }
        fn first_decision(&self) -> usize {
            0
        }
        fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
            let i = ctx.history.len() - 1;
            Ok(self.0.get(i).map(|&f| Target::Exposure(f)))
        }
    }

    #[test]
    fn exposure_orders_trade_the_difference_fifo() {
        let mut bars = vec![(10.0, 10.0), (10.0, 10.0)];
        bars.extend([(20.0, 20.0); 5]);
        let s = series(&bars);
        let b = BrokerConfig {
            cash: 1000.0,
            ..Default::default()
        };
        let mut st = Steps(vec![0.5, 1.0, 0.6, 0.6, -0.5, 0.0]);
        let r = run(&s, &mut st, &b, &RunOptions::default(), &mut |_| {}).unwrap();
        let fills: Vec<(usize, f64)> = r.fills.iter().map(|f| (f.bar, f.units)).collect();
        // Bar 1: 500 / 10 = 50 units. Bar 2 at 20: equity 1000 + 50 * 10 = 1500
        // buys 75 in all: 25 more. Bar 3: 0.6 of 1500 is 45 units: 30 sold,
        // from the first lot. Bar 4: 45 wanted, 45 held. Bar 5: short half:
        // the 20 left of the first lot close, then the 25 of the second, then
        // floor(750 / 20) = 37 short. Bar 6: flat.
        assert_eq!(
            fills,
            [
                (1, 50.0),
                (2, 25.0),
                (3, -30.0),
                (5, -20.0),
                (5, -25.0),
                (5, -37.0),
                (6, 37.0)
            ]
        );
        let t: Vec<(f64, usize, usize, f64)> = r
            .trades
            .iter()
            .map(|t| (t.size, t.entry_bar, t.exit_bar, t.pnl))
            .collect();
        assert_eq!(
            t,
            [
                (30.0, 1, 3, 300.0),
                (20.0, 1, 5, 200.0),
                (25.0, 2, 5, 0.0),
                (-37.0, 5, 6, 0.0)
            ]
        );
        assert!(r.open_trade.is_none());
        assert_eq!(r.equity.last(), Some(&1500.0));

        // With commission: a partial close carries its share of the entry
        // commission, so the trades' commissions are the fills' and cash is
        // the starting cash plus the trades' profits.
        let b = BrokerConfig {
            commission: 0.01,
            ..b
        };
        let mut st = Steps(vec![0.5, 1.0, 0.6, 0.6, -0.5, 0.0]);
        let r = run(&s, &mut st, &b, &RunOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(r.trades.len(), 4);
        let by_trades: f64 = r.trades.iter().map(|t| t.commission).sum();
        let by_fills: f64 = r.fills.iter().map(|f| f.commission).sum();
        assert!((by_trades - by_fills).abs() < 1e-9);
        let pnl: f64 = r.trades.iter().map(|t| t.pnl).sum();
        assert!((r.equity.last().unwrap() - (1000.0 + pnl)).abs() < 1e-9);
        // 49 units of 10 + 0.1 commission; 30 of them sold at 20.
        let first = &r.trades[0];
        let entry_share = 49.0 * 10.0 * 0.01 * first.size / 49.0;
        assert!((first.commission - (first.size * 20.0 * 0.01 + entry_share)).abs() < 1e-9);
    }

    #[test]
    fn an_open_position_of_several_lots_is_marked_as_one() {
        let s = series(&[(10.0, 10.0), (10.0, 10.0), (20.0, 20.0), (20.0, 22.0)]);
        let b = BrokerConfig {
            cash: 1000.0,
            units: Units::Fractional,
            ..Default::default()
        };
        let r = run(
            &s,
            &mut Steps(vec![0.5, 1.0]),
            &b,
            &RunOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let t = r.open_trade.unwrap();
        // 50 units at 10, then 25 more at 20 (equity 1500, all of it: 75 units).
        assert!((t.size - 75.0).abs() < 1e-9);
        assert!((t.entry_price - (50.0 * 10.0 + 25.0 * 20.0) / 75.0).abs() < 1e-9);
        assert!((t.pnl - 75.0 * (22.0 - t.entry_price)).abs() < 1e-9);
        assert_eq!(t.entry_bar, 1);
    }

    #[test]
    fn decisions_every_n_bars_from_the_first() {
        let s = series(&vec![(10.0, 10.0); 30]);
        let opts = RunOptions {
            window_start: 3,
            decide_every: 4,
            ..Default::default()
        };
        let b = BrokerConfig::default();
        let r = run(&s, &mut Always(Target::Flat), &b, &opts, &mut |_| {}).unwrap();
        let bars: Vec<usize> = r.orders.iter().map(|o| o.decided_bar).collect();
        assert_eq!(bars, [3, 7, 11, 15, 19, 23, 27]);
        assert_eq!(r.equity.len(), 27);
        let r = run(&s, &mut SmaCross::new(2, 25), &b, &opts, &mut |_| {}).unwrap();
        assert_eq!(r.first_decision, 25);
        assert_eq!(r.buy_hold_start, 24);
    }

    #[test]
    fn floordiv_is_pythons() {
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        assert_eq!(py_floordiv(-7.0, 2.0), -4.0);
        assert_eq!(py_floordiv(0.3, 0.1), 2.0); // Python: 0.3 // 0.1 == 2.0
        assert_eq!(py_floordiv(9999.999999999998, 100.2), 99.0);
        assert_eq!(py_floordiv(1.0, 3.0), 0.0);
    }
}
