//! The report's charts, drawn by plotters into SVG strings. Long series are
//! reduced to each pixel column's first, lowest, highest and last point (bands
//! to their widest extent, bars to merged candles), which keeps the file small
//! and the picture the same.

use crate::engine::Run;
use crate::error::BacktestError;
use candlecast_data::Series;
use plotters::coord::Shift;
use plotters::prelude::*;

pub const WIDTH: u32 = 1000;
const MAX_POINTS: usize = 1600;
/// About 4 pixels per candle: narrower bodies no longer read as candles.
pub const MAX_CANDLES: usize = 250;

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE_: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub const RED_: RGBColor = RGBColor(214, 39, 40);
pub const PURPLE_: RGBColor = RGBColor(148, 103, 189);
pub const GREY_: RGBColor = RGBColor(127, 127, 127);
pub const PALETTE: [RGBColor; 4] = [GREY_, PURPLE_, GREEN_, RED_];

fn plot_err<E: std::fmt::Display>(e: E) -> BacktestError {
    BacktestError::Plot(e.to_string())
}

/// Buy-and-hold equity without costs at each bar of the window: all cash in at
/// the close `buy_hold_return_pct` is measured from. An iterator, so a long
/// window's report does not hold another copy of it.
pub fn buy_hold<'a>(
    series: &'a Series,
    run: &'a Run,
    cash: f64,
) -> impl ExactSizeIterator<Item = f64> + 'a {
    let close = series.close();
    let c0 = close.get(run.buy_hold_start).copied().unwrap_or(f64::NAN);
    (0..run.equity.len()).map(move |k| {
        let i = run.window_start + k;
        if i < run.buy_hold_start {
            cash
        } else {
            close.get(i).map_or(f64::NAN, |c| cash * c / c0)
        }
    })
}

/// [`crate::metrics::drawdowns`] as a stream, in percent below the
/// running peak (negative), so a long window's chart and `equity.csv` need no
/// copy of it.
pub fn drawdown_pct(equity: &[f64]) -> impl ExactSizeIterator<Item = f64> + '_ {
    let mut peak = f64::NEG_INFINITY;
    equity.iter().map(move |&e| {
        peak = peak.max(e);
        0.0 - (1.0 - e / peak) * 100.0
    })
}

/// At most about `MAX_POINTS` points with the same visual envelope: per
/// bucket of consecutive points, the first, lowest, highest and last. Takes the
/// points as a stream, so a long series needs no temporary copy.
pub fn reduce(points: impl ExactSizeIterator<Item = (f64, f64)>) -> Points {
    let n = points.len();
    if n <= MAX_POINTS {
        return points.collect();
    }
    let buckets = MAX_POINTS / 4;
    let mut out = Vec::with_capacity(MAX_POINTS);
    let mut points = points;
    for b in 0..buckets {
        let (lo, hi) = (b * n / buckets, ((b + 1) * n / buckets).min(n));
        let Some(first) = (lo < hi).then(|| points.next()).flatten() else {
            continue;
        };
        // (index, point) of the first, lowest, highest and last.
        let (mut min, mut max, mut last) = ((lo, first), (lo, first), (lo, first));
        for (i, p) in (lo + 1..hi).zip(points.by_ref()) {
            if p.1 < min.1 .1 {
                min = (i, p);
            }
            if p.1 > max.1 .1 {
                max = (i, p);
            }
            last = (i, p);
        }
        let mut pick = [(lo, first), min, max, last];
        pick.sort_unstable_by_key(|&(i, _)| i);
        let mut prev = None;
        for (i, p) in pick {
            if prev != Some(i) {
                out.push(p);
                prev = Some(i);
            }
        }
    }
    out
}

/// Chart points, (x, y).
pub type Points = Vec<(f64, f64)>;

/// Whether [`reduce`] and [`reduce_band`] thin a series of `n` points.
pub fn is_reduced(n: usize) -> bool {
    n > MAX_POINTS
}

/// A band between `lower` and `upper` at about `MAX_POINTS` points: per bucket,
/// the lowest lower and the highest upper, held over the bucket's first to last
/// x, so the band drawn covers every point of the full one.
pub fn reduce_band(xs: &[f64], lower: &[f64], upper: &[f64]) -> (Points, Points) {
    let n = xs.len().min(lower.len()).min(upper.len());
    if n <= MAX_POINTS {
        let pts = |ys: &[f64]| xs.iter().copied().zip(ys.iter().copied()).take(n).collect();
        return (pts(lower), pts(upper));
    }
    let buckets = MAX_POINTS / 2;
    let (mut lo_out, mut hi_out) = (Vec::new(), Vec::new());
    for b in 0..buckets {
        let (lo, hi) = (b * n / buckets, ((b + 1) * n / buckets).min(n));
        if lo >= hi {
            continue;
        }
        let min = lower[lo..hi].iter().copied().fold(f64::INFINITY, f64::min);
        let max = upper[lo..hi]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        for x in [xs[lo], xs[hi - 1]] {
            lo_out.push((x, min));
            hi_out.push((x, max));
        }
    }
    (lo_out, hi_out)
}

