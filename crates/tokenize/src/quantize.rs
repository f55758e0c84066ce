//! Scalar quantisers: sorted edges, one representative per bin.
//!
//! `bin(x)` is the number of edges `<= x`, so bin k is `[edges[k-1], edges[k])` and
//! there are `edges.len() + 1` bins; the outer two are unbounded (or start at 0 for
//! a factor that cannot be negative). Representatives are the within-bin medians of
//! the fitting values, nudged at most [`MARGIN`] inside the bin so that re-encoding
//! a decoded value lands in the same bin despite rounding.

use candlecast_rand::Rng;
use serde::{Deserialize, Serialize};

/// How far inside its bin a representative is kept (factor units: scale units for
/// returns and wicks). Rounding in decode -> encode moves a value by about
/// `1e-16 * ln(price) / scale`, far less than this for any real series.
pub(crate) const MARGIN: f64 = 1e-7;

/// The smallest positive f64: the upper edge of a bin that holds exactly zero.
pub(crate) const SMALLEST_POSITIVE: f64 = 5e-324;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Quantizer {
    /// Ascending and finite.
    pub(crate) edges: Vec<f64>,
    /// One per bin, finite, inside its bin.
    pub(crate) reps: Vec<f64>,
    /// The factor is never negative: the lowest bin starts at 0.
    pub(crate) nonneg: bool,
    /// The lowest fitting value, where it fell in the unbounded lower bin (close
    /// returns only): a drawn lower-tail value stops there. A tail of a few
    /// outliers (a split, a bad print) has a representative of ~100 scales, and an
    /// uncut exponential from it drew single 5-minute bars of x4 on a quiet
    /// A-share. Absent in tokenizers saved before it (their tails are uncut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tail_min: Option<f64>,
    /// The same for the highest fitting value and the upper tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tail_max: Option<f64>,
}

impl Quantizer {
    /// A one-bin quantiser (a factor that is switched off).
    pub(crate) fn single(rep: f64, nonneg: bool) -> Quantizer {
        Quantizer {
            edges: vec![],
            reps: vec![rep],
            nonneg,
            tail_min: None,
            tail_max: None,
        }
    }

    #[inline]
    pub(crate) fn bin(&self, x: f64) -> usize {
        self.edges.partition_point(|&e| e <= x)
    }

    pub(crate) fn bins(&self) -> usize {
        self.reps.len()
    }

    /// The bin's bounds; infinite for the unbounded ends.
    pub(crate) fn bounds(&self, k: usize) -> (f64, f64) {
        let lo = match k.checked_sub(1).and_then(|i| self.edges.get(i)) {
            Some(&e) => e,
            None if self.nonneg => 0.0,
            None => f64::NEG_INFINITY,
        };
        let hi = self.edges.get(k).copied().unwrap_or(f64::INFINITY);
        (lo, hi)
    }

    /// Representative of bin `k` (callers pass `k < bins()`).
    #[inline]
    pub(crate) fn rep(&self, k: usize) -> f64 {
        self.reps.get(k).copied().unwrap_or(0.0)
    }

    /// A value drawn inside bin `k`: uniform between its bounds (kept [`MARGIN`]
    /// inside them), and for an unbounded end an exponential tail away from the
    /// finite edge whose median is the representative, cut at the fitted extreme
    /// when there is one (`tail_min` / `tail_max`).
    pub(crate) fn sample(&self, k: usize, rng: &mut Rng) -> f64 {
        let rep = self.rep(k);
        let (lo, hi) = self.bounds(k);
        let u = rng.uniform();
        let x = match (lo.is_finite(), hi.is_finite()) {
            (true, true) => {
                let d = margin(lo, hi);
                if d == 0.0 || hi - lo <= 2.0 * d {
                    // the zero bin [0, 5e-324), or one too narrow to draw in
                    return rep;
                }
                (lo + d) + u * ((hi - d) - (lo + d))
            }
            // The medians are written as they always were (`rep - lo - MARGIN`, not
            // `rep - (lo + MARGIN)`), so an uncut draw keeps its exact bits.
            (true, false) => {
                let from = lo + MARGIN;
                from + tail_draw(rep - lo - MARGIN, u, self.tail_max.map(|t| t - from))
            }
            (false, true) => {
                let from = hi - MARGIN;
                from - tail_draw(hi - MARGIN - rep, u, self.tail_min.map(|t| from - t))
            }
            (false, false) => rep,
        };
        if x.is_finite() {
            place(x, lo, hi)
        } else {
            rep
        }
    }

