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
pub fn drawdown_stats(equity: &[f64], ts: &[Timestamp]) -> Drawdowns {
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
