//! Simulates one series from its [`Params`]: bar by bar, the variance process, the
//! profiles, jumps and gaps give the close-to-close return; a Brownian bridge inside
//! the bar gives its high and low; a tick grid rounds what is observed.

use crate::calendar::{next_open, weekday, Venue, DAY};
use crate::params::{Params, VolModel};
use crate::random::Draws;
use candlecast_data::{Bar, Series, SeriesError, SourceZone, Timestamp};

/// Steps of the intrabar path that the high and low are read from.
const SUBSTEPS: usize = 8;

/// E|z| for a standard normal, EGARCH's centring term.
const MEAN_ABS_NORMAL: f64 = 0.797_884_560_802_865_4;

/// The largest close-to-close log-return a bar may have (a +-65% move); keeps
/// prices positive and finite whatever the draws.
const MAX_LOG_RETURN: f64 = 0.5;

/// One step of the variance process, h -> h', from the standardized shock `z`
/// (and an independent normal `u` for stochastic volatility).
fn next_variance(model: VolModel, h: f64, z: f64, u: f64) -> f64 {
    let h = match model {
        VolModel::Gjr { alpha, gamma, beta } => {
            let omega = (1.0 - alpha - gamma / 2.0 - beta).max(1e-4);
            let lev = if z < 0.0 { gamma } else { 0.0 };
            omega + (alpha + lev) * h * z * z + beta * h
        }
        VolModel::Egarch { alpha, gamma, beta } => {
            (beta * h.ln() + alpha * (z.abs() - MEAN_ABS_NORMAL) + gamma * z).exp()
        }
        VolModel::Sv { phi, eta, rho } => {
            let shock = rho * z + (1.0 - rho * rho).sqrt() * u;
            // The -eta^2/2 keeps E[h] near 1 at the stationary point.
            (phi * h.ln() + eta * shock - 0.5 * eta * eta * (1.0 - phi)).exp()
        }
    };
    // A wide band around the long-run mean: rare draws must not run away.
    h.clamp(1e-3, 400.0)
}

/// The intraday volatility multiplier of a bar starting at `t`.
fn intraday(p: &Params, t: i64) -> f64 {
    if p.interval_ms >= DAY || p.intraday_amplitude == 0.0 {
        return 1.0;
    }
    let x = p.venue.day_position(t);
    match p.venue {
        Venue::EquitySession | Venue::SplitSession => {
            // The U shape of equity sessions: busiest at the open, then the close.
            1.0 + p.intraday_amplitude * ((-x / 0.08).exp() + 0.6 * (-(1.0 - x) / 0.08).exp())
        }
        _ => {
            let hour = x * 24.0;
            let mut dist = (hour - p.peak_hour).abs();
            dist = dist.min(24.0 - dist);
            1.0 + p.intraday_amplitude * (-(dist / 3.0).powi(2)).exp()
        }
    }
}