    /// Checks the invariants a saved quantiser must meet before use.
    pub(crate) fn validate(&self, what: &str, bins: usize) -> Result<(), String> {
        if self.reps.len() != bins || self.edges.len() + 1 != bins {
            return Err(format!(
                "{what}: {} edges and {} representatives for {bins} bins",
                self.edges.len(),
                self.reps.len()
            ));
        }
        let limits = self.tail_min.iter().chain(&self.tail_max);
        if self
            .edges
            .iter()
            .chain(&self.reps)
            .chain(limits)
            .any(|x| !x.is_finite())
        {
            return Err(format!("{what}: a value is not finite"));
        }
        if self.edges.windows(2).any(|w| w[0] > w[1]) {
            return Err(format!("{what}: edges are not ascending"));
        }
        if self.nonneg && (self.edges.first().is_some_and(|&e| e < 0.0)) {
            return Err(format!("{what}: negative edge in a non-negative factor"));
        }
        Ok(())
    }

    /// Representatives from the within-bin medians of `sorted` (ascending).
    fn with_medians(edges: Vec<f64>, sorted: &[f64], nonneg: bool) -> Quantizer {
        let mut q = Quantizer {
            reps: vec![0.0; edges.len() + 1],
            edges,
            nonneg,
            tail_min: None,
            tail_max: None,
        };
        for k in 0..q.reps.len() {
            let (lo, hi) = q.bounds(k);
            let a = if k == 0 {
                0
            } else {
                sorted.partition_point(|&v| v < lo)
            };
            let b = sorted.partition_point(|&v| v < hi).max(a);
            let m = match &sorted[a..b] {
                [] => match (lo.is_finite(), hi.is_finite()) {
                    (true, true) => lo + (hi - lo) / 2.0,
                    (true, false) => lo + 1.0,
                    (false, true) => hi - 1.0,
                    (false, false) => 0.0,
                },
                s => (s[(s.len() - 1) / 2] + s[s.len() / 2]) / 2.0,
            };
            q.reps[k] = place(m, lo, hi);
        }
        q
    }
}

/// O(1) bin lookup for values in `[lo, hi)`: a table of uniform cells gives the bin
/// of each cell's left end, then a short scan fixes it up in either direction, so
/// the answer is always exactly [`Quantizer::bin`] (values outside go there).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BinLut {
    lo: f64,
    hi: f64,
    cells_per_unit: f64,
    start: Vec<u32>,
}

impl BinLut {
    /// Cells of the table: 16 KiB, small enough to stay in L1.
    const CELLS: usize = 4096;

    pub(crate) fn new(q: &Quantizer) -> BinLut {
        let (lo, hi) = match (q.edges.first(), q.edges.last()) {
            (Some(&a), Some(&b)) if b > a => (a, b),
            _ => {
                return BinLut {
                    lo: 0.0,
                    hi: 0.0,
                    cells_per_unit: 0.0,
                    start: vec![],
                }
            }
        };
        let cells_per_unit = Self::CELLS as f64 / (hi - lo);
        let start = (0..Self::CELLS)
            .map(|i| q.bin(lo + i as f64 / cells_per_unit) as u32)
            .collect();
        BinLut {
            lo,
            hi,
            cells_per_unit,
            start,
        }
    }

