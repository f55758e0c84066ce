//! The family of processes: one [`Params`] per series, drawn from ranges chosen so
//! the corpus spans what real markets do (README, "Synthetic data", lists them).

use crate::calendar::{Venue, DAY, HOUR, MINUTE};
use crate::random::Draws;
use serde::Serialize;

/// How the conditional variance `h_t` (long-run mean about 1) moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VolModel {
    /// GJR-GARCH(1,1): h' = (1 - alpha - gamma/2 - beta) + (alpha + gamma 1[z < 0]) h z^2 + beta h.
    /// `gamma` > 0 is the leverage effect: falls raise volatility more than rises.
    Gjr { alpha: f64, gamma: f64, beta: f64 },
    /// EGARCH(1,1): ln h' = beta ln h + alpha (|z| - E|z|) + gamma z.
    Egarch { alpha: f64, gamma: f64, beta: f64 },
    /// Log-normal stochastic volatility with leverage:
    /// ln h' = phi ln h + eta (rho z + sqrt(1 - rho^2) u), u independent of z.
    Sv { phi: f64, eta: f64, rho: f64 },
}

/// Everything that defines one synthetic series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    pub venue: Venue,
    /// Bar length in milliseconds.
    pub interval_ms: i64,
    /// First bar time (ms since the epoch, UTC).
    pub start_ms: i64,
    pub start_price: f64,
    /// Long-run volatility of one trading day's close-to-close log-return.
    pub daily_vol: f64,
    /// Annualised drift of the log price.
    pub annual_drift: f64,
    pub vol: VolModel,
    /// Degrees of freedom of the (unit-variance) Student-t innovations.
    pub tail_df: f64,
    /// Lag-one autocorrelation of returns (negative: bid-ask bounce in short bars).
    pub return_ar: f64,
    /// Two volatility regimes: the calm one has multiplier 1, the other this.
    pub regime_multiplier: f64,
    /// Chance per bar of switching regime (0: no regimes).
    pub regime_switch: f64,
    /// Expected jumps per bar and their size in per-bar volatilities (sd).
    pub jump_rate: f64,
    pub jump_size: f64,
    /// Intraday volatility profile: extra volatility at the session's open (and, at
    /// 0.6 of it, at its close) for session venues, or around `peak_hour` UTC for
    /// round-the-clock ones.
    pub intraday_amplitude: f64,
    pub peak_hour: f64,
    /// Volatility multiplier per weekday (Monday first); weekends matter for crypto.
    pub weekday_vol: [f64; 7],
    /// Sd of the return between a session's close and the next open, in per-bar
    /// volatilities (0 for round-the-clock venues).
    pub overnight_gap: f64,
    /// Price tick as a fraction of the start price (0: continuous prices). A tick
    /// near the per-bar move makes many bars unchanged.
    pub tick: f64,
    /// Daily holidays (share of weekdays without a bar), for daily bars.
    pub holiday_rate: f64,
    /// Volume: none at all (an index or an FX quote feed) when false.
    pub has_volume: bool,
    /// ln volume = level + vol_elasticity ln(volatility multiplier) + shock_loading |z|
    /// + AR(1) noise with `volume_persistence` and `volume_noise` sd.
    pub volume_level: f64,
    pub volume_elasticity: f64,
    pub volume_shock_loading: f64,
    pub volume_persistence: f64,
    pub volume_noise: f64,
}

/// 2015-01-05 00:00 UTC, a Monday: series start at a random week after it.
const EPOCH_MONDAY: i64 = 1_420_416_000_000;

impl Params {
    /// Draws one member of the family.
    // Every draw below is in the order the corpus was first generated with: the
    // struct literal's fields are evaluated top to bottom, and moving one draw
    // would change every series after it (tests/golden pins them).
    pub fn draw(d: &mut Draws) -> Params {
        let venue = draw_venue(d);
        let interval_ms = draw_interval(d, venue);
        let daily_vol = match venue {
            Venue::Continuous => d.log_range(0.015, 0.06),
            Venue::FxWeek => d.log_range(0.003, 0.012),
            _ => d.log_range(0.006, 0.035),
        };
        let vol = draw_vol_model(d);
        let intraday = interval_ms < DAY;
        let weekday_vol = draw_weekday_vol(d, venue);
        let session = matches!(venue, Venue::EquitySession | Venue::SplitSession);
        let short_bars = interval_ms <= 5 * MINUTE;
        let regimes = d.bernoulli(0.5);
        Params {
            venue,
            interval_ms,
            start_ms: EPOCH_MONDAY + (d.range(0.0, 400.0) as i64) * 7 * DAY,
            start_price: d.log_range(2.0, 20_000.0),
            daily_vol,
            annual_drift: d.range(-0.15, 0.25),
            vol,
            tail_df: d.log_range(3.5, 40.0),
            return_ar: if short_bars {
                d.range(-0.15, 0.03)
            } else {
                d.range(-0.05, 0.05)
            },
            regime_multiplier: if regimes { d.range(1.5, 3.0) } else { 1.0 },
            regime_switch: if regimes {
                d.log_range(0.0005, 0.01)
            } else {
                0.0
            },
            jump_rate: if d.bernoulli(0.6) {
                d.log_range(0.0005, 0.02)
            } else {
                0.0
            },
            jump_size: d.range(3.0, 10.0),
            intraday_amplitude: if intraday { d.range(0.2, 2.0) } else { 0.0 },
            peak_hour: d.range(12.0, 16.0),
            weekday_vol,
            overnight_gap: match venue {
                _ if session => d.range(1.0, 6.0),
                // Daily bars open a little away from the previous close.
                Venue::DailyWeekdays => d.range(0.0, 0.4),
                _ => 0.0,
            },
            tick: draw_tick(d, venue, interval_ms, daily_vol),
            holiday_rate: if venue == Venue::DailyWeekdays {
                d.range(0.0, 0.05)
            } else {
                0.0
            },
            has_volume: d.bernoulli(0.85),
            volume_level: d.range(4.0, 14.0),
            volume_elasticity: d.range(0.5, 1.5),
            volume_shock_loading: d.range(0.0, 0.4),
            volume_persistence: d.range(0.3, 0.9),
            volume_noise: d.range(0.2, 0.6),
        }
    }

