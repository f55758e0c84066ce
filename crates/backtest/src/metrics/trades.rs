//! Statistics of the closed trades, with backtesting.py's definitions: win rate
//! counts trades with positive cash profit; best, worst, expectancy and profit
//! factor use the per-trade returns; the average trade is their geometric mean;
//! SQN uses the cash profits.

use super::periods::geometric_mean;
use crate::engine::Trade;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeStats {
    pub n: usize,
    pub win_rate_pct: f64,
    pub best_pct: f64,
    pub worst_pct: f64,
    pub avg_pct: f64,
    pub profit_factor: f64,
    pub expectancy_pct: f64,
    pub sqn: f64,
}

pub fn trade_stats(trades: &[Trade]) -> TradeStats {
    let n = trades.len();
    if n == 0 {
        return TradeStats {
            n,
            win_rate_pct: f64::NAN,
            best_pct: f64::NAN,
            worst_pct: f64::NAN,
            avg_pct: f64::NAN,
            profit_factor: f64::NAN,
            expectancy_pct: f64::NAN,
            sqn: f64::NAN,
        };
    }
    let nf = n as f64;
    let rets: Vec<f64> = trades.iter().map(|t| t.ret).collect();
    let wins = trades.iter().filter(|t| t.pnl > 0.0).count() as f64;
    let gains: f64 = rets.iter().filter(|&&r| r > 0.0).sum();
    let losses: f64 = rets.iter().filter(|&&r| r < 0.0).sum::<f64>().abs();
    let pnl_mean = trades.iter().map(|t| t.pnl).sum::<f64>() / nf;
    let pnl_sd = if n > 1 {
        (trades
            .iter()
            .map(|t| (t.pnl - pnl_mean).powi(2))
            .sum::<f64>()
            / (nf - 1.0))
            .sqrt()
    } else {
        f64::NAN
    };
    TradeStats {
        n,
        win_rate_pct: wins / nf * 100.0,
        best_pct: rets.iter().copied().fold(f64::NEG_INFINITY, f64::max) * 100.0,
        worst_pct: rets.iter().copied().fold(f64::INFINITY, f64::min) * 100.0,
        avg_pct: geometric_mean(&rets) * 100.0,
        profit_factor: if losses > 0.0 {
            gains / losses
        } else {
            f64::NAN
        },
        expectancy_pct: rets.iter().sum::<f64>() / nf * 100.0,
        sqn: if pnl_sd > 0.0 {
            nf.sqrt() * pnl_mean / pnl_sd
        } else {
            f64::NAN
        },
    }
}
