//! Drawdowns: the deepest, the mean of each drawdown's deepest point, and how
//! long they last (backtesting.py's `compute_drawdown_duration_peaks`).

use super::span::Span;
use candlecast_data::Timestamp;

/// `1 - equity / running peak` at each bar.
pub fn drawdowns(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            1.0 - e / peak
        })
        .collect()
}

/// The drawdown statistics of an equity curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawdowns {
    /// The deepest drawdown, a positive fraction.
    pub max: f64,
    /// The mean of each drawdown's deepest point, a positive fraction.
    pub mean_peak: f64,
    /// The longest drawdown and the mean length, from the bar it started at (the
    /// last peak) to the bar of the next peak or the last bar; not rounded.
    pub max_duration: Option<Span>,
    pub mean_duration: Option<Span>,
    /// The highest equity, ignoring NaN (NaN for none): the pass has it anyway.
    pub peak: f64,
}

/// The drawdowns of `equity`, whose bars are stamped `ts`, in one pass without
/// storing the drawdowns.
///
/// A drawdown runs between two bars at a new peak (drawdown exactly 0) with at
/// least one bar between them; the last bar closes the final, unfinished one.
/// When there is none, backtesting.py averages the non-zero drawdown values
/// instead, and so does this; its durations are then NaN (backtesting.py
/// reports the largest drawdown fraction in their place, which this does not
/// copy).
///
/// The per-bar work is a comparison: while equity is finite and its peak
/// positive, a drawdown's deepest point is `1 - low / peak` for its lowest
/// equity `low` (rounded division and subtraction are monotone, so this is
/// bit for bit the largest `1 - e / peak` over its bars), and a bar is at a
/// peak exactly when `e >= peak`. Any other curve, and one with no finished
/// drawdown, takes [`drawdown_stats_per_bar`], which computes every bar's
/// drawdown as backtesting.py does.
pub fn drawdown_stats(equity: &[f64], ts: &[Timestamp]) -> Drawdowns {
    let n = equity.len().min(ts.len());
    let (mut sum, mut count) = (0.0, 0usize);
    let mut max = 0.0f64;
    let mut peak = f64::NEG_INFINITY;
    // The lowest equity since the last bar at a peak (INFINITY: no bar yet).
    let mut low = f64::INFINITY;
    let mut prev = 0usize;
    let mut durations: Vec<Span> = Vec::new();
    for (i, &e) in equity[..n].iter().enumerate() {
        if !e.is_finite() {
            return drawdown_stats_per_bar(equity, ts);
        }
        if e >= peak {
            if low.is_finite() {
                let deepest = 1.0 - low / peak;
                max = max.max(deepest);
                sum += deepest;
                count += 1;
                durations.push(Span::between(ts[prev], ts[i]));
            }
            if e <= 0.0 {
                return drawdown_stats_per_bar(equity, ts);
            }
            peak = e;
            prev = i;
            low = f64::INFINITY;
        } else {
            // Both are finite here: a plain compare, not NaN-aware `min`.
            if e < low {
                low = e;
            }
        }
    }
    if low.is_finite() {
        // The unfinished drawdown, closed by the last bar; a one-bar one
        // (right after the peak) counts toward the deepest only.
        let deepest = 1.0 - low / peak;
        max = max.max(deepest);
        if n - 1 > prev + 1 {
            sum += deepest;
            count += 1;
            durations.push(Span::between(ts[prev], ts[n - 1]));
        }
    }
    if count == 0 {
        return drawdown_stats_per_bar(equity, ts);
    }
    Drawdowns {
        max,
        mean_peak: sum / count as f64,
        max_duration: durations.iter().copied().max(),
        mean_duration: Span::mean(durations),
        // Every value was finite, so the running peak is their maximum.
        peak,
    }
}

