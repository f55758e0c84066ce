//! Statistics of the closed trades, with backtesting.py's definitions: win rate
//! counts trades with positive cash profit; best, worst, expectancy and profit
//! factor use the per-trade returns; the average trade is their geometric mean;
//! SQN and the Kelly criterion use the cash profits; a trade lasts from its
//! entry bar's time to its exit bar's.

use super::periods::geometric_mean;
use super::span::Span;
use crate::engine::Trade;
use candlecast_data::Timestamp;

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
    pub kelly: f64,
    /// Not rounded; `None` without trades.
    pub max_duration: Option<Span>,
    pub mean_duration: Option<Span>,
}

/// The statistics of `trades`, whose bars index `ts`.
pub fn trade_stats(trades: &[Trade], ts: &[Timestamp]) -> TradeStats {
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
            kelly: f64::NAN,
            max_duration: None,
            mean_duration: None,
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
    let mean_of = |keep: fn(f64) -> bool| {
        let (s, k) = trades
            .iter()
            .filter(|t| keep(t.pnl))
            .fold((0.0, 0usize), |(s, k), t| (s + t.pnl, k + 1));
        s / k as f64 // NaN for none, as pandas' mean of nothing
    };
    let win_rate = wins / nf;
    let payoff = mean_of(|p| p > 0.0) / -mean_of(|p| p < 0.0);
    let durations: Vec<Span> = trades
        .iter()
        .filter_map(|t| Some(Span::between(*ts.get(t.entry_bar)?, *ts.get(t.exit_bar)?)))
        .collect();
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
        kelly: win_rate - (1.0 - win_rate) / payoff,
        max_duration: durations.iter().copied().max(),
        mean_duration: Span::mean(durations),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(entry_bar: usize, exit_bar: usize, pnl: f64) -> Trade {
        Trade {
            size: 1.0,
            entry_bar,
            exit_bar,
            entry_price: 100.0,
            exit_price: 100.0 + pnl,
            pnl,
            ret: pnl / 100.0,
            commission: 0.0,
        }
    }

    #[test]
    fn kelly_and_durations() {
        let ts: Vec<Timestamp> = (0..10).map(|h| Timestamp(h * 3_600_000)).collect();
        let t = [trade(0, 2, 30.0), trade(2, 3, -10.0), trade(4, 9, 10.0)];
        let s = trade_stats(&t, &ts);
        // Win rate 2/3, mean win 20, mean loss 10: 2/3 - (1/3) / 2.
        assert!((s.kelly - (2.0 / 3.0 - 1.0 / 6.0)).abs() < 1e-15);
        assert_eq!(s.max_duration, Some(Span::from_ms(5 * 3_600_000)));
        assert_eq!(s.mean_duration, Some(Span::from_ms(8 * 3_600_000 / 3)));
        // No losing trade: backtesting.py's Kelly is NaN.
        assert!(trade_stats(&t[..1], &ts).kelly.is_nan());
    }
}