    /// Long-run volatility of one bar's log-return inside a session.
    pub fn bar_vol(&self) -> f64 {
        let bars_per_day =
            (self.venue.minutes_per_day() * MINUTE as f64 / self.interval_ms as f64).max(1.0);
        self.daily_vol / bars_per_day.sqrt()
    }
}

/// Crypto trades round the clock, so it is the most common venue (and the fallback).
fn draw_venue(d: &mut Draws) -> Venue {
    d.pick(&[
        (Venue::Continuous, 0.30),
        (Venue::FxWeek, 0.20),
        (Venue::EquitySession, 0.20),
        (Venue::SplitSession, 0.10),
        (Venue::DailyWeekdays, 0.20),
    ])
    .unwrap_or(Venue::Continuous)
}

/// Bar lengths depend on the venue: sessions of a few hours are sampled no coarser
/// than 30 minutes (a day would be one bar), daily venues only by the day.
fn draw_interval(d: &mut Draws, venue: Venue) -> i64 {
    let m = MINUTE;
    let intervals: &[(i64, f64)] = match venue {
        Venue::Continuous => &[
            (m, 1.),
            (5 * m, 1.),
            (15 * m, 1.),
            (HOUR, 1.5),
            (4 * HOUR, 0.5),
            (DAY, 1.),
        ],
        Venue::FxWeek => &[(m, 1.), (5 * m, 1.), (15 * m, 1.), (HOUR, 1.5), (DAY, 0.5)],
        Venue::EquitySession => &[(m, 1.), (5 * m, 1.5), (15 * m, 1.), (30 * m, 1.)],
        Venue::SplitSession => &[(m, 1.), (5 * m, 1.5), (15 * m, 1.), (30 * m, 0.5)],
        Venue::DailyWeekdays => &[(DAY, 1.)],
    };
    d.pick(intervals).unwrap_or(HOUR)
}

/// The variance process, GJR-GARCH most often.
fn draw_vol_model(d: &mut Draws) -> VolModel {
    // The log-variance models are drawn by the spread of ln h they produce
    // (its stationary sd, 0.3-1.1: volatility moving by factors of about 1.4-3 in
    // a year) rather than by their raw coefficients, which at persistence near
    // one would otherwise give volatility swinging over orders of magnitude.
    let log_h_sd = d.range(0.3, 1.1);
    match d.pick(&[(0u8, 0.45), (1, 0.25), (2, 0.30)]).unwrap_or(0) {
        0 => {
            let alpha = d.range(0.02, 0.10);
            let gamma = d.range(0.0, 0.12);
            let persistence = d.range(0.90, 0.99);
            let beta = (persistence - alpha - gamma / 2.0).max(0.5);
            VolModel::Gjr { alpha, gamma, beta }
        }
        1 => {
            let beta: f64 = d.range(0.93, 0.995);
            // Var ln h = (alpha^2 Var|z| + gamma^2) / (1 - beta^2), Var|z| = 1 - 2/pi.
            let lev = d.range(0.0, 0.6);
            let alpha = log_h_sd * (1.0 - beta * beta).sqrt() / (0.3634 + lev * lev).sqrt();
            VolModel::Egarch {
                alpha,
                gamma: -lev * alpha,
                beta,
            }
        }
        _ => {
            let phi: f64 = d.range(0.90, 0.995);
            VolModel::Sv {
                phi,
                eta: log_h_sd * (1.0 - phi * phi).sqrt(),
                rho: -d.range(0.0, 0.7),
            }
        }
    }
}

/// Weekdays vary a little; only round-the-clock venues trade (quietly) at weekends.
fn draw_weekday_vol(d: &mut Draws, venue: Venue) -> [f64; 7] {
    let mut weekday_vol = [1.0; 7];
    for w in weekday_vol.iter_mut().take(5) {
        *w = d.range(0.9, 1.1);
    }
    if venue == Venue::Continuous {
        let weekend = d.range(0.5, 0.9);
        weekday_vol[5] = weekend;
        weekday_vol[6] = weekend;
    }
    weekday_vol
}

/// The price tick as a share of the start price, or 0 for continuous prices. It is
/// sized against the typical bar move so that ticked series range from barely
/// rounded to mostly unchanged bars.
fn draw_tick(d: &mut Draws, venue: Venue, interval_ms: i64, daily_vol: f64) -> f64 {
    if d.bernoulli(0.4) {
        // Between half a tick and fifty ticks per typical bar move.
        let bar_vol =
            daily_vol * (interval_ms as f64 / (venue.minutes_per_day() * MINUTE as f64)).sqrt();
        bar_vol.min(daily_vol) / d.log_range(0.5, 50.0)
    } else {
        0.0
    }
}