/// [`drawdown_stats`] the way backtesting.py computes it, every bar's drawdown
/// `1 - e / peak` in turn: for curves with non-finite values or a peak at or
/// below zero, and for the fallback mean when no drawdown finishes.
fn drawdown_stats_per_bar(equity: &[f64], ts: &[Timestamp]) -> Drawdowns {
    let n = equity.len().min(ts.len());
    let (mut sum, mut count) = (0.0, 0usize);
    let (mut nz_sum, mut nz_count) = (0.0, 0usize);
    let mut max = 0.0f64;
    let mut peak = f64::NEG_INFINITY;
    let mut prev: Option<usize> = None;
    let mut run_max = f64::NAN;
    let mut durations: Vec<Span> = Vec::new();
    for (i, &e) in equity[..n].iter().enumerate() {
        peak = peak.max(e);
        let x = 1.0 - e / peak;
        if !x.is_nan() {
            max = max.max(x);
            if x != 0.0 {
                nz_sum += x;
                nz_count += 1;
            }
        }
        run_max = if run_max.is_nan() { x } else { run_max.max(x) };
        if x == 0.0 || i + 1 == n {
            if let Some(p) = prev {
                if i > p + 1 {
                    sum += run_max;
                    count += 1;
                    durations.push(Span::between(ts[p], ts[i]));
                }
            }
            prev = Some(i);
            run_max = x;
        }
    }
    let mean_peak = if count > 0 {
        sum / count as f64
    } else if nz_count > 0 {
        nz_sum / nz_count as f64
    } else {
        f64::NAN
    };
    Drawdowns {
        max,
        mean_peak,
        max_duration: durations.iter().copied().max(),
        mean_duration: Span::mean(durations),
        peak: equity[..n].iter().copied().fold(f64::NAN, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<Timestamp> {
        (0..n as i64).map(|d| Timestamp(d * 86_400_000)).collect()
    }

    #[test]
    fn peaks_and_lengths_of_two_drawdowns_are_averaged() {
        let eq = [100.0, 90.0, 95.0, 110.0, 99.0, 120.0, 108.0];
        let d = drawdown_stats(&eq, &days(eq.len()));
        assert!((d.max - 0.1).abs() < 1e-12);
        // (0 -> 3): 0.1 and (3 -> 5): 0.1; (5 -> 6) is adjacent and does not count.
        assert!((d.mean_peak - 0.1).abs() < 1e-12);
        assert_eq!(d.max_duration, Some(Span::from_ms(3 * 86_400_000)));
        assert_eq!(d.mean_duration, Some(Span::from_ms(5 * 43_200_000)));
        let eq = [100.0, 80.0, 100.0, 100.0, 95.0];
        let d = drawdown_stats(&eq, &days(eq.len()));
        // (0 -> 2): 0.2; (3 -> 4) is adjacent and does not count.
        assert!((d.mean_peak - 0.2).abs() < 1e-12);
        assert_eq!(d.max_duration, Some(Span::from_ms(2 * 86_400_000)));
    }

    /// The comparison-only pass equals the per-bar one bit for bit, on random
    /// walks with ties, repeated values, flat stretches and a final peak.
    #[test]
    fn the_fast_pass_is_the_per_bar_pass() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..400 {
            let n = 1 + (next() % 300) as usize;
            let mut e = 100.0f64;
            let eq: Vec<f64> = (0..n)
                .map(|_| {
                    let r = next();
                    match r % 5 {
                        0 => {} // flat: a tie with the last value
                        1 => e = (e * 64.0).round() / 64.0,
                        _ => e *= 1.0 + ((r >> 8) % 2001) as f64 / 1e5 - 0.01,
                    }
                    e
                })
                .collect();
            let eq = if case % 7 == 0 {
                // ends at a new peak
                let mut eq = eq;
                let top = eq.iter().copied().fold(0.0, f64::max);
                eq.push(top * 1.01);
                eq
            } else {
                eq
            };
            let ts = days(eq.len());
            let (fast, slow) = (drawdown_stats(&eq, &ts), drawdown_stats_per_bar(&eq, &ts));
            assert_eq!(fast.max.to_bits(), slow.max.to_bits(), "case {case}");
            assert_eq!(
                fast.mean_peak.to_bits(),
                slow.mean_peak.to_bits(),
                "case {case}"
            );
            assert_eq!(fast.max_duration, slow.max_duration, "case {case}");
            assert_eq!(fast.mean_duration, slow.mean_duration, "case {case}");
            assert_eq!(fast.peak.to_bits(), slow.peak.to_bits(), "case {case}");
        }
    }

    #[test]
    fn curves_the_fast_pass_does_not_take_agree_too() {
        for eq in [
            vec![100.0, f64::NAN, 90.0, 120.0, 80.0],
            vec![0.0, -5.0, 3.0, 2.0, 4.0],
            vec![-3.0, -4.0, -2.0, -5.0],
        ] {
            let ts = days(eq.len());
            let (fast, slow) = (drawdown_stats(&eq, &ts), drawdown_stats_per_bar(&eq, &ts));
            assert_eq!(fast.max.to_bits(), slow.max.to_bits());
            assert_eq!(fast.mean_peak.to_bits(), slow.mean_peak.to_bits());
            assert_eq!(fast.max_duration, slow.max_duration);
        }
    }

    #[test]
    fn no_finished_drawdown_has_no_duration() {
        // The only drawdown is on the last bar: backtesting.py's fallback.
        let eq = [100.0, 101.0, 99.0];
        let d = drawdown_stats(&eq, &days(eq.len()));
        assert!((d.mean_peak - (1.0 - 99.0 / 101.0)).abs() < 1e-15);
        assert_eq!((d.max_duration, d.mean_duration), (None, None));
        let d = drawdown_stats(&[100.0; 4], &days(4));
        assert!(d.mean_peak.is_nan() && d.max == 0.0 && d.max_duration.is_none());
    }
}
