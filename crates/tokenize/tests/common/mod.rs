//! Synthetic series for the property tests: random walks with volatility regimes,
//! exact zero returns, open gaps, bars without wicks, tick rounding, time gaps and
//! zero volumes, all from one seed.

#![allow(dead_code)]

use candlecast_data::{Bar, Series, SourceZone, Timestamp};
use candlecast_tokenize::SplitMix64;

pub fn normal(r: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - r.next_f64();
    let u2 = r.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `a * 10^(uniform(lo, hi))`.
pub fn log_uniform(r: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    10f64.powf(lo + (hi - lo) * r.next_f64())
}

pub fn synth_bars(seed: u64, n: usize) -> Vec<Bar> {
    let mut r = SplitMix64::new(seed);
    let mut price = log_uniform(&mut r, -3.0, 5.0);
    let base_vol = log_uniform(&mut r, -4.0, -1.3);
    let interval = [60_000i64, 300_000, 3_600_000, 86_400_000][(r.next_u64() % 4) as usize];
    let zero_p = 0.4 * r.next_f64();
    let flat_open_p = r.next_f64();
    let no_wick_p = 0.5 * r.next_f64();
    let gap_p = 0.03 * r.next_f64();
    let tick = if r.next_f64() < 0.5 {
        Some(price * log_uniform(&mut r, -4.0, -2.0))
    } else {
        None
    };
    let round = |x: f64| match tick {
        Some(t) => ((x / t).round() * t).max(t),
        None => x,
    };
    let mut ts = 1_500_000_000_000i64;
    let mut bars = Vec::with_capacity(n);
    let mut prev_close = round(price);
    for i in 0..n {
        ts += if r.next_f64() < gap_p {
            interval * (2 + (r.next_u64() % 500) as i64)
        } else {
            interval
        };
        let vol = base_vol * (1.5 * (i as f64 / 40.0).sin()).exp();
        let shock = if r.next_f64() < 0.01 { 15.0 } else { 1.0 };
        let ret = if r.next_f64() < zero_p {
            0.0
        } else {
            normal(&mut r) * vol * shock
        };
        let open = if i == 0 || r.next_f64() < flat_open_p {
            prev_close
        } else {
            round(prev_close * (0.5 * vol * normal(&mut r)).exp())
        };
        price = prev_close * ret.exp();
        let close = round(price);
        let wick = |r: &mut SplitMix64| {
            if r.next_f64() < no_wick_p {
                0.0
            } else {
                (normal(r) * vol).abs()
            }
        };
        let (up, down) = (wick(&mut r), wick(&mut r));
        let high = round(open.max(close) * up.exp()).max(open).max(close);
        let low = round(open.min(close) * (-down).exp()).min(open).min(close);
        let volume = if r.next_f64() < 0.1 {
            0.0
        } else {
            1000.0 * normal(&mut r).exp()
        };
        bars.push(Bar {
            ts: Timestamp(ts),
            open,
            high,
            low,
            close,
            volume,
        });
        prev_close = close;
    }
    bars
}

pub fn synth(seed: u64, n: usize) -> Series {
    Series::from_bars(
        Some(format!("S{seed}")),
        SourceZone::Utc,
        &synth_bars(seed, n),
    )
    .unwrap_or_else(|e| panic!("synthetic series {seed}: {e}"))
}
