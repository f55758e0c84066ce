//! The numbers a backtest is judged by, with DESIGN.md's snake_case names and
//! backtesting.py 0.6.6's definitions (risk-free rate 0).

mod drawdown;
mod periods;
mod trades;

pub use drawdown::{drawdowns, max_and_mean_peak};
pub use periods::{annualisation, geometric_mean, period_returns, Period};
pub use trades::{trade_stats, TradeStats};

use crate::engine::Run;
use candlecast_data::Series;
use serde::Serialize;

/// Each metric's key (in `stats.json`) and backtesting.py's label for it. Drives
/// the printed table, the report and the parity tests.
pub const METRICS: &[(&str, &str)] = &[
    ("return_pct", "Return [%]"),
    ("buy_hold_return_pct", "Buy & Hold Return [%]"),
    ("return_ann_pct", "Return (Ann.) [%]"),
    ("volatility_ann_pct", "Volatility (Ann.) [%]"),
    ("sharpe", "Sharpe Ratio"),
    ("sortino", "Sortino Ratio"),
    ("calmar", "Calmar Ratio"),
    ("max_drawdown_pct", "Max. Drawdown [%]"),
    ("avg_drawdown_pct", "Avg. Drawdown [%]"),
    ("n_trades", "# Trades"),
    ("win_rate_pct", "Win Rate [%]"),
    ("best_trade_pct", "Best Trade [%]"),
    ("worst_trade_pct", "Worst Trade [%]"),
    ("avg_trade_pct", "Avg. Trade [%]"),
    ("profit_factor", "Profit Factor"),
    ("expectancy_pct", "Expectancy [%]"),
    ("sqn", "SQN"),
    ("exposure_pct", "Exposure Time [%]"),
    ("equity_final", "Equity Final [$]"),
    ("commissions", "Commissions [$]"),
];

/// A run's statistics. Undefined values (no trades, no losing trade, zero
/// volatility) are NaN, written as `null` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    pub return_pct: f64,
    pub buy_hold_return_pct: f64,
    pub return_ann_pct: f64,
    pub volatility_ann_pct: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    pub max_drawdown_pct: f64,
    pub avg_drawdown_pct: f64,
    pub n_trades: usize,
    pub win_rate_pct: f64,
    pub best_trade_pct: f64,
    pub worst_trade_pct: f64,
    pub avg_trade_pct: f64,
    pub profit_factor: f64,
    pub expectancy_pct: f64,
    pub sqn: f64,
    pub exposure_pct: f64,
    pub equity_final: f64,
    pub commissions: f64,
}