/// `n` bars of the process `p`, drawing from `d`.
pub fn simulate(p: &Params, n: usize, symbol: &str, d: &mut Draws) -> Result<Series, SeriesError> {
    let bar_vol = p.bar_vol();
    let bars_per_year =
        252.0 * (p.venue.minutes_per_day() * 60_000.0 / p.interval_ms as f64).max(1.0);
    let drift = p.annual_drift / bars_per_year;
    let tick = p.tick * p.start_price;
    let observe = |log_price: f64| -> f64 {
        let x = p.start_price * log_price.exp();
        if tick > 0.0 {
            ((x / tick).round() * tick).max(tick)
        } else {
            x
        }
    };

    let mut bars = Vec::with_capacity(n);
    let (mut h, mut regime, mut prev_r, mut vol_noise) = (1.0f64, false, 0.0f64, 0.0f64);
    let mut log_close = 0.0f64;
    let mut t = p.start_ms;
    while !p.venue.is_open(t, p.interval_ms) {
        t = next_open(p.venue, t, p.interval_ms);
    }
    let mut path = [0.0f64; SUBSTEPS];
    for i in 0..n {
        if i > 0 {
            let prev = t;
            t = next_open(p.venue, t, p.interval_ms);
            while p.holiday_rate > 0.0 && d.bernoulli(p.holiday_rate) {
                t = next_open(p.venue, t, p.interval_ms);
            }
            debug_assert!(t > prev);
        }
        let new_session = i > 0
            && bars
                .last()
                .is_some_and(|b: &Bar| t - b.ts.0 > p.interval_ms);
        let regime_mult = if regime { p.regime_multiplier } else { 1.0 };
        let profile = intraday(p, t) * p.weekday_vol[weekday(t)] * regime_mult;
        let sigma = bar_vol * h.sqrt() * profile;

        // The open: the previous close, moved by the overnight gap when a session
        // starts (daily bars: every bar), then the bar's own return.
        let gap_sd = match p.venue {
            Venue::DailyWeekdays => p.overnight_gap,
            _ if new_session => p.overnight_gap,
            _ => 0.0,
        };
        let gap = if gap_sd > 0.0 && i > 0 {
            gap_sd * bar_vol * h.sqrt() * d.normal()
        } else {
            0.0
        };
        let log_open = log_close + gap.clamp(-MAX_LOG_RETURN, MAX_LOG_RETURN);

        let z = d.student_t_unit(p.tail_df);
        let mut jump = 0.0;
        for _ in 0..d.poisson(p.jump_rate) {
            jump += p.jump_size * bar_vol * h.sqrt() * d.normal();
        }
        let r = (drift + p.return_ar * prev_r + sigma * z + jump)
            .clamp(-MAX_LOG_RETURN, MAX_LOG_RETURN);
        prev_r = r;

        // Brownian bridge from the open to the close through SUBSTEPS steps.
        let step_sd = sigma / (SUBSTEPS as f64).sqrt();
        let mut inc = [0.0f64; SUBSTEPS];
        for e in inc.iter_mut() {
            *e = step_sd * d.normal();
        }
        let shift = (r - inc.iter().sum::<f64>()) / SUBSTEPS as f64;
        let mut x = log_open;
        for (k, e) in inc.iter().enumerate() {
            x += e + shift;
            path[k] = x;
        }
        log_close = log_open + r;
        path[SUBSTEPS - 1] = log_close;

        let open = observe(log_open);
        let close = observe(log_close);
        let (mut high, mut low) = (open.max(close), open.min(close));
        for &q in &path {
            let v = observe(q);
            high = high.max(v);
            low = low.min(v);
        }
        let volume = if p.has_volume {
            vol_noise = p.volume_persistence * vol_noise + p.volume_noise * d.normal();
            let ln_v = p.volume_level
                + p.volume_elasticity * (profile * h.sqrt()).ln()
                + p.volume_shock_loading * z.abs()
                + vol_noise;
            ln_v.min(40.0).exp().round()
        } else {
            0.0
        };
        bars.push(Bar {
            ts: Timestamp(t),
            open,
            high,
            low,
            close,
            volume,
        });

        h = next_variance(p.vol, h, z, d.normal());
        if p.regime_switch > 0.0 && d.bernoulli(p.regime_switch) {
            regime = !regime;
        }
    }
    Series::from_bars(Some(symbol.to_string()), SourceZone::Utc, &bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_processes_revert_to_about_one() {
        let models = [
            VolModel::Gjr {
                alpha: 0.08,
                gamma: 0.1,
                beta: 0.85,
            },
            VolModel::Egarch {
                alpha: 0.15,
                gamma: -0.08,
                beta: 0.97,
            },
            VolModel::Sv {
                phi: 0.97,
                eta: 0.2,
                rho: -0.5,
            },
        ];
        for m in models {
            let mut d = Draws::new(5);
            let (mut h, mut sum) = (1.0, 0.0);
            let n = 200_000;
            for _ in 0..n {
                let z = d.normal();
                sum += h;
                h = next_variance(m, h, z, d.normal());
            }
            let mean = sum / n as f64;
            assert!((0.6..1.6).contains(&mean), "{m:?}: mean variance {mean}");
        }
    }

    #[test]
    fn leverage_raises_variance_after_falls() {
        let m = VolModel::Gjr {
            alpha: 0.05,
            gamma: 0.1,
            beta: 0.9,
        };
        assert!(next_variance(m, 1.0, -2.0, 0.0) > next_variance(m, 1.0, 2.0, 0.0));
        let sv = VolModel::Sv {
            phi: 0.95,
            eta: 0.2,
            rho: -0.6,
        };
        assert!(next_variance(sv, 1.0, -2.0, 0.0) > next_variance(sv, 1.0, 2.0, 0.0));
    }
}