    #[inline]
    pub(crate) fn bin(&self, q: &Quantizer, x: f64) -> usize {
        if !(x >= self.lo && x < self.hi) {
            return q.bin(x);
        }
        let edges = &q.edges;
        let cell = ((x - self.lo) * self.cells_per_unit) as usize;
        let mut k = self.start.get(cell).map_or(0, |&k| k as usize);
        while edges.get(k).is_some_and(|&e| e <= x) {
            k += 1;
        }
        while k > 0 && edges.get(k - 1).is_some_and(|&e| e > x) {
            k -= 1;
        }
        k
    }
}

/// A distance drawn by `u` from the exponential of median `median`, cut at `max`
/// when that is positive: `u` is mapped onto the mass below `max`, so the draw is
/// the exponential conditioned on not passing it (and `u` -> 1 lands on `max`).
fn tail_draw(median: f64, u: f64, max: Option<f64>) -> f64 {
    let ln2 = std::f64::consts::LN_2;
    let u = match max {
        Some(d) if d > 0.0 && median > 0.0 => u * (1.0 - (-d * ln2 / median).exp()),
        _ => u,
    };
    // Uncut, this is the exact expression tokenizers have always drawn with.
    median * -(1.0 - u).ln() / ln2
}

fn margin(lo: f64, hi: f64) -> f64 {
    MARGIN.min((hi - lo) / 4.0)
}

/// `x` moved inside `[lo, hi)` with the margin, where there is room.
pub(crate) fn place(x: f64, lo: f64, hi: f64) -> f64 {
    match (lo.is_finite(), hi.is_finite()) {
        (true, true) if hi > lo => {
            let d = margin(lo, hi);
            x.clamp(lo + d, hi - d)
        }
        (true, true) => lo,
        (true, false) => x.max(lo + MARGIN),
        (false, true) => x.min(hi - MARGIN),
        (false, false) => x,
    }
}

/// Interior edges splitting `sorted` into `k` groups of equal count (k - 1 edges).
fn equal_frequency(sorted: &[f64], k: usize) -> Vec<f64> {
    let n = sorted.len();
    (1..k)
        .map(|j| sorted.get((j * n / k).min(n.saturating_sub(1))).copied())
        .collect::<Option<Vec<f64>>>()
        .unwrap_or_default()
}

/// `k - 1` evenly spaced interior edges of `(lo, hi)`, for a side with no data.
fn even(lo: f64, hi: f64, k: usize) -> Vec<f64> {
    (1..k)
        .map(|j| lo + (hi - lo) * j as f64 / k as f64)
        .collect()
}

/// Shape of the close-return bins: how far the inner range reaches and how wide
/// an inner bin may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReturnGrid {
    pub(crate) bins: usize,
    pub(crate) clip: f64,
    pub(crate) max_width: f64,
    pub(crate) max_rel_width: f64,
    /// A bin holding exactly zero.
    pub(crate) zero_bin: bool,
}

