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
    let sim = Sim::new(p);
    let mut bars = Vec::with_capacity(n);
    let mut carry = Carry {
        h: 1.0,
        regime: false,
        prev_r: 0.0,
        vol_noise: 0.0,
        log_close: 0.0,
    };
    let mut t = p.start_ms;
    while !p.venue.is_open(t, p.interval_ms) {
        t = next_open(p.venue, t, p.interval_ms);
    }
    for i in 0..n {
        if i > 0 {
            t = next_bar_time(p, t, d);
        }
        let new_session = i > 0
            && bars
                .last()
                .is_some_and(|b: &Bar| t - b.ts.0 > p.interval_ms);
        bars.push(sim.bar(&mut carry, t, i == 0, new_session, d));
    }
    Series::from_bars(Some(symbol.to_string()), SourceZone::Utc, &bars)
}

/// The start of the bar after the one at `t`. A holiday (daily venues only) skips a
/// whole session; where there are holidays every bar costs at least one draw, so
/// this must run before the bar's own draws.
fn next_bar_time(p: &Params, t: i64, d: &mut Draws) -> i64 {
    let prev = t;
    let mut t = next_open(p.venue, t, p.interval_ms);
    while p.holiday_rate > 0.0 && d.bernoulli(p.holiday_rate) {
        t = next_open(p.venue, t, p.interval_ms);
    }
    debug_assert!(t > prev);
    t
}

/// What every bar of one series shares, worked out once from its [`Params`].
struct Sim<'a> {
    p: &'a Params,
    /// Long-run volatility of one bar's log-return.
    bar_vol: f64,
    /// Drift of the log price per bar.
    drift: f64,
    /// The price tick in price units (0: continuous prices).
    tick: f64,
}

/// The state one bar hands to the next.
struct Carry {
    /// Conditional variance, long-run mean about 1.
    h: f64,
    /// In the high-volatility regime.
    regime: bool,
    /// The previous bar's close-to-close log-return (for the AR(1) term).
    prev_r: f64,
    /// The AR(1) noise of ln volume.
    vol_noise: f64,
    /// Log of the previous close relative to the start price.
    log_close: f64,
}

impl<'a> Sim<'a> {
    fn new(p: &'a Params) -> Sim<'a> {
        let bars_per_year =
            252.0 * (p.venue.minutes_per_day() * 60_000.0 / p.interval_ms as f64).max(1.0);
        Sim {
            p,
            bar_vol: p.bar_vol(),
            drift: p.annual_drift / bars_per_year,
            tick: p.tick * p.start_price,
        }
    }

    /// The observed price at `log_price`: on the tick grid when there is one, and
    /// never below one tick, so a ticked price cannot round to zero.
    fn observe(&self, log_price: f64) -> f64 {
        let x = self.p.start_price * log_price.exp();
        if self.tick > 0.0 {
            ((x / self.tick).round() * self.tick).max(self.tick)
        } else {
            x
        }
    }

    /// The bar starting at `t`, and the variance and regime for the next one.
    // The draws are in the order the corpus was first generated with (gap, shock,
    // jumps, bridge, volume, variance, regime); tests/golden pins the bars.
    fn bar(&self, c: &mut Carry, t: i64, first: bool, new_session: bool, d: &mut Draws) -> Bar {
        let p = self.p;
        let regime_mult = if c.regime { p.regime_multiplier } else { 1.0 };
        let profile = intraday(p, t) * p.weekday_vol[weekday(t)] * regime_mult;
        let sigma = self.bar_vol * c.h.sqrt() * profile;

        // The open: the previous close, moved by the overnight gap when a session
        // starts (daily bars: every bar), then the bar's own return.
        let gap_sd = match p.venue {
            Venue::DailyWeekdays => p.overnight_gap,
            _ if new_session => p.overnight_gap,
            _ => 0.0,
        };
        let gap = if gap_sd > 0.0 && !first {
            gap_sd * self.bar_vol * c.h.sqrt() * d.normal()
        } else {
            0.0
        };
        let log_open = c.log_close + gap.clamp(-MAX_LOG_RETURN, MAX_LOG_RETURN);

        let z = d.student_t_unit(p.tail_df);
        let mut jump = 0.0;
        for _ in 0..d.poisson(p.jump_rate) {
            jump += p.jump_size * self.bar_vol * c.h.sqrt() * d.normal();
        }
        let r = (self.drift + p.return_ar * c.prev_r + sigma * z + jump)
            .clamp(-MAX_LOG_RETURN, MAX_LOG_RETURN);
        c.prev_r = r;

        let path = bridge(log_open, r, sigma, d);
        c.log_close = log_open + r;
        let open = self.observe(log_open);
        let close = self.observe(c.log_close);
        let (mut high, mut low) = (open.max(close), open.min(close));
        for &q in &path {
            let v = self.observe(q);
            high = high.max(v);
            low = low.min(v);
        }
        let volume = self.volume(c, profile, z, d);
        let bar = Bar {
            ts: Timestamp(t),
            open,
            high,
            low,
            close,
            volume,
        };

        c.h = next_variance(p.vol, c.h, z, d.normal());
        if p.regime_switch > 0.0 && d.bernoulli(p.regime_switch) {
            c.regime = !c.regime;
        }
        bar
    }

    /// Volume that rises with volatility and with the size of the bar's shock `z`,
    /// as real volume does; 0 (and no draw) for series without volume.
    fn volume(&self, c: &mut Carry, profile: f64, z: f64, d: &mut Draws) -> f64 {
        let p = self.p;
        if !p.has_volume {
            return 0.0;
        }
        c.vol_noise = p.volume_persistence * c.vol_noise + p.volume_noise * d.normal();
        let ln_v = p.volume_level
            + p.volume_elasticity * (profile * c.h.sqrt()).ln()
            + p.volume_shock_loading * z.abs()
            + c.vol_noise;
        ln_v.min(40.0).exp().round()
    }
}

/// A Brownian bridge from `log_open` to `log_open + r` through SUBSTEPS steps of
/// sd `sigma` in all: the path the bar's high and low are read from. Its last
/// point is the close exactly.
fn bridge(log_open: f64, r: f64, sigma: f64, d: &mut Draws) -> [f64; SUBSTEPS] {
    let step_sd = sigma / (SUBSTEPS as f64).sqrt();
    let mut inc = [0.0f64; SUBSTEPS];
    for e in inc.iter_mut() {
        *e = step_sd * d.normal();
    }
    let shift = (r - inc.iter().sum::<f64>()) / SUBSTEPS as f64;
    let mut path = [0.0f64; SUBSTEPS];
    let mut x = log_open;
    for (k, e) in inc.iter().enumerate() {
        x += e + shift;
        path[k] = x;
    }
    path[SUBSTEPS - 1] = log_open + r;
    path
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