impl Metrics {
    /// Statistics of `run` over its window of `series` (the series it ran on).
    pub fn compute(run: &Run, series: &Series) -> Metrics {
        let ws = run.window_start;
        let ts = &series.timestamps()[ws.min(series.len())..];
        let close = series.close();
        let eq = &run.equity;
        let n = eq.len();
        let (first, last) = match (eq.first(), eq.last()) {
            (Some(&f), Some(&l)) => (f, l),
            _ => (f64::NAN, f64::NAN),
        };

        let (max_dd, mean_dd) = max_and_mean_peak(eq);

        let (periods_per_year, period) = annualisation(ts);
        let rets = period_returns(ts, eq, period);
        let g = geometric_mean(&rets);
        let g = if g.is_nan() { 0.0 } else { g };
        let ann = (1.0 + g).powf(periods_per_year) - 1.0;
        let var = if rets.len() > 1 {
            let m = rets.iter().sum::<f64>() / rets.len() as f64;
            rets.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (rets.len() - 1) as f64
        } else {
            f64::NAN
        };
        let vol = ((var + (1.0 + g).powi(2)).powf(periods_per_year)
            - (1.0 + g).powf(2.0 * periods_per_year))
        .sqrt();
        let downside = if rets.is_empty() {
            f64::NAN
        } else {
            (rets.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / rets.len() as f64).sqrt()
        };
        let nz = |x: f64| if x == 0.0 { f64::NAN } else { x };

        // Bars with a position, counting closed trades only (backtesting.py).
        // Trades come in time order and may share a bar (exit, then entry).
        let mut held = 0usize;
        let mut covered_to = 0usize; // bars before this are counted
        for t in &run.trades {
            let a = t.entry_bar.saturating_sub(ws).max(covered_to);
            let b = t.exit_bar.saturating_sub(ws) + 1;
            if b > a {
                held += b - a;
                covered_to = b;
            }
        }
        let exposure = held.min(n) as f64 / n.max(1) as f64 * 100.0;

        let bh0 = close.get(run.buy_hold_start).copied().unwrap_or(f64::NAN);
        let bh1 = close.last().copied().unwrap_or(f64::NAN);
        let t = trade_stats(&run.trades);
        Metrics {
            return_pct: (last - first) / first * 100.0,
            buy_hold_return_pct: (bh1 - bh0) / bh0 * 100.0,
            return_ann_pct: ann * 100.0,
            volatility_ann_pct: vol * 100.0,
            sharpe: ann * 100.0 / nz(vol * 100.0),
            sortino: ann / (downside * periods_per_year.sqrt()),
            calmar: ann / nz(max_dd),
            max_drawdown_pct: 0.0 - max_dd * 100.0,
            avg_drawdown_pct: 0.0 - mean_dd * 100.0,
            n_trades: t.n,
            win_rate_pct: t.win_rate_pct,
            best_trade_pct: t.best_pct,
            worst_trade_pct: t.worst_pct,
            avg_trade_pct: t.avg_pct,
            profit_factor: t.profit_factor,
            expectancy_pct: t.expectancy_pct,
            sqn: t.sqn,
            exposure_pct: exposure,
            equity_final: last,
            commissions: run.commissions(),
        }
    }

    /// The value under `key` (one of [`METRICS`]).
    pub fn get(&self, key: &str) -> Option<f64> {
        Some(match key {
            "return_pct" => self.return_pct,
            "buy_hold_return_pct" => self.buy_hold_return_pct,
            "return_ann_pct" => self.return_ann_pct,
            "volatility_ann_pct" => self.volatility_ann_pct,
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "calmar" => self.calmar,
            "max_drawdown_pct" => self.max_drawdown_pct,
            "avg_drawdown_pct" => self.avg_drawdown_pct,
            "n_trades" => self.n_trades as f64,
            "win_rate_pct" => self.win_rate_pct,
            "best_trade_pct" => self.best_trade_pct,
            "worst_trade_pct" => self.worst_trade_pct,
            "avg_trade_pct" => self.avg_trade_pct,
            "profit_factor" => self.profit_factor,
            "expectancy_pct" => self.expectancy_pct,
            "sqn" => self.sqn,
            "exposure_pct" => self.exposure_pct,
            "equity_final" => self.equity_final,
            "commissions" => self.commissions,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_key_and_a_label() {
        let m = Metrics {
            return_pct: 0.0,
            buy_hold_return_pct: 0.0,
            return_ann_pct: 0.0,
            volatility_ann_pct: 0.0,
            sharpe: 0.0,
            sortino: 0.0,
            calmar: 0.0,
            max_drawdown_pct: 0.0,
            avg_drawdown_pct: 0.0,
            n_trades: 0,
            win_rate_pct: 0.0,
            best_trade_pct: 0.0,
            worst_trade_pct: 0.0,
            avg_trade_pct: 0.0,
            profit_factor: 0.0,
            expectancy_pct: 0.0,
            sqn: 0.0,
            exposure_pct: 0.0,
            equity_final: 0.0,
            commissions: 0.0,
        };
        let json = serde_json::to_value(m).unwrap();
        let obj = json.as_object().unwrap();
        assert_eq!(obj.len(), METRICS.len());
        for (k, _) in METRICS {
            assert!(obj.contains_key(*k), "{k}");
            assert!(m.get(k).is_some(), "{k}");
        }
    }
}