/// The close-return quantiser: a lower tail (< -clip), bins of the negative values
/// in [-clip, 0), a bin for exactly 0, bins of the positive values in (0, clip),
/// and an upper tail (>= clip). The inner bins are shared between the sides in
/// proportion to their counts (at least one each); within a side they are
/// equal-frequency with a width cap (see [`capped_edges`]). `sorted` is ascending
/// and finite; `grid.bins >= 5`.
pub(crate) fn fit_returns(sorted: &[f64], grid: ReturnGrid) -> Quantizer {
    let clip = grid.clip;
    let inner = grid
        .bins
        .saturating_sub(if grid.zero_bin { 3 } else { 2 })
        .max(2);
    let neg_start = sorted.partition_point(|&v| v < -clip);
    let zero_start = sorted.partition_point(|&v| v < 0.0);
    let pos_start = sorted.partition_point(|&v| v <= 0.0);
    let pos_end = sorted.partition_point(|&v| v < clip);
    let neg = &sorted[neg_start..zero_start.max(neg_start)];
    let pos = &sorted[pos_start..pos_end.max(pos_start)];
    let total = neg.len() + pos.len();
    let n_neg = if total == 0 {
        inner / 2
    } else {
        ((inner * neg.len()) as f64 / total as f64).round() as usize
    }
    .clamp(1, inner - 1);
    let n_pos = inner - n_neg;
    let neg_abs: Vec<f64> = neg.iter().rev().map(|v| -v).collect();
    let mut edges = Vec::with_capacity(grid.bins - 1);
    edges.push(-clip);
    edges.extend(capped_edges(&neg_abs, n_neg, grid).iter().rev().map(|e| -e));
    edges.push(0.0);
    if grid.zero_bin {
        edges.push(SMALLEST_POSITIVE);
    }
    edges.extend(capped_edges(pos, n_pos, grid));
    edges.push(clip);
    let mut q = Quantizer::with_medians(edges, sorted, false);
    q.tail_min = sorted.first().copied().filter(|&v| v < -clip);
    q.tail_max = sorted.last().copied().filter(|&v| v >= clip);
    q
}

/// `k - 1` interior edges splitting `(0, clip)` for the ascending positive values
/// `v`: equal-frequency, except that no bin starting at `lo` is wider than
/// `max(max_width, max_rel_width * lo)`. The smallest per-bin count that fits in
/// `k` bins is found by bisection; bins left over split the fullest bins at their
/// median. Plain equal-frequency bins put one bin of 1/k of the values over the
/// whole outer range (e.g. [2.8, 8)), whose spread then dominates the
/// reconstruction error; the cap spends a few bins there instead.
pub(crate) fn capped_edges(v: &[f64], k: usize, grid: ReturnGrid) -> Vec<f64> {
    let clip = grid.clip;
    let (mut w, mut rho) = (grid.max_width, grid.max_rel_width);
    // A cap too tight to cover (0, clip) in k bins is loosened until it does.
    let mut fit = greedy(v, usize::MAX, clip, w, rho, k);
    while fit.is_none() {
        w *= 1.25;
        rho *= 1.25;
        fit = greedy(v, usize::MAX, clip, w, rho, k);
    }
    let (mut lo_c, mut hi_c) = (1usize, v.len().max(1));
    if greedy(v, hi_c, clip, w, rho, k).is_none() {
        hi_c = usize::MAX;
    }
    while lo_c < hi_c {
        let mid = lo_c + (hi_c - lo_c) / 2;
        if greedy(v, mid, clip, w, rho, k).is_some() {
            hi_c = mid;
        } else {
            lo_c = mid + 1;
        }
    }
    let mut edges = greedy(v, hi_c, clip, w, rho, k).unwrap_or_default();
    while edges.len() + 1 < k {
        // Split the bin with the most values at its median (or, with no values to
        // split, the widest bin at its midpoint).
        let mut bounds = vec![0.0];
        bounds.extend(&edges);
        bounds.push(clip);
        let counts: Vec<(usize, f64, f64)> = bounds
            .windows(2)
            .map(|b| {
                let a = v.partition_point(|&x| x < b[0]);
                let z = v.partition_point(|&x| x < b[1]);
                (z - a, b[0], b[1])
            })
            .collect();
        let split = counts
            .iter()
            .filter_map(|&(n, lo, hi)| {
                let a = v.partition_point(|&x| x < lo);
                let m = v.get(a + n / 2).copied()?;
                (n >= 2 && m > lo && m < hi).then_some((n, m))
            })
            .max_by_key(|&(n, _)| n)
            .map(|(_, m)| m)
            .or_else(|| {
                counts
                    .iter()
                    .max_by(|a, b| (a.2 - a.1).total_cmp(&(b.2 - b.1)))
                    .map(|&(_, lo, hi)| lo + (hi - lo) / 2.0)
            });
        match split {
            Some(m) => {
                let at = edges.partition_point(|&e| e < m);
                edges.insert(at, m);
            }
            None => break,
        }
    }
    edges
}