/// A candle: one bar, or several merged (first open, highest high, lowest
/// low, last close); its body spans `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub x0: f64,
    pub x1: f64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// The bars at times `x(i)` with `o`, `h`, `l`, `c` as at most `MAX_CANDLES`
/// candles, and how many bars each one merges (the last may merge fewer).
pub fn candles(
    x: impl Fn(usize) -> f64,
    o: &[f64],
    h: &[f64],
    l: &[f64],
    c: &[f64],
) -> (Vec<Candle>, usize) {
    let n = o.len().min(h.len()).min(l.len()).min(c.len());
    if n == 0 {
        return (vec![], 1);
    }
    let per = n.div_ceil(MAX_CANDLES);
    // Each candle has the room of `per` average bars from its first bar (the
    // last one too, though it may hold fewer); its body takes 70% of it.
    let bar = (x(n - 1) - x(0)).max(1.0) / (n - 1).max(1) as f64;
    let slot = bar * per as f64;
    let out = (0..n)
        .step_by(per)
        .map(|lo| {
            let hi = (lo + per).min(n);
            let mid = x(lo) + (slot - bar) / 2.0;
            let half = 0.35 * slot;
            Candle {
                x0: mid - half,
                x1: mid + half,
                open: o[lo],
                high: h[lo..hi].iter().copied().fold(f64::NEG_INFINITY, f64::max),
                low: l[lo..hi].iter().copied().fold(f64::INFINITY, f64::min),
                close: c[hi - 1],
            }
        })
        .collect();
    (out, per)
}

fn range(points: &[&[(f64, f64)]]) -> (f64, f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for ps in points {
        for &(x, y) in ps.iter() {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(y1.abs() * 1e-6).max(1e-9);
    (x0, x1, y0 - pad, y1 + pad)
}

/// Dates on the time axis: with the time of day when the window is short.
fn time_label(span_ms: f64) -> impl Fn(&f64) -> String {
    move |x: &f64| {
        let fmt = if span_ms < 5.0 * 86_400_000.0 {
            "%Y-%m-%d %H:%M"
        } else {
            "%Y-%m-%d"
        };
        chrono::DateTime::from_timestamp_millis(*x as i64)
            .map(|t| t.format(fmt).to_string())
            .unwrap_or_default()
    }
}

/// One line of a chart.
pub struct Line<'a> {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: &'a RGBColor,
    pub width: u32,
}

/// A band between two lines (quantiles).
pub struct Band {
    pub label: String,
    pub lower: Vec<(f64, f64)>,
    pub upper: Vec<(f64, f64)>,
    pub color: RGBColor,
}

/// A marker at a point: an up or down triangle, or a ring.
#[derive(Clone, Copy)]
pub enum Marker {
    Up,
    Down,
    Exit,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub height: u32,
    pub lines: Vec<Line<'a>>,
    pub bands: Vec<Band>,
    pub markers: Vec<(f64, f64, Marker)>,
    /// Price bars, drawn under the lines and markers.
    pub candles: Vec<Candle>,
    /// Fill the first line down to zero (the drawdown chart).
    pub fill_first: bool,
}

fn draw(area: &DrawingArea<SVGBackend<'_>, Shift>, c: &Chart<'_>) -> Result<(), BacktestError> {
    area.fill(&WHITE).map_err(plot_err)?;
    let (x0, x1, y0, y1) = extent(c);
    let mut chart = ChartBuilder::on(area)
        .caption(c.title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    let fmt = time_label(x1 - x0);
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&fmt)
        .y_desc(c.y_label)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(plot_err)?;
    // Bands first and markers last, so the lines stay readable over the bands
    // and the trades over everything.
    draw_bands(&mut chart, &c.bands)?;
    draw_candles(&mut chart, &c.candles)?;
    draw_lines(&mut chart, c)?;
    draw_markers(&mut chart, &c.markers)?;
    // A single series needs no legend: the chart's title names it.
    if c.lines.len() + c.bands.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The axes' ranges: every line, band and candle fits, and the drawdown chart
/// keeps zero in view so its filled area has a baseline.
fn extent(c: &Chart<'_>) -> (f64, f64, f64, f64) {
    let mut all: Vec<&[(f64, f64)]> = c.lines.iter().map(|l| l.points.as_slice()).collect();
    for b in &c.bands {
        all.push(&b.lower);
        all.push(&b.upper);
    }
    let candle_extent: Vec<(f64, f64)> = c
        .candles
        .iter()
        .flat_map(|k| [(k.x0, k.low), (k.x1, k.high)])
        .collect();
    all.push(&candle_extent);
    let (x0, x1, mut y0, mut y1) = range(&all);
    if c.fill_first {
        y1 = y1.max(0.0);
        y0 = y0.min(0.0);
    }
    (x0, x1, y0, y1)
}

/// Translucent, so the lines and candles under a quantile band still show.
fn draw_bands(chart: &mut Cartesian<'_, '_>, bands: &[Band]) -> Result<(), BacktestError> {
    for b in bands {
        let mut poly = b.lower.clone();
        poly.extend(b.upper.iter().rev());
        let color = b.color;
        chart
            .draw_series(std::iter::once(Polygon::new(
                poly,
                color.mix(0.25).filled(),
            )))
            .map_err(plot_err)?
            .label(b.label.clone())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.mix(0.25).filled())
            });
    }
    Ok(())
}

