//! Drawdowns: the deepest, and the mean of each drawdown's deepest point
//! (backtesting.py's `compute_drawdown_duration_peaks`).

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

/// (max drawdown, mean of the drawdown peaks) of an equity curve, both as
/// positive fractions, in one pass without storing the drawdowns.
///
/// A drawdown runs between two bars at a new peak (drawdown exactly 0) with at
/// least one bar between them; the last bar closes the final, unfinished one.
/// When there is none, backtesting.py averages the non-zero drawdown values
/// instead, and so does this.
pub fn max_and_mean_peak(equity: &[f64]) -> (f64, f64) {
    let n = equity.len();
    let (mut sum, mut count) = (0.0, 0usize);
    let (mut nz_sum, mut nz_count) = (0.0, 0usize);
    let mut max = 0.0f64;
    let mut peak = f64::NEG_INFINITY;
    let mut prev: Option<usize> = None;
    let mut run_max = f64::NAN;
    for (i, &e) in equity.iter().enumerate() {
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
                }
            }
            prev = Some(i);
            run_max = x;
        }
    }
    let mean = if count > 0 {
        sum / count as f64
    } else if nz_count > 0 {
        nz_sum / nz_count as f64
    } else {
        f64::NAN
    };
    (max, mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_of_two_drawdowns_are_averaged() {
        let eq = [100.0, 90.0, 95.0, 110.0, 99.0, 120.0, 108.0];
        let (max, mean) = max_and_mean_peak(&eq);
        assert!((max - 0.1).abs() < 1e-12);
        // (0 -> 3): 0.1 and (3 -> 5): 0.1; (5 -> 6) is adjacent and does not count.
        assert!((mean - 0.1).abs() < 1e-12);
        let eq = [100.0, 80.0, 100.0, 100.0, 95.0];
        let (_, mean) = max_and_mean_peak(&eq);
        // (0 -> 2): 0.2; (3 -> 4) is adjacent and does not count.
        assert!((mean - 0.2).abs() < 1e-12);
    }
}
