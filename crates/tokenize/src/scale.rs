//! The per-bar scale sigma_t (EWMA volatility of close log-returns, from bars before
//! t only) and the causal gap rule.

/// Variance floor relative to the fitted initial variance: a long run of unchanged
/// closes lets the EWMA decay towards zero, and the floor keeps z finite and the
/// scale usable (sigma >= sigma_0 / 1000).
pub(crate) const MIN_VARIANCE_RATIO: f64 = 1e-6;

/// Spacings kept for the interval estimate of the gap rule.
const INTERVAL_SAMPLE: usize = 32;

/// EWMA variance with a warm-up, stepped one close-to-close log-return at a time.
///
/// A segment (series start, or the first bar after a gap) starts from a prior
/// variance: the fitted initial variance at the series start, the variance reached
/// before the gap after one. Its weight is `prior_bars` returns: the variance is the
/// running mean of squared returns shrunk towards the prior,
/// `(prior_bars * prior + sum r^2) / (prior_bars + n)`, which is the recursion
/// `var <- a var + (1 - a) r^2` with `a = (prior_bars + n) / (prior_bars + n + 1)`;
/// once `a` reaches `lambda` it stays there and the state is the usual EWMA.
#[derive(Debug, Clone, PartialEq)]
pub struct VolState {
    var: f64,
    /// Returns seen in this segment while `a < lambda`; frozen afterwards.
    seen: f64,
    warm: bool,
    lambda: f64,
    prior_bars: f64,
    floor: f64,
}

impl VolState {
    pub(crate) fn new(initial_variance: f64, lambda: f64, prior_bars: f64) -> VolState {
        let floor = (initial_variance * MIN_VARIANCE_RATIO).max(1e-300);
        let mut s = VolState {
            var: initial_variance.max(floor),
            seen: 0.0,
            warm: false,
            lambda,
            prior_bars,
            floor,
        };
        s.restart();
        s
    }

    /// The scale for the next bar: the square root of the current variance.
    #[inline]
    pub fn scale(&self) -> f64 {
        self.var.sqrt()
    }

    /// The variance for the next bar.
    pub fn variance(&self) -> f64 {
        self.var
    }

    /// Takes in one close-to-close log-return.
    #[inline]
    pub fn observe(&mut self, log_return: f64) {
        let a = if self.warm {
            self.lambda
        } else {
            let a = (self.prior_bars + self.seen) / (self.prior_bars + self.seen + 1.0);
            self.seen += 1.0;
            if a >= self.lambda {
                self.warm = true;
                self.lambda
            } else {
                a
            }
        };
        self.var = (a * self.var + (1.0 - a) * log_return * log_return).max(self.floor);
    }

    /// Starts a new segment: the current variance becomes the prior.
    pub fn restart(&mut self) {
        self.seen = 0.0;
        self.warm = self.prior_bars / (self.prior_bars + 1.0) >= self.lambda;
    }
}

/// The causal gap rule: a spacing is a gap when it exceeds `multiple` times the
/// series' interval, estimated as the lower median of the spacings seen so far
/// (the first 32 of them), so only bars up to t decide whether bar t follows a gap.
#[derive(Debug, Clone)]
pub(crate) struct GapRule {
    sorted: [i64; INTERVAL_SAMPLE],
    len: usize,
    multiple: f64,
    /// Once the sample is full: the largest spacing that is not a gap.
    limit: i64,
}

impl GapRule {
    pub(crate) fn new(multiple: f64) -> GapRule {
        GapRule {
            sorted: [0; INTERVAL_SAMPLE],
            len: 0,
            multiple,
            limit: i64::MAX,
        }
    }

    /// Whether a spacing of `dt_ms` is a gap; then records it.
    #[inline]
    pub(crate) fn step(&mut self, dt_ms: i64) -> bool {
        if self.len == INTERVAL_SAMPLE {
            return dt_ms > self.limit;
        }
        let gap = self.len > 0 && self.exceeds(dt_ms);
        let at = self.sorted[..self.len].partition_point(|&x| x <= dt_ms);
        self.sorted.copy_within(at..self.len, at + 1);
        self.sorted[at] = dt_ms;
        self.len += 1;
        if self.len == INTERVAL_SAMPLE {
            // dt > multiple * reference  <=>  dt > limit, for integer dt.
            let r = self.multiple * self.reference() as f64;
            self.limit = if r >= i64::MAX as f64 {
                i64::MAX
            } else {
                r.floor() as i64
            };
        }
        gap
    }

    fn reference(&self) -> i64 {
        self.sorted[(self.len.max(1) - 1) / 2]
    }

    fn exceeds(&self, dt_ms: i64) -> bool {
        dt_ms as f64 > self.multiple * self.reference() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_is_a_shrunk_running_mean_then_ewma() {
        let mut v = VolState::new(4.0, 0.94, 2.0);
        assert_eq!(v.variance(), 4.0);
        v.observe(1.0); // (2*4 + 1) / 3
        assert!((v.variance() - 3.0).abs() < 1e-12);
        v.observe(3.0); // (8 + 1 + 9) / 4
        assert!((v.variance() - 4.5).abs() < 1e-12);
        for _ in 0..100 {
            v.observe(0.0);
        }
        assert!(v.warm);
        let before = v.variance();
        v.observe(2.0);
        assert!((v.variance() - (0.94 * before + 0.06 * 4.0)).abs() < 1e-12);
        v.restart();
        assert!(!v.warm);
    }

    #[test]
    fn variance_has_a_floor() {
        let mut v = VolState::new(1e-4, 0.94, 2.0);
        for _ in 0..100_000 {
            v.observe(0.0);
        }
        assert_eq!(v.variance(), 1e-10);
        assert!(v.scale() > 0.0);
    }

    #[test]
    fn gap_rule_uses_the_lower_median_of_past_spacings() {
        let mut g = GapRule::new(10.0);
        assert!(!g.step(1_000_000)); // no reference yet
        assert!(!g.step(60)); // reference 1_000_000
        assert!(!g.step(60)); // lower median of {60, 1e6} = 60; 60 <= 600
        assert!(!g.step(600));
        assert!(g.step(601));
        for _ in 0..100 {
            g.step(60);
        }
        assert!(g.step(60_000));
        assert!(!g.step(500));
        // the integer limit agrees with the float rule once the sample is full
        let mut g = GapRule::new(2.5);
        for _ in 0..40 {
            g.step(7);
        }
        assert!(!g.step(17)); // 17 <= 17.5
        assert!(g.step(18));
    }
}