/// The first line is an unlabelled filled area when `fill_first` is set (the
/// drawdown chart has one series and no legend); the rest are labelled lines.
fn draw_lines(chart: &mut Cartesian<'_, '_>, c: &Chart<'_>) -> Result<(), BacktestError> {
    for (k, l) in c.lines.iter().enumerate() {
        let color = *l.color;
        if k == 0 && c.fill_first {
            chart
                .draw_series(
                    AreaSeries::new(l.points.iter().copied(), 0.0, color.mix(0.3))
                        .border_style(color),
                )
                .map_err(plot_err)?;
            continue;
        }
        let style = color.stroke_width(l.width);
        chart
            .draw_series(LineSeries::new(l.points.iter().copied(), style))
            .map_err(plot_err)?
            .label(l.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    Ok(())
}

/// Shapes in pixels, not data units, so markers keep their size at any zoom.
fn draw_markers(
    chart: &mut Cartesian<'_, '_>,
    markers: &[(f64, f64, Marker)],
) -> Result<(), BacktestError> {
    chart
        .draw_series(markers.iter().map(|&(x, y, m)| {
            let shape: Vec<(i32, i32)> = match m {
                Marker::Up => vec![(-5, 5), (5, 5), (0, -4)],
                Marker::Down => vec![(-5, -5), (5, -5), (0, 4)],
                Marker::Exit => vec![(-3, -3), (3, -3), (3, 3), (-3, 3)],
            };
            let color = match m {
                Marker::Up => GREEN_.filled(),
                Marker::Down => RED_.filled(),
                Marker::Exit => BLACK.filled(),
            };
            EmptyElement::at((x, y)) + Polygon::new(shape, color)
        }))
        .map_err(plot_err)?;
    Ok(())
}

type Cartesian<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Wicks, then bodies: hollow when the close is above the open, filled grey
/// when below, so the green and red trade markers stay the only colours.
fn draw_candles(chart: &mut Cartesian<'_, '_>, candles: &[Candle]) -> Result<(), BacktestError> {
    let ink = RGBColor(90, 90, 90);
    chart
        .draw_series(candles.iter().map(|k| {
            let x = (k.x0 + k.x1) / 2.0;
            PathElement::new(vec![(x, k.low), (x, k.high)], ink.stroke_width(1))
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(candles.iter().map(|k| {
            let fill = if k.close >= k.open { WHITE } else { ink };
            Rectangle::new(
                [(k.x0, k.open.max(k.close)), (k.x1, k.open.min(k.close))],
                fill.filled(),
            )
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(candles.iter().map(|k| {
            Rectangle::new(
                [(k.x0, k.open.max(k.close)), (k.x1, k.open.min(k.close))],
                ink.stroke_width(1),
            )
        }))
        .map_err(plot_err)?;
    Ok(())
}

/// The chart as an `<svg>` element.
pub fn svg(c: &Chart<'_>) -> Result<String, BacktestError> {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (WIDTH, c.height)).into_drawing_area();
        draw(&area, c)?;
        area.present().map_err(plot_err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_pct_is_the_metrics_drawdown_in_percent() {
        let equity = [100.0, 110.0, 99.0, 120.0, 60.0, 60.0, 130.0, 0.0];
        let want: Vec<f64> = crate::metrics::drawdowns(&equity)
            .iter()
            .map(|d| 0.0 - d * 100.0)
            .collect();
        let got: Vec<f64> = drawdown_pct(&equity).collect();
        assert_eq!(got, want);
        assert_eq!(got[4], -50.0);
    }

    #[test]
    fn candles_merge_consecutive_bars_to_fit() {
        let n = 1001;
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 60_000.0).collect();
        let o: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
        let h: Vec<f64> = o.iter().map(|v| v + 5.0).collect();
        let l: Vec<f64> = o.iter().map(|v| v - 5.0).collect();
        let c: Vec<f64> = o.iter().map(|v| v + 1.0).collect();
        let x = |i: usize| xs[i];
        let (k, per) = candles(x, &o, &h, &l, &c);
        assert_eq!(per, 5, "1001 bars in at most 250 candles");
        assert_eq!(k.len(), 201);
        assert_eq!(
            (k[0].open, k[0].high, k[0].low, k[0].close),
            (100.0, 109.0, 95.0, 105.0)
        );
        // The last candle holds the one bar left over.
        let last = k[200];
        assert_eq!((last.open, last.close), (1100.0, 1101.0));
        assert!(k.windows(2).all(|w| w[0].x1 < w[1].x0), "bodies overlap");
        let (k, per) = candles(x, &o[..10], &h[..10], &l[..10], &c[..10]);
        assert_eq!((k.len(), per), (10, 1));
    }

    /// The reduction as it was written before it took a stream.
    fn reduce_slices(xs: &[f64], ys: &[f64]) -> Points {
        let n = xs.len();
        if n <= MAX_POINTS {
            return xs.iter().copied().zip(ys.iter().copied()).collect();
        }
        let buckets = MAX_POINTS / 4;
        let mut out = Vec::new();
        for b in 0..buckets {
            let (lo, hi) = (b * n / buckets, ((b + 1) * n / buckets).min(n));
            if lo >= hi {
                continue;
            }
            let mut idx = vec![lo, hi - 1];
            let (mut imin, mut imax) = (lo, lo);
            for i in lo..hi {
                if ys[i] < ys[imin] {
                    imin = i;
                }
                if ys[i] > ys[imax] {
                    imax = i;
                }
            }
            idx.extend([imin, imax]);
            idx.sort_unstable();
            idx.dedup();
            out.extend(idx.into_iter().map(|i| (xs[i], ys[i])));
        }
        out
    }

    #[test]
    fn reduce_keeps_each_buckets_first_lowest_highest_and_last() {
        for n in [0, 1, 1600, 1601, 2000, 10_007, 100_000] {
            let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
            // Ties and a NaN: the first of equal values wins, NaN is never picked as extreme.
            let ys: Vec<f64> = (0..n)
                .map(|i| {
                    if i == 5000 {
                        f64::NAN
                    } else {
                        ((i * 7919) % 997 / 10) as f64
                    }
                })
                .collect();
            let got = reduce(xs.iter().copied().zip(ys.iter().copied()));
            let want = reduce_slices(&xs, &ys);
            assert_eq!(got.len(), want.len(), "{n}");
            assert!(got.len() <= MAX_POINTS, "{n}");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    g.0 == w.0 && (g.1 == w.1 || (g.1.is_nan() && w.1.is_nan())),
                    "{n}: {g:?} {w:?}"
                );
            }
        }
    }

    #[test]
    fn a_reduced_band_covers_every_point_of_the_full_one() {
        let n = 10_000;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mid: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64).collect();
        let lower: Vec<f64> = mid.iter().map(|m| m - 1.0 - (m % 3.0)).collect();
        let upper: Vec<f64> = mid.iter().map(|m| m + 1.0 + (m % 5.0)).collect();
        let (lo, hi) = reduce_band(&xs, &lower, &upper);
        assert!(is_reduced(n) && lo.len() <= MAX_POINTS && lo.len() == hi.len());
        // Each point lies inside the drawn band at its x.
        for i in 0..n {
            let seg = lo
                .chunks(2)
                .zip(hi.chunks(2))
                .find(|(l, _)| l[0].0 <= xs[i] && xs[i] <= l[1].0)
                .unwrap();
            assert!(seg.0[0].1 <= lower[i] && upper[i] <= seg.1[0].1, "{i}");
        }
        let (lo, _) = reduce_band(&xs[..100], &lower[..100], &upper[..100]);
        assert_eq!(lo.len(), 100);
    }
}
