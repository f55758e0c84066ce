//! Draws from the distributions the processes need, on top of the project's seeded
//! SplitMix64 (so a seed names one corpus on every machine).

use candlecast_tokenize::Rng;

/// A seeded source of the draws below.
#[derive(Debug, Clone)]
pub struct Draws {
    rng: Rng,
    /// Box-Muller makes normals in pairs; the second waits here.
    spare: Option<f64>,
}

impl Draws {
    pub fn new(seed: u64) -> Draws {
        Draws {
            rng: Rng::new(seed),
            spare: None,
        }
    }

    /// Uniform in (0, 1): never exactly 0, so logs are finite.
    pub fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) + 0.5 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Log-uniform in [lo, hi): scale parameters spread evenly over orders of magnitude.
    pub fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.uniform()).exp()
    }

    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// One of `options`, with the given weights (need not sum to one).
    pub fn pick<T: Copy>(&mut self, options: &[(T, f64)]) -> Option<T> {
        let total: f64 = options.iter().map(|o| o.1).sum();
        let mut u = self.uniform() * total;
        for &(v, w) in options {
            if u < w {
                return Some(v);
            }
            u -= w;
        }
        options.last().map(|o| o.0)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let a = std::f64::consts::TAU * self.uniform();
        self.spare = Some(r * a.sin());
        r * a.cos()
    }

    /// Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 by the boost
    /// Gamma(a) = Gamma(a + 1) U^(1/a).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Student t with `df` > 2 degrees of freedom, scaled to unit variance: the heavy
    /// tails of returns without changing the volatility they are scaled by.
    pub fn student_t_unit(&mut self, df: f64) -> f64 {
        let z = self.normal();
        let chi2 = 2.0 * self.gamma(df / 2.0);
        z / (chi2 / df).sqrt() * ((df - 2.0) / df).sqrt()
    }

    /// Poisson by inversion (small means only: jump counts per bar).
    pub fn poisson(&mut self, mean: f64) -> u32 {
        let (mut k, mut p, target) = (0u32, 1.0, (-mean).exp());
        loop {
            p *= self.uniform();
            if p <= target || k >= 64 {
                return k;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
    }

    #[test]
    fn normals_and_unit_t_have_unit_variance() {
        let mut d = Draws::new(1);
        let z: Vec<f64> = (0..200_000).map(|_| d.normal()).collect();
        let (m, v) = moments(&z);
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.02, "{m} {v}");
        let t: Vec<f64> = (0..200_000).map(|_| d.student_t_unit(6.0)).collect();
        let (m, v) = moments(&t);
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.05, "{m} {v}");
        // Heavier tails than the normal: kurtosis of t(6) is 6.
        let k = t.iter().map(|x| x.powi(4)).sum::<f64>() / t.len() as f64;
        assert!(k > 4.0, "kurtosis {k}");
    }

    #[test]
    fn gamma_mean_is_its_shape() {
        let mut d = Draws::new(2);
        for shape in [0.5, 1.5, 10.0] {
            let g: Vec<f64> = (0..100_000).map(|_| d.gamma(shape)).collect();
            let (m, _) = moments(&g);
            assert!((m / shape - 1.0).abs() < 0.02, "{shape}: {m}");
        }
    }

    #[test]
    fn poisson_mean() {
        let mut d = Draws::new(3);
        let n = 100_000;
        let s: u32 = (0..n).map(|_| d.poisson(0.05)).sum();
        assert!((s as f64 / n as f64 - 0.05).abs() < 0.005);
    }
}
