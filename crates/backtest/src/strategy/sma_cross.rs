//! The SMA crossover of backtesting.py's examples, with its moving averages
//! computed the way pandas' `rolling(n).mean()` computes them, so that ties and
//! near-ties cross on the same bars.

use super::{Context, Rule, Strategy, Target};
use crate::config::FULL;
use crate::error::BacktestError;
use crate::history::History;

/// pandas' fixed-window mean, one value at a time (pandas `roll_mean`): a
/// compensated (Kahan) running sum, removals before additions, and the window's
/// value itself when all of it is one repeated value.
#[derive(Debug, Clone)]
pub struct RollingMean {
    window: usize,
    nobs: usize,
    sum: f64,
    comp_add: f64,
    comp_remove: f64,
    neg: usize,
    same_run: usize,
    prev: f64,
    /// The last `window` values, as a ring; `slot` is the oldest.
    ring: Vec<f64>,
    slot: usize,
    seen: usize,
}

impl RollingMean {
    pub fn new(window: usize) -> RollingMean {
        RollingMean {
            window: window.max(1),
            nobs: 0,
            sum: 0.0,
            comp_add: 0.0,
            comp_remove: 0.0,
            neg: 0,
            same_run: 0,
            prev: f64::NAN,
            ring: vec![0.0; window.max(1)],
            slot: 0,
            seen: 0,
        }
    }

    /// Adds `x` and returns the mean of the last `window` values (NaN until there are that many).
    pub fn push(&mut self, x: f64) -> f64 {
        let slot = self.slot;
        if self.seen >= self.window {
            let old = self.ring[slot];
            // remove_mean
            self.nobs -= 1;
            let y = -old - self.comp_remove;
            let t = self.sum + y;
            self.comp_remove = t - self.sum - y;
            self.sum = t;
            if old.is_sign_negative() {
                self.neg -= 1;
            }
        }
        if self.seen == 0 {
            self.prev = x;
        }
        // add_mean
        self.nobs += 1;
        let y = x - self.comp_add;
        let t = self.sum + y;
        self.comp_add = t - self.sum - y;
        self.sum = t;
        if x.is_sign_negative() {
            self.neg += 1;
        }
        if x == self.prev {
            self.same_run += 1;
        } else {
            self.same_run = 1;
        }
        self.prev = x;
        self.ring[slot] = x;
        self.slot = if slot + 1 == self.window { 0 } else { slot + 1 };
        self.seen += 1;
        // calc_mean
        if self.nobs < self.window {
            return f64::NAN;
        }
        let n = self.nobs as f64;
        let mut r = self.sum / n;
        if self.same_run >= self.nobs {
            r = self.prev;
        } else if self.neg == 0 && r < 0.0 || self.neg == self.nobs && r > 0.0 {
            r = 0.0;
        }
        r
    }
}

/// `pd.Series(xs).rolling(window).mean()`.
pub fn rolling_mean(xs: &[f64], window: usize) -> Vec<f64> {
    let mut m = RollingMean::new(window);
    xs.iter().map(|&x| m.push(x)).collect()
}

/// Long on a cross up of the fast SMA over the slow one, short on a cross down
/// (flat instead when shorts are off); backtesting.py's `crossover`: strictly
/// below on the previous bar and strictly above now.
#[derive(Debug, Clone)]
pub struct SmaCross {
    fast: usize,
    slow: usize,
    fast_mean: RollingMean,
    slow_mean: RollingMean,
    /// (fast, slow) on the previous and the current bar.
    prev: (f64, f64),
    now: (f64, f64),
}

impl SmaCross {
    pub fn new(fast: usize, slow: usize) -> SmaCross {
        SmaCross {
            fast,
            slow,
            fast_mean: RollingMean::new(fast),
            slow_mean: RollingMean::new(slow),
            prev: (f64::NAN, f64::NAN),
            now: (f64::NAN, f64::NAN),
        }
    }
}

/// `sma-cross:FAST,SLOW` in [`super::RULES`].
pub(super) const RULE: Rule = Rule {
    name: "sma-cross",
    aliases: &["smacross"],
    usage: "sma-cross:FAST,SLOW",
    build: parse,
};

fn parse(args: Option<&str>) -> Result<Box<dyn Strategy>, String> {
    let a = args.ok_or("give the two SMA lengths, e.g. sma-cross:10,20")?;
    let parts: Vec<&str> = a.split(',').map(str::trim).collect();
    let [f, s] = parts[..] else {
        return Err(format!(
            "expected two lengths FAST,SLOW such as 10,20, got '{a}'"
        ));
    };
    let len = |v: &str| match v.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{v}' is not a length (a whole number >= 1)")),
    };
    let (fast, slow) = (len(f)?, len(s)?);
    if fast >= slow {
        return Err(format!("FAST ({fast}) must be shorter than SLOW ({slow})"));
    }
    Ok(Box::new(SmaCross::new(fast, slow)))
}

impl Strategy for SmaCross {
    fn name(&self) -> String {
        format!("sma-cross:{},{}", self.fast, self.slow)
    }

    fn first_decision(&self) -> usize {
        // Both averages exist from bar slow-1; a cross needs the bar before too.
        self.slow.max(self.fast)
    }

    fn observe(&mut self, history: &History<'_>) {
        if let Some(&c) = history.close().last() {
            self.prev = self.now;
            self.now = (self.fast_mean.push(c), self.slow_mean.push(c));
        }
    }

    fn decide(&mut self, ctx: &Context<'_>) -> Result<Option<Target>, BacktestError> {
        let ((f0, s0), (f1, s1)) = (self.prev, self.now);
        Ok(if f0 < s0 && f1 > s1 {
            Some(Target::Long(FULL))
        } else if s0 < f0 && s1 > f1 {
            Some(if ctx.allow_short {
                Target::Short(FULL)
            } else {
                Target::Flat
            })
        } else {
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_mean_matches_a_direct_mean() {
        let xs: Vec<f64> = (0..50)
            .map(|i| ((i * 37 % 11) as f64) * 1.7 - 3.0)
            .collect();
        let m = rolling_mean(&xs, 7);
        for (i, v) in m.iter().enumerate() {
            if i < 6 {
                assert!(v.is_nan());
            } else {
                let direct = xs[i - 6..=i].iter().sum::<f64>() / 7.0;
                assert!((v - direct).abs() < 1e-12, "{i}: {v} vs {direct}");
            }
        }
    }

    #[test]
    fn a_window_of_one_repeated_value_is_that_value() {
        let xs = [0.1, 0.2, 0.3, 0.7, 0.7, 0.7];
        assert_eq!(rolling_mean(&xs, 3)[5], 0.7);
    }
}