/// Greedy edges from 0 outwards: each bin holds at most `count` values and is at
/// most `max(w, rho * lo)` wide. `None` when more than `k` bins are needed.
fn greedy(v: &[f64], count: usize, clip: f64, w: f64, rho: f64, k: usize) -> Option<Vec<f64>> {
    let mut edges = Vec::with_capacity(k);
    let (mut lo, mut idx) = (0.0f64, 0usize);
    loop {
        let by_count = match idx.checked_add(count).and_then(|i| v.get(i)) {
            Some(&x) if x > lo => x,
            Some(_) => v
                .get(v.partition_point(|&x| x <= lo))
                .copied()
                .unwrap_or(f64::INFINITY),
            None => f64::INFINITY,
        };
        let e = by_count.min(lo + w.max(rho * lo));
        if e >= clip {
            return Some(edges);
        }
        if edges.len() + 2 > k || e <= lo {
            return None;
        }
        edges.push(e);
        lo = e;
        idx = v.partition_point(|&x| x < e);
    }
}

/// A quantiser for a factor >= 0 (`sorted` ascending, finite, >= 0): `bins`
/// equal-frequency bins, except that when exact zeros are common (at least half a
/// bin's share) bin 0 holds exactly zero and the rest split the positive values.
/// Representatives of bins holding positive values are then > 0.
pub(crate) fn fit_nonneg(sorted: &[f64], bins: usize) -> Quantizer {
    let n = sorted.len();
    let edges = if bins <= 1 {
        vec![]
    } else if n == 0 {
        even(0.0, bins as f64, bins)
    } else {
        let zeros = sorted.partition_point(|&v| v <= 0.0);
        if zeros * 2 * bins >= n {
            let pos = &sorted[zeros..];
            let mut e = vec![SMALLEST_POSITIVE];
            if pos.is_empty() {
                e.extend(even(0.0, (bins - 1) as f64, bins - 1));
            } else {
                e.extend(equal_frequency(pos, bins - 1));
            }
            e
        } else {
            equal_frequency(sorted, bins)
        }
    };
    let mut q = Quantizer::with_medians(edges, sorted, true);
    // A single bin mixing zeros and positives keeps a positive representative, so a
    // decoded bar has wicks exactly when the bin says so.
    if q.bins() == 1 && q.reps[0] <= 0.0 && sorted.last().is_some_and(|&v| v > 0.0) {
        let zeros = sorted.partition_point(|&v| v <= 0.0);
        let pos = &sorted[zeros..];
        q.reps[0] = (pos[(pos.len() - 1) / 2] + pos[pos.len() / 2]) / 2.0;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(bins: usize, clip: f64) -> ReturnGrid {
        ReturnGrid {
            bins,
            clip,
            max_width: 100.0,
            max_rel_width: 0.0,
            zero_bin: true,
        }
    }

    #[test]
    fn capped_edges_are_equal_frequency_in_the_core_and_capped_outside() {
        // |z| of a fat-tailed sample: dense near 0, sparse out to 30.
        let v: Vec<f64> = (1..=10_000)
            .map(|i| {
                let u = i as f64 / 10_001.0;
                (1.0 / (1.0 - u)).ln() // exponential quantiles, max ~9.2
            })
            .chain([12.0, 15.0, 20.0, 30.0])
            .collect();
        let g = ReturnGrid {
            bins: 0,
            clip: 32.0,
            max_width: 0.5,
            max_rel_width: 0.25,
            zero_bin: true,
        };
        let e = capped_edges(&v, 30, g);
        assert_eq!(e.len(), 29);
        let mut lo = 0.0;
        for &x in e.iter().chain([&32.0]) {
            assert!(x > lo);
            assert!(x - lo <= (0.5f64).max(0.25 * lo) + 1e-12, "{lo} -> {x}");
            lo = x;
        }
        // the core bins are narrower than the cap: there equal frequency binds
        assert!(e[0] < 0.2, "{e:?}");
        // bin counts in the core are about equal
        let c0 = v.partition_point(|&x| x < e[0]);
        let c1 = v.partition_point(|&x| x < e[1]) - c0;
        assert!((c0 as i64 - c1 as i64).abs() <= 1, "{c0} {c1}");
    }

    #[test]
    fn returns_layout() {
        let mut v: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) / 50.0).collect();
        v.extend([0.0; 300]);
        v.sort_by(f64::total_cmp);
        let q = fit_returns(&v, grid(16, 8.0));
        assert_eq!(q.bins(), 16);
        q.validate("returns", 16).unwrap();
        assert_eq!(q.bin(-9.0), 0);
        assert_eq!(q.bin(9.0), 15);
        assert_eq!(q.bin(8.0), 15);
        let zero = q.bin(0.0);
        assert_eq!(q.rep(zero), 0.0);
        assert_eq!(q.bin(-0.0), zero);
        assert_eq!(q.bin(1e-300), zero + 1);
        assert_eq!(q.bin(-1e-300), zero - 1);
        for k in 0..q.bins() {
            assert_eq!(q.bin(q.rep(k)), k, "bin {k} rep {}", q.rep(k));
        }
        // tails: medians of the values beyond the clip
        assert!((q.rep(15) - 9.0).abs() < 0.05, "{}", q.rep(15));
        // Without the zero bin: as many bins, zeros share a bin with small positives.
        let q = fit_returns(
            &v,
            ReturnGrid {
                zero_bin: false,
                ..grid(16, 8.0)
            },
        );
        assert_eq!(q.bins(), 16);
        q.validate("returns", 16).unwrap();
        assert_eq!(q.bin(0.0), q.bin(1e-300));
        assert_eq!(q.bin(-1e-300) + 1, q.bin(0.0));
    }

    #[test]
    fn lookup_table_agrees_with_binary_search() {
        let mut v: Vec<f64> = (0..5000)
            .map(|i| ((i as f64 - 2500.0) / 300.0).powi(3))
            .collect();
        v.extend([0.0; 1000]);
        v.sort_by(f64::total_cmp);
        let g = ReturnGrid {
            bins: 64,
            clip: 32.0,
            max_width: 0.5,
            max_rel_width: 0.25,
            zero_bin: true,
        };
        let q = fit_returns(&v, g);
        let lut = BinLut::new(&q);
        let mut rng = Rng::new(11);
        let mut probes: Vec<f64> = q.edges.clone();
        probes.extend(q.edges.iter().map(|&e| e.next_down()));
        probes.extend(q.edges.iter().map(|&e| e.next_up()));
        probes.extend((0..100_000).map(|_| (rng.next_f64() - 0.5) * 80.0));
        probes.extend((0..100_000).map(|_| (rng.next_f64() - 0.5) * 0.1));
        probes.extend([
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            32.0,
            -32.0,
        ]);
        for x in probes {
            assert_eq!(lut.bin(&q, x), q.bin(x), "{x}");
        }
    }

    #[test]
    fn nonneg_gets_a_zero_bin_when_zeros_are_common() {
        let mut v: Vec<f64> = (1..=800).map(|i| i as f64 / 100.0).collect();
        v.extend([0.0; 200]);
        v.sort_by(f64::total_cmp);
        let q = fit_nonneg(&v, 4);
        assert_eq!(q.bin(0.0), 0);
        assert_eq!(q.rep(0), 0.0);
        assert!(q.rep(1) > 0.0);
        for k in 0..4 {
            assert_eq!(q.bin(q.rep(k)), k);
        }
        let q = fit_nonneg(&v[150..], 4); // 50 zeros of 850: under half a bin
        assert_eq!(q.bin(0.0), 0);
        assert!(q.rep(0) > 0.0);
    }

    /// Tail draws stop at the most extreme fitted value; a tail with no fitted
    /// values (or a quantiser saved before the limits) draws as it always did.
    #[test]
    fn tail_draws_stop_at_the_fitted_extremes() {
        let mut v: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) / 100.0).collect();
        v.extend([9.0, 30.0, 200.0]); // three outliers above the clip of 6: median 30
        v.sort_by(f64::total_cmp);
        let q = fit_returns(&v, grid(12, 6.0));
        assert_eq!((q.tail_min, q.tail_max), (None, Some(200.0)));
        let top = q.bins() - 1;
        assert_eq!(q.rep(top), 30.0);
        let mut rng = Rng::new(5);
        let draws: Vec<f64> = (0..20_000).map(|_| q.sample(top, &mut rng)).collect();
        assert!(draws.iter().all(|&x| (6.0..=200.0).contains(&x)));
        // Uncut, the exponential of median 24 beyond the edge passes 200 in 0.37%
        // of draws; cut, the draw is that exponential conditioned on staying below.
        let near = draws.iter().filter(|&&x| x > 150.0).count();
        assert!(near > 40, "{near} draws above 150");

        let mut uncut = q.clone();
        uncut.tail_max = None;
        let mut r1 = Rng::new(5);
        let free: Vec<f64> = (0..20_000).map(|_| uncut.sample(top, &mut r1)).collect();
        assert!(free.iter().filter(|&&x| x > 200.0).count() > 30);
        // Uncut, a draw is bit for bit the expression tokenizers always used.
        let (lo, _) = uncut.bounds(top);
        let (mut r4, mut r5) = (Rng::new(11), Rng::new(11));
        for _ in 0..100 {
            let u = r5.uniform();
            let old = (lo + MARGIN)
                + (uncut.rep(top) - lo - MARGIN) * -(1.0 - u).ln() / std::f64::consts::LN_2;
            assert_eq!(uncut.sample(top, &mut r4).to_bits(), old.to_bits());
        }
        // The lower tail held nothing: the same draws with or without the limits.
        let (mut r2, mut r3) = (Rng::new(8), Rng::new(8));
        for _ in 0..100 {
            let (a, b) = (q.sample(0, &mut r2), uncut.sample(0, &mut r3));
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    /// The limits are saved when there are any and left out otherwise, so a
    /// tokenizer with empty tails (or one saved before them) keeps its bytes.
    #[test]
    fn tail_limits_are_saved_only_when_there_are_some() -> Result<(), serde_json::Error> {
        let v: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) / 100.0).collect();
        let plain = fit_returns(&v, grid(12, 6.0));
        let text = serde_json::to_string(&plain)?;
        assert!(!text.contains("tail_"), "{text}");
        assert_eq!(serde_json::from_str::<Quantizer>(&text)?, plain);
        let mut w = v.clone();
        w.insert(0, -50.0);
        let cut = fit_returns(&w, grid(12, 6.0));
        assert_eq!((cut.tail_min, cut.tail_max), (Some(-50.0), None));
        let text = serde_json::to_string(&cut)?;
        assert!(
            text.contains("\"tail_min\":-50.0") && !text.contains("tail_max"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Quantizer>(&text)?, cut);
        Ok(())
    }

    #[test]
    fn samples_stay_in_their_bin() {
        let v: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) / 40.0).collect();
        let q = fit_returns(&v, grid(12, 6.0));
        let mut rng = Rng::new(3);
        for k in 0..q.bins() {
            for _ in 0..200 {
                let x = q.sample(k, &mut rng);
                assert!(x.is_finite());
                assert_eq!(q.bin(x), k, "bin {k} sample {x}");
            }
        }
    }
}
