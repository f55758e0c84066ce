//! The report's charts, drawn by plotters into SVG strings. Long series are
//! reduced to each pixel column's first, lowest, highest and last point, which
//! keeps the file small and the picture the same.

use crate::engine::Run;
use crate::error::BacktestError;
use candlecast_data::Series;
use plotters::coord::Shift;
use plotters::prelude::*;

pub const WIDTH: u32 = 1000;
const MAX_POINTS: usize = 1600;
/// Trades beyond this many get no markers (the most recent are kept).
const MAX_MARKERS: usize = 600;

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

/// Buy-and-hold equity without costs over the window: all cash in at the close
/// `buy_hold_return_pct` is measured from.
pub fn buy_hold(series: &Series, run: &Run, cash: f64) -> Vec<f64> {
    let close = series.close();
    let c0 = close.get(run.buy_hold_start).copied().unwrap_or(f64::NAN);
    (0..run.equity.len())
        .map(|k| {
            let i = run.window_start + k;
            if i < run.buy_hold_start {
                cash
            } else {
                close.get(i).map_or(f64::NAN, |c| cash * c / c0)
            }
        })
        .collect()
}

/// At most about `MAX_POINTS` points with the same visual envelope.
pub fn reduce(xs: &[f64], ys: &[f64]) -> Vec<(f64, f64)> {
    let n = xs.len().min(ys.len());
    if n <= MAX_POINTS {
        return xs.iter().copied().zip(ys.iter().copied()).take(n).collect();
    }
    let buckets = MAX_POINTS / 4;
    let mut out = Vec::with_capacity(MAX_POINTS);
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
        idx.push(imin);
        idx.push(imax);
        idx.sort_unstable();
        idx.dedup();
        out.extend(idx.into_iter().map(|i| (xs[i], ys[i])));
    }
    out
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
    /// Fill the first line down to zero (the drawdown chart).
    pub fill_first: bool,
}

fn draw(area: &DrawingArea<SVGBackend<'_>, Shift>, c: &Chart<'_>) -> Result<(), BacktestError> {
    area.fill(&WHITE).map_err(plot_err)?;
    let mut all: Vec<&[(f64, f64)]> = c.lines.iter().map(|l| l.points.as_slice()).collect();
    for b in &c.bands {
        all.push(&b.lower);
        all.push(&b.upper);
    }
    let (x0, x1, mut y0, mut y1) = range(&all);
    if c.fill_first {
        y1 = y1.max(0.0);
        y0 = y0.min(0.0);
    }
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
    for b in &c.bands {
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
    let start = c.markers.len().saturating_sub(MAX_MARKERS);
    chart
        .draw_series(c.markers[start..].iter().map(|&(x, y, m)| {
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
