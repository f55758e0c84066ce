//! The per-bar scale sigma_t (EWMA volatility of close log-returns, from bars before
//! t only, optionally reverting to a slow long-run level) and the causal gap rule.

/// Variance floor relative to the fitted initial variance: a long run of unchanged
/// closes lets the EWMA decay towards zero, and the floor keeps z finite and the
/// scale usable (sigma >= sigma_0 / 1000).
pub(crate) const MIN_VARIANCE_RATIO: f64 = 1e-6;

/// Spacings kept for the interval estimate of the gap rule.
const INTERVAL_SAMPLE: usize = 32;

/// ln(a / b) for finite a, b > 0. Near 1 (the usual case for consecutive prices)
/// as `2 atanh(s)`, `s = (a - b) / (a + b)` (exact difference, one division instead
/// of a libm call), summed to s^9 for |s| < 2^-7 (moves under ~1.6%) and to s^13
/// for |s| < 2^-5; the truncated terms are below 1e-18 of the result. libm's `ln`
/// of the ratio otherwise.
#[inline]
pub(crate) fn ln_ratio(a: f64, b: f64) -> f64 {
    let s = (a - b) / (a + b);
    let s2 = s * s;
    if s2 < 1.0 / 16384.0 {
        let p = 1.0 / 7.0 + s2 * (1.0 / 9.0);
        let p = 1.0 / 5.0 + s2 * p;
        let p = 1.0 / 3.0 + s2 * p;
        2.0 * s + 2.0 * s * (s2 * p)
    } else if s2 < 1.0 / 1024.0 {
        let p = 1.0 / 11.0 + s2 * (1.0 / 13.0);
        let p = 1.0 / 9.0 + s2 * p;
        let p = 1.0 / 7.0 + s2 * p;
        let p = 1.0 / 5.0 + s2 * p;
        let p = 1.0 / 3.0 + s2 * p;
        2.0 * s + 2.0 * s * (s2 * p)
    } else {
        (a / b).ln()
    }
}

/// EWMA variance with a warm-up, stepped one close-to-close log-return at a time,
/// optionally reverting towards a slow long-run level.
///
/// A segment (series start, or the first bar after a gap) starts from a prior
/// variance: the fitted initial variance at the series start, the variance reached
/// before the gap after one. Its weight is `prior_bars` returns: the variance is the
/// running mean of squared returns shrunk towards the prior,
/// `(prior_bars * prior + sum r^2) / (prior_bars + n)`, which is the recursion
/// `var <- a var + (1 - a) r^2` with `a = (prior_bars + n) / (prior_bars + n + 1)`;
/// once `a` reaches `lambda` it stays there and the state is the usual EWMA.
///
/// With a reversion weight `k > 0` (`scale = "reverting"`) every step is
///
/// ```text
/// var' = (1 - k) * (a var + (1 - a) r^2) + k * level
/// level' = b level + (1 - b) r^2
/// ```
///
/// `level` is the series' own long-run variance: the same shrunk running mean
/// (from the fitted initial variance, weight `prior_bars`) until its weight `b`
/// reaches `level_lambda` (a half-life of hundreds of bars), an EWMA after that.
/// Warm, this is a GARCH(1,1) with `alpha = (1 - k)(1 - lambda)`, `beta = (1 -
/// k) lambda` and a slowly moving `omega = k level`. The level is per series
/// because one tokenizer serves series whose variances differ by 1e6 (FX minutes,
/// monthly crypto): a single fitted level would be wrong for nearly all of them. It
/// is not restarted at gaps (a gap ends the short memory, not the series), and it
/// keeps learning in rollouts (one recursion for encoding and forecasting), slowly:
/// with draws of `E[z^2] = m > 1` the expected variance grows only through the
/// level, by a factor of about `1 + (1 - level_lambda)(m k / (1 - rho) - 1)` a bar
/// with `rho = (1 - k)(lambda + (1 - lambda) m)`, against `1 + (1 - lambda)(m - 1)`
/// for the plain EWMA: at `m = 1.2` and the defaults 1.00096 against 1.012, a
/// factor of 1.6 against 389 over 500 bars.
///
/// With a range weight (reverting only), `r^2` in both lines is a blend of the
/// squared return and the bar's squared log range; see [`VolState::observe`].
#[derive(Debug, Clone, PartialEq)]
pub struct VolState {
    var: f64,
    /// Returns seen in this segment while `a < lambda`; frozen afterwards.
    seen: f64,
    warm: bool,
    lambda: f64,
    prior_bars: f64,
    floor: f64,
    /// The reversion weight `k`; 0 is the plain EWMA (bit for bit).
    reversion: f64,
    /// The long-run level (unused when `reversion` is 0).
    level: f64,
    /// Returns the level has seen while `b < level_lambda`; frozen afterwards.
    level_seen: f64,
    level_warm: bool,
    level_lambda: f64,
    /// Squared cap of a warm reverting step's return, in units of the variance
    /// (`shock_cap^2`; infinite = no cap).
    cap2: f64,
    /// The level no longer learns (see [`VolState::hold_level`]).
    level_held: bool,
    /// The share of the range-based term in each step's squared return (0: close
    /// returns only, bit for bit as before the option).
    range_weight: f64,
    /// Long-run means, on the level's schedule, of the squared close return and of
    /// the squared log range: their ratio puts a bar's range in close-return units.
    range_num: f64,
    range_den: f64,
}

/// The parameters of a [`VolState`], as the tokenizer's config and fit give them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct VolParams {
    pub(crate) initial_variance: f64,
    pub(crate) lambda: f64,
    pub(crate) prior_bars: f64,
    /// 0 for the plain EWMA.
    pub(crate) reversion: f64,
    pub(crate) level_lambda: f64,
    /// With reversion: the largest |z| a warm step lets into the variance and the
    /// level (`f64::INFINITY`: no cap).
    pub(crate) shock_cap: f64,
    /// With reversion: the share of the bar's range in the squared return the
    /// recursion takes in (0 = close returns only).
    pub(crate) range_weight: f64,
}

/// Squared log range over squared close return of a driftless Brownian bar
/// (Parkinson's 4 ln 2): where the range-to-return ratio starts before a series has
/// shown its own.
const BROWNIAN_RANGE_RATIO: f64 = 4.0 * std::f64::consts::LN_2;

impl VolState {
    pub(crate) fn new(p: &VolParams) -> VolState {
        let floor = (p.initial_variance * MIN_VARIANCE_RATIO).max(1e-300);
        let var = p.initial_variance.max(floor);
        let mut s = VolState {
            var,
            seen: 0.0,
            warm: false,
            lambda: p.lambda,
            prior_bars: p.prior_bars,
            floor,
            reversion: p.reversion,
            level: var,
            level_seen: 0.0,
            level_warm: p.prior_bars / (p.prior_bars + 1.0) >= p.level_lambda,
            level_lambda: p.level_lambda,
            cap2: p.shock_cap * p.shock_cap,
            level_held: false,
            range_weight: p.range_weight,
            range_num: var,
            range_den: var * BROWNIAN_RANGE_RATIO,
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

    /// The long-run level the variance reverts to (with the plain EWMA: the
    /// initial variance, unused).
    pub fn long_run_variance(&self) -> f64 {
        self.level
    }

    /// Takes in one bar: its close-to-close log-return, and its high and low (read
    /// only with a range weight).
    ///
    /// With a range weight `w > 0` the squared return the recursion takes in is
    /// `(1 - w) r^2 + w q (ln H / L)^2`, where `q` is the series' own long-run
    /// ratio of squared close returns to squared log ranges (both means on the
    /// level's schedule, starting at a Brownian bar's `1 / (4 ln 2)`): a range-based
    /// variance in close-return units, as `fhs-range` and `har` use. A bar's range
    /// sees the path the price took inside it, so it measures the variance with
    /// less noise than the one close-to-close move; the ratio absorbs what the
    /// range misses (overnight gaps of daily bars, ticks of minute bars).
    #[inline]
    pub fn observe(&mut self, log_return: f64, high: f64, low: f64) {
        let a = warm_up_weight(&mut self.warm, &mut self.seen, self.prior_bars, self.lambda);
        // The plain EWMA's exact expression (and order of operations): bit for bit.
        let ewma = a * self.var + (1.0 - a) * log_return * log_return;
        if self.reversion == 0.0 {
            self.var = ewma.max(self.floor);
            return;
        }
        let r2 = log_return * log_return;
        let (ewma, x, range2) = if self.range_weight > 0.0 {
            let range2 = log_range(high, low).powi(2);
            let q = self.range_num / self.range_den;
            let w = self.range_weight;
            let x = (1.0 - w) * r2 + w * q * range2;
            (a * self.var + (1.0 - a) * x, x, range2)
        } else {
            (ewma, r2, 0.0)
        };
        // Winsorised: a warm step takes in at most `shock_cap` scales of return.
        // A rollout draws its returns from a model that leaves a little mass on
        // the tail bins (|z| >= return_clip): uncapped, those draws alone make
        // the mean squared draw ~4.7 and outrun any reversion.
        let cap = self.cap2 * self.var;
        let (ewma, x) = if self.warm && x > cap {
            (a * self.var + (1.0 - a) * cap, cap)
        } else {
            (ewma, x)
        };
        let k = self.reversion;
        self.var = ((1.0 - k) * ewma + k * self.level).max(self.floor);
        if self.level_held {
            return;
        }
        let b = warm_up_weight(
            &mut self.level_warm,
            &mut self.level_seen,
            self.prior_bars,
            self.level_lambda,
        );
        self.level = b * self.level + (1.0 - b) * x;
        if self.range_weight > 0.0 {
            // Each capped as the step is, in its own units.
            let q = self.range_num / self.range_den;
            self.range_num = b * self.range_num + (1.0 - b) * r2.min(cap);
            self.range_den = b * self.range_den + (1.0 - b) * range2.min(cap / q);
            // A stretch of bars without range (high = low) must not leave the
            // ratio infinite.
            self.range_den = self.range_den.max(self.range_num * 1e-6).max(1e-300);
        }
    }

    /// Holds the long-run level where it is: later returns still move the variance
    /// (the same step, reverting to the held level) but no longer the level. A
    /// forecast holds it at the origin: the level is the series' long-run variance
    /// as its history says, and a path's own draws are no evidence about it. Were
    /// it to learn from them, a model whose draws are a little wide (mean capped
    /// z^2 `m` above 1) would raise the level, and through it the variance, without
    /// bound; held, the variance of such a path settles at `k level / (1 - rho)`,
    /// `rho = (1 - k)(lambda + (1 - lambda) m)`, for any `m` up to 3.9 at the
    /// defaults. No effect on the plain EWMA.
    pub fn hold_level(&mut self) {
        self.level_held = true;
    }

    /// Starts a new segment: the current variance becomes the prior. The long-run
    /// level carries on.
    pub fn restart(&mut self) {
        self.seen = 0.0;
        self.warm = self.prior_bars / (self.prior_bars + 1.0) >= self.lambda;
    }

    /// Moves the scale past one bar, by the tokenizer's rule: a bar after a gap
    /// restarts the warm-up and its return (which spans many intervals) is not
    /// taken in; any other bar's close-to-close log-return is. The encoder and
    /// every replay of a history (forecast origins) step through this one rule, so
    /// they cannot drift apart.
    #[inline]
    pub fn step(&mut self, after_gap: bool, log_return: f64, high: f64, low: f64) {
        if after_gap {
            self.restart();
        } else {
            self.observe(log_return, high, low);
        }
    }
}

/// ln(high / low), 0 for a bar without a valid, finite range.
#[inline]
fn log_range(high: f64, low: f64) -> f64 {
    if high > low && low > 0.0 && high.is_finite() {
        (high / low).ln()
    } else {
        0.0
    }
}

/// The weight of the old value in a shrunk running mean that becomes an EWMA:
/// `(prior + n) / (prior + n + 1)` for the `n`-th return until that reaches
/// `lambda`, `lambda` from then on.
#[inline]
fn warm_up_weight(warm: &mut bool, seen: &mut f64, prior: f64, lambda: f64) -> f64 {
    if *warm {
        return lambda;
    }
    let a = (prior + *seen) / (prior + *seen + 1.0);
    *seen += 1.0;
    if a >= lambda {
        *warm = true;
        lambda
    } else {
        a
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
    fn ln_ratio_matches_libm() {
        let mut worst = 0.0f64;
        let mut r = candlecast_rand::Rng::new(5);
        for _ in 0..200_000 {
            let b = 10f64.powf(-5.0 + 12.0 * r.next_f64());
            let x = (r.next_f64() - 0.5) * 10f64.powf(-8.0 * r.next_f64());
            let a = b * (1.0 + x);
            let exact = ((a - b) / b).ln_1p(); // a - b is exact here
            let err = (ln_ratio(a, b) - exact).abs() / exact.abs().max(f64::MIN_POSITIVE);
            worst = worst.max(err);
        }
        assert!(worst < 1e-14, "worst relative error {worst}");
        assert_eq!(ln_ratio(3.0, 3.0), 0.0);
        assert!((ln_ratio(100.0, 1.0) - 100f64.ln()).abs() < 1e-15);
        assert!(ln_ratio(1.0 + 1e-15, 1.0) > 0.0);
    }

    fn ewma(initial_variance: f64, lambda: f64, prior_bars: f64) -> VolState {
        VolState::new(&VolParams {
            initial_variance,
            lambda,
            prior_bars,
            reversion: 0.0,
            level_lambda: 0.5f64.powf(1.0 / 200.0),
            shock_cap: f64::INFINITY,
            range_weight: 0.0,
        })
    }

    #[test]
    fn warm_up_is_a_shrunk_running_mean_then_ewma() {
        let mut v = ewma(4.0, 0.94, 2.0);
        assert_eq!(v.variance(), 4.0);
        v.observe(1.0, 1.0, 1.0); // (2*4 + 1) / 3
        assert!((v.variance() - 3.0).abs() < 1e-12);
        v.observe(3.0, 1.0, 1.0); // (8 + 1 + 9) / 4
        assert!((v.variance() - 4.5).abs() < 1e-12);
        for _ in 0..100 {
            v.observe(0.0, 1.0, 1.0);
        }
        assert!(v.warm);
        let before = v.variance();
        v.observe(2.0, 1.0, 1.0);
        assert!((v.variance() - (0.94 * before + 0.06 * 4.0)).abs() < 1e-12);
        v.restart();
        assert!(!v.warm);
    }

    #[test]
    fn variance_has_a_floor() {
        let mut v = ewma(1e-4, 0.94, 2.0);
        for _ in 0..100_000 {
            v.observe(0.0, 1.0, 1.0);
        }
        assert_eq!(v.variance(), 1e-10);
        assert!(v.scale() > 0.0);
    }

    const LEVEL_LAMBDA: f64 = 0.996_540_199_782_100_3; // 0.5^(1/200)

    fn reverting(initial_variance: f64, k: f64) -> VolState {
        VolState::new(&VolParams {
            initial_variance,
            lambda: 0.94,
            prior_bars: 2.0,
            reversion: k,
            level_lambda: LEVEL_LAMBDA,
            shock_cap: f64::INFINITY,
            range_weight: 0.0,
        })
    }

    /// The plain EWMA as it was before the reverting option, verbatim.
    struct OldEwma {
        var: f64,
        seen: f64,
        warm: bool,
        floor: f64,
    }

    impl OldEwma {
        fn observe(&mut self, log_return: f64) {
            let (lambda, prior_bars) = (0.94, 2.0);
            let a = if self.warm {
                lambda
            } else {
                let a = (prior_bars + self.seen) / (prior_bars + self.seen + 1.0);
                self.seen += 1.0;
                if a >= lambda {
                    self.warm = true;
                    lambda
                } else {
                    a
                }
            };
            self.var = (a * self.var + (1.0 - a) * log_return * log_return).max(self.floor);
        }
    }

    #[test]
    fn plain_ewma_is_unchanged_bit_for_bit() {
        let mut r = candlecast_rand::Rng::new(3);
        let mut new = ewma(2.5e-5, 0.94, 2.0);
        let mut old = OldEwma {
            var: 2.5e-5,
            seen: 0.0,
            warm: false,
            floor: 2.5e-11,
        };
        for i in 0..20_000 {
            let x = (r.next_f64() - 0.5) * 10f64.powf(-1.0 - 4.0 * r.next_f64());
            let x = if i % 7 == 0 { 0.0 } else { x };
            if i % 997 == 0 {
                new.restart();
                (old.seen, old.warm) = (0.0, false);
            }
            new.observe(x, 1.0, 1.0);
            old.observe(x);
            assert_eq!(new.variance().to_bits(), old.var.to_bits(), "step {i}");
        }
    }

    #[test]
    fn reverting_step_is_the_formula() {
        let k = 0.15;
        let mut v = reverting(4.0, k);
        // Warm-up: var and level are the same shrunk running mean (prior weight 2).
        v.observe(1.0, 1.0, 1.0);
        assert!((v.variance() - (0.85 * 3.0 + 0.15 * 4.0)).abs() < 1e-12);
        assert!((v.long_run_variance() - 3.0).abs() < 1e-12);
        let mut r = candlecast_rand::Rng::new(11);
        for _ in 0..1000 {
            v.observe(r.next_f64() - 0.5, 1.0, 1.0);
        }
        assert!(v.warm && v.level_warm);
        for _ in 0..100 {
            let x = r.next_f64() - 0.5;
            let (var, level) = (v.variance(), v.long_run_variance());
            v.observe(x, 1.0, 1.0);
            let want = (1.0 - k) * (0.94 * var + 0.06 * x * x) + k * level;
            assert!((v.variance() - want).abs() <= 1e-15 * want, "{want}");
            let want = LEVEL_LAMBDA * level + (1.0 - LEVEL_LAMBDA) * x * x;
            assert!((v.long_run_variance() - want).abs() <= 1e-15 * want);
        }
    }

    fn ranged(initial_variance: f64, w: f64) -> VolState {
        reverting_with(initial_variance, 4.0, w)
    }

    #[test]
    fn without_a_range_weight_the_range_is_not_read() {
        let mut r = candlecast_rand::Rng::new(17);
        let (mut a, mut b) = (ranged(1e-4, 0.0), ranged(1e-4, 0.0));
        for i in 0..5000 {
            let x = (r.next_f64() - 0.5) * 0.03;
            a.observe(x, 1.0 + r.next_f64(), 1.0);
            b.observe(x, f64::NAN, 0.0);
            if i % 501 == 0 {
                a.restart();
                b.restart();
            }
            assert_eq!(a.variance().to_bits(), b.variance().to_bits(), "step {i}");
        }
    }

    #[test]
    fn the_range_term_is_the_formula() {
        let (w, k) = (0.75, 0.15);
        let mut v = ranged(4e-4, w);
        // First step (warm-up weight 2/3): the ratio is still a Brownian bar's.
        let (x, hl) = (0.01f64, 0.03f64);
        v.observe(x, hl.exp(), 1.0);
        let q = 1.0 / BROWNIAN_RANGE_RATIO;
        let taken = (1.0 - w) * x * x + w * q * hl * hl;
        let want = (1.0 - k) * (2.0 / 3.0 * 4e-4 + taken / 3.0) + k * 4e-4;
        assert!(
            (v.variance() - want).abs() <= 1e-15,
            "{} {want}",
            v.variance()
        );
        assert!((v.long_run_variance() - (2.0 / 3.0 * 4e-4 + taken / 3.0)).abs() < 1e-15);
        // Bars whose range is twice their return, forever: the ratio goes to 1/4
        // and the term taken in to r^2, so the variance settles at r^2 as with
        // close returns alone.
        for _ in 0..20_000 {
            v.observe(0.01, 0.02f64.exp(), 1.0);
        }
        assert!((v.range_num / v.range_den - 0.25).abs() < 1e-9);
        assert!((v.variance() / 1e-4 - 1.0).abs() < 1e-9, "{}", v.variance());
    }

    #[test]
    fn bars_without_range_keep_the_scale_finite() {
        let mut v = ranged(1e-4, 0.75);
        let mut r = candlecast_rand::Rng::new(23);
        for _ in 0..3000 {
            v.observe((r.next_f64() - 0.5) * 0.02, 1.0, 1.0);
        }
        assert!(v.variance().is_finite() && v.variance() > 0.0);
        // Then a real range: the ratio is large but bounded, and so is the step.
        v.observe(0.0, 1.01, 1.0);
        assert!(v.variance().is_finite(), "{}", v.variance());
        assert!(v.variance() <= 1e-4 * 16.0 * 2.0, "{}", v.variance());
        // A range that is not finite counts as none.
        let before = v.clone();
        v.observe(0.0, f64::INFINITY, 1.0);
        let mut none = before;
        none.observe(0.0, 1.0, 1.0);
        assert_eq!(v, none);
    }

    #[test]
    fn a_shock_reverts_to_the_level_and_barely_moves_it() {
        let mut rev = reverting(1e-4, 0.15);
        let mut plain = ewma(1e-4, 0.94, 2.0);
        for v in [&mut rev, &mut plain] {
            for _ in 0..3000 {
                v.observe(0.01, 1.0, 1.0);
            }
            assert!((v.variance() - 1e-4).abs() < 1e-12);
        }
        let level = rev.long_run_variance();
        for v in [&mut rev, &mut plain] {
            v.observe(0.3, 1.0, 1.0); // a 30-sigma bar: r^2 = 900 var
        }
        // The level takes in one bar of the shock with weight 1 - 0.5^(1/200).
        let moved = rev.long_run_variance() / level - 1.0;
        assert!(
            (moved - (1.0 - LEVEL_LAMBDA) * 899.0).abs() < 1e-9,
            "{moved}"
        );
        for _ in 0..40 {
            rev.observe(0.01, 1.0, 1.0);
            plain.observe(0.01, 1.0, 1.0);
        }
        // The excess over the level decays by (1 - k) lambda = 0.799 a bar, the
        // plain EWMA's by 0.94: 40 bars later 1.3e-4 against 0.085 of it is left.
        let excess = |v: &VolState, base: f64| v.variance() / base - 1.0;
        let lvl = rev.long_run_variance();
        assert!(excess(&rev, lvl) < 0.01, "{}", excess(&rev, lvl));
        assert!(excess(&plain, 1e-4) > 3.0, "{}", excess(&plain, 1e-4));
        // and the level it reverts to is within 4x the old one, not 900x.
        assert!(lvl < 4.0 * level, "{lvl}");
        for _ in 0..5000 {
            rev.observe(0.01, 1.0, 1.0);
        }
        assert!((rev.variance() / 1e-4 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn reverting_variance_has_the_same_floor() {
        let mut v = reverting(1e-4, 0.15);
        for _ in 0..100_000 {
            v.observe(0.0, 1.0, 1.0);
        }
        assert_eq!(v.variance(), 1e-10);
        assert!(v.scale() > 0.0);
        v.observe(f64::MAX.sqrt() / 2.0, 1.0, 1.0);
        assert!(v.variance().is_finite());
    }

    #[test]
    fn restart_restarts_the_warm_up_but_keeps_the_level() {
        let mut v = reverting(1.0, 0.15);
        for _ in 0..500 {
            v.observe(0.1, 1.0, 1.0);
        }
        let (var, level) = (v.variance(), v.long_run_variance());
        let level_seen = v.level_seen;
        v.restart();
        assert!(!v.warm);
        assert_eq!((v.variance(), v.long_run_variance()), (var, level));
        assert_eq!(v.level_seen, level_seen);
        // the first step after a gap: var is the prior, weight 2 (a = 2/3)
        v.observe(0.5, 1.0, 1.0);
        let want = 0.85 * (2.0 / 3.0 * var + 0.25 / 3.0) + 0.15 * level;
        assert!(
            (v.variance() - want).abs() < 1e-15,
            "{} {want}",
            v.variance()
        );
    }

    /// Student-t with 4 degrees of freedom, scaled to variance `m`: heavy tails.
    fn t4(r: &mut candlecast_rand::Rng, m: f64) -> f64 {
        let mut normal = || {
            let u1 = 1.0 - r.next_f64();
            let u2 = r.next_f64();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let z = normal();
        let chi2: f64 = (0..4).map(|_| normal().powi(2)).sum();
        z / (chi2 / 4.0).sqrt() * (m / 2.0).sqrt()
    }

    /// The 99th percentile of |log(C_500 / C_0)| in units of sqrt(500 v0), over 400
    /// paths of 500 returns z * sigma_t with heavy-tailed z of E[z^2] = 1.2, from a
    /// warm state at variance v0: a model whose draws are a little too wide.
    fn path_spread(mut start: VolState, v0: f64) -> f64 {
        for _ in 0..5000 {
            start.observe(v0.sqrt(), 1.0, 1.0);
        }
        let mut r = candlecast_rand::Rng::new(2024);
        let mut ends: Vec<f64> = (0..400)
            .map(|_| {
                let mut v = start.clone();
                let mut log_c = 0.0;
                for _ in 0..500 {
                    let x = t4(&mut r, 1.2) * v.scale();
                    log_c += x;
                    v.observe(x, 1.0, 1.0);
                }
                (log_c / (500.0 * v0).sqrt()).abs()
            })
            .collect();
        assert!(ends.iter().all(|x| x.is_finite()));
        ends.sort_by(f64::total_cmp);
        ends[395]
    }

    #[test]
    fn reverting_paths_stay_bounded_where_the_ewma_explodes() {
        let plain = path_spread(ewma(1e-4, 0.94, 2.0), 1e-4);
        let rev = path_spread(reverting(1e-4, 0.15), 1e-4);
        assert!(plain > 10.0, "plain EWMA: {plain}");
        assert!(rev < 5.0, "reverting: {rev}");
    }

    fn capped(initial_variance: f64, cap: f64) -> VolState {
        reverting_with(initial_variance, cap, 0.0)
    }

    /// The default reverting scale (k = 0.15, lambda 0.94) with a shock cap and a
    /// range weight.
    fn reverting_with(initial_variance: f64, cap: f64, range_weight: f64) -> VolState {
        VolState::new(&VolParams {
            initial_variance,
            lambda: 0.94,
            prior_bars: 2.0,
            reversion: 0.15,
            level_lambda: LEVEL_LAMBDA,
            shock_cap: cap,
            range_weight,
        })
    }

    #[test]
    fn a_capped_step_takes_in_at_most_cap_scales() {
        let mut v = capped(1e-4, 4.0);
        let mut free = reverting(1e-4, 0.15);
        for i in 0..1000 {
            let x = if i % 2 == 0 { 1e-2 } else { -1.3e-2 };
            v.observe(x, 1.0, 1.0);
            free.observe(x, 1.0, 1.0);
        }
        // Returns inside the cap: the same recursion as uncapped, bit for bit.
        assert_eq!(v.variance(), free.variance());
        assert_eq!(v.long_run_variance(), free.long_run_variance());
        let (var, level) = (v.variance(), v.long_run_variance());
        v.observe(-30.0 * var.sqrt(), 1.0, 1.0);
        let r2 = 16.0 * var;
        let want = 0.85 * (0.94 * var + 0.06 * r2) + 0.15 * level;
        assert!(
            (v.variance() / want - 1.0).abs() < 1e-12,
            "{} vs {want}",
            v.variance()
        );
        let want_level = LEVEL_LAMBDA * level + (1.0 - LEVEL_LAMBDA) * r2;
        assert!((v.long_run_variance() / want_level - 1.0).abs() < 1e-12);
        // Uncapped, the same shock moves the variance by far more.
        free.observe(-30.0 * free.variance().sqrt(), 1.0, 1.0);
        assert!(free.variance() > 5.0 * v.variance());
    }

    /// 99th percentile of |log(C_500 / C_0)| in units of sqrt(500 v0) over 400 paths
    /// whose draws are what a small model gives: mostly unit-variance t4, and 0.3%
    /// from the tail bins at |z| = 40 (E[z^2] = 5.8).
    fn tail_draw_spread(mut start: VolState, v0: f64) -> f64 {
        for _ in 0..5000 {
            start.observe(v0.sqrt(), 1.0, 1.0);
        }
        let mut r = candlecast_rand::Rng::new(7);
        let mut ends: Vec<f64> = (0..400)
            .map(|_| {
                let mut v = start.clone();
                let mut log_c = 0.0;
                for _ in 0..500 {
                    let u = r.next_f64();
                    let z = if u < 0.0015 {
                        -40.0
                    } else if u < 0.003 {
                        40.0
                    } else {
                        t4(&mut r, 1.0)
                    };
                    let x = z * v.scale();
                    log_c += x;
                    v.observe(x, 1.0, 1.0);
                }
                (log_c / (500.0 * v0).sqrt()).abs()
            })
            .collect();
        ends.sort_by(f64::total_cmp);
        ends[395]
    }

    #[test]
    fn the_shock_cap_keeps_paths_bounded_under_rare_tail_draws() {
        let free = tail_draw_spread(reverting(1e-4, 0.15), 1e-4);
        let cap = tail_draw_spread(capped(1e-4, 4.0), 1e-4);
        // The tail draws themselves move a path by 40 / sqrt(500) = 1.8 units each;
        // the bound is the must-show's 10 long-run volatilities.
        assert!(free >= 10.0 || free.is_nan(), "uncapped: {free}");
        assert!(cap < 10.0, "capped: {cap}");
    }

    #[test]
    fn a_held_level_stays_and_the_variance_settles_at_its_fixed_point() {
        let mut v = capped(1e-4, 4.0);
        for _ in 0..1000 {
            v.observe(1e-2, 1.0, 1.0);
        }
        v.hold_level();
        let level = v.long_run_variance();
        // Draws of a constant |z| = 1.5 (m = 2.25): the variance tends to
        // k level / (1 - rho), rho = (1 - k)(lambda + (1 - lambda) m).
        for i in 0..2000 {
            let z = if i % 2 == 0 { 1.5 } else { -1.5 };
            let x = z * v.scale();
            v.observe(x, 1.0, 1.0);
        }
        assert_eq!(v.long_run_variance(), level);
        let rho = 0.85 * (0.94 + 0.06 * 2.25);
        let fixed = 0.15 * level / (1.0 - rho);
        assert!(
            (v.variance() / fixed - 1.0).abs() < 1e-9,
            "{} vs {fixed}",
            v.variance()
        );
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
