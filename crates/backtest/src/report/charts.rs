//! The report's four charts as SVG, each with the caption that says what it
//! shows and, where a long run cannot be drawn whole, by which rule it was
//! thinned: a chart that quietly drops data reads as the whole story.

use super::plot::{self, Band, Chart, Line, Marker, BLUE_, ORANGE_, PALETTE};
use super::Report;
use crate::error::BacktestError;

/// Trades beyond this many are thinned to every k-th; each trade is up to two
/// markers, and more than about a thousand on a 1000-pixel chart overlap.
pub const MAX_MARKED_TRADES: usize = 500;

/// A chart and the caption printed above it (HTML, already escaped).
pub struct Figure {
    pub caption: String,
    pub svg: String,
}

/// The window's bar times as chart x values (milliseconds), as a stream.
fn window_x<'a>(r: &Report<'a>) -> impl ExactSizeIterator<Item = f64> + 'a {
    let ts = r.series.timestamps();
    ts[r.main.run.window_start.min(ts.len())..]
        .iter()
        .map(|t| t.0 as f64)
}

/// (x, y) of the window's bars, `y` one value per bar from the window start.
fn on_window<'a>(
    r: &Report<'a>,
    y: impl ExactSizeIterator<Item = f64> + 'a,
) -> impl ExactSizeIterator<Item = (f64, f64)> + 'a {
    window_x(r).zip(y)
}

/// Equity of the strategy, buy-and-hold and the comparison strategies.
pub fn equity(r: &Report<'_>) -> Result<String, BacktestError> {
    let run = r.main.run;
    let bh = plot::buy_hold(r.series, run, r.broker.cash);
    let mut lines = vec![
        Line {
            label: r.main.label(),
            points: plot::reduce(on_window(r, run.equity.iter().copied())),
            color: &BLUE_,
            width: 2,
        },
        Line {
            label: "buy & hold (no costs)".into(),
            points: plot::reduce(on_window(r, bh)),
            color: &ORANGE_,
            width: 1,
        },
    ];
    for (k, e) in r.compare.iter().enumerate() {
        lines.push(Line {
            label: e.label(),
            points: plot::reduce(on_window(r, e.run.equity.iter().copied())),
            color: &PALETTE[k % PALETTE.len()],
            width: 1,
        });
    }
    plot::svg(&Chart {
        title: "Equity",
        y_label: "equity",
        height: 340,
        lines,
        bands: vec![],
        markers: vec![],
        candles: vec![],
        fill_first: false,
    })
}

pub fn drawdown(r: &Report<'_>) -> Result<String, BacktestError> {
    plot::svg(&Chart {
        title: "Drawdown [%]",
        y_label: "%",
        height: 200,
        lines: vec![Line {
            label: "drawdown".into(),
            points: plot::reduce(on_window(r, plot::drawdown_pct(&r.main.run.equity))),
            color: &plot::RED_,
            width: 1,
        }],
        bands: vec![],
        markers: vec![],
        candles: vec![],
        fill_first: true,
    })
}

/// Which of `n` trades (in time order) get markers: all up to
/// [`MAX_MARKED_TRADES`], else one in every k from the first, with the
/// smallest k that keeps within it. Returns k.
pub fn marked_every(n: usize) -> usize {
    n.div_ceil(MAX_MARKED_TRADES).max(1)
}

/// The price (a close line, or candles with `--candles`) with each trade's
/// entry and exit.
pub fn trades(r: &Report<'_>) -> Result<Figure, BacktestError> {
    let s = r.series;
    let run = r.main.run;
    let ws = run.window_start.min(s.len());
    let at = |i: usize| s.timestamps().get(i).map_or(f64::NAN, |t| t.0 as f64);
    let all: Vec<_> = run.trades.iter().chain(run.open_trade.iter()).collect();
    let every = marked_every(all.len());
    let mut markers = Vec::new();
    for (k, t) in all.iter().enumerate().filter(|(k, _)| k % every == 0) {
        let m = if t.size > 0.0 {
            Marker::Up
        } else {
            Marker::Down
        };
        markers.push((at(t.entry_bar), t.entry_price, m));
        let open = run.open_trade.is_some() && k + 1 == all.len();
        if !open {
            markers.push((at(t.exit_bar), t.exit_price, Marker::Exit));
        }
    }
    let (candles, per) = if r.report_options.candles {
        plot::candles(
            |k| at(ws + k),
            &s.open()[ws..],
            &s.high()[ws..],
            &s.low()[ws..],
            &s.close()[ws..],
        )
    } else {
        (vec![], 1)
    };
    let lines = if r.report_options.candles {
        vec![]
    } else {
        vec![Line {
            label: "close".into(),
            points: plot::reduce(on_window(r, s.close()[ws..].iter().copied())),
            color: &BLUE_,
            width: 1,
        }]
    };
    let mut caption =
        String::from("&#9650; long entry &middot; &#9660; short entry &middot; &#9632; exit");
    caption.push_str(&match (all.len(), every) {
        (0, _) => " &middot; no trades".to_string(),
        (n, 1) => format!(" &middot; all {n} trade{}", if n == 1 { "" } else { "s" }),
        (n, k) => format!(
            " &middot; {n} trades, too many to mark: one in every {k} is marked, from the first \
             ({} trades); trades.csv has them all",
            n.div_ceil(k)
        ),
    });
    if r.report_options.candles {
        caption.push_str(&if per == 1 {
            " &middot; one candle per bar".to_string()
        } else {
            format!(
                " &middot; each candle merges {per} bars (first open, highest high, lowest low, last close)"
            )
        });
    }
    let svg = plot::svg(&Chart {
        title: if r.report_options.candles {
            "Price with trades"
        } else {
            "Close with trades"
        },
        y_label: "price",
        height: 340,
        lines,
        bands: vec![],
        markers,
        candles,
        fill_first: false,
    })?;
    Ok(Figure { caption, svg })
}

/// The forecast fan: the horizon-step forecast made at each decision, plotted
/// at the bar it forecast, against the close that came. None without forecasts.
pub fn fan(r: &Report<'_>) -> Result<Option<Figure>, BacktestError> {
    let s = r.series;
    let run = r.main.run;
    let Some(h) = run
        .forecasts
        .first()
        .map(|f| f.mean.len())
        .filter(|&h| h > 0)
    else {
        return Ok(None);
    };
    let (mut fx, mut lower, mut median, mut upper) = (vec![], vec![], vec![], vec![]);
    for f in &run.forecasts {
        let i = f.origin_bar + h;
        if let (Some(t), Some(q)) = (s.timestamps().get(i), f.quantiles.get(h - 1)) {
            fx.push(t.0 as f64);
            lower.push(q[0]);
            median.push(q[1]);
            upper.push(q[2]);
        }
    }
    let close = &s.close()[run.window_start.min(s.len())..];
    let thinned = if plot::is_reduced(fx.len()) {
        " Drawn at the chart's resolution: per pixel column the band's widest extent \
         and the median's first, lowest, highest and last value; forecasts.csv has every forecast."
    } else {
        ""
    };
    let caption = format!(
        "{} forecasts; the close {h} bar{} after each decision: the model's 10&ndash;90% band \
         and median against the close that came.{thinned}",
        run.forecasts.len(),
        if h == 1 { "" } else { "s" }
    );
    let (band_lo, band_hi) = plot::reduce_band(&fx, &lower, &upper);
    let svg = plot::svg(&Chart {
        title: &format!("Forecast of the close {h} bars ahead"),
        y_label: "price",
        height: 340,
        lines: vec![
            Line {
                label: "close".into(),
                points: plot::reduce(on_window(r, close.iter().copied())),
                color: &plot::GREY_,
                width: 1,
            },
            Line {
                label: "forecast median".into(),
                points: plot::reduce(fx.iter().copied().zip(median.iter().copied())),
                color: &BLUE_,
                width: 1,
            },
        ],
        bands: vec![Band {
            label: "10-90% band".into(),
            lower: band_lo,
            upper: band_hi,
            color: BLUE_,
        }],
        markers: vec![],
        candles: vec![],
        fill_first: false,
    })?;
    Ok(Some(Figure { caption, svg }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Entry, ReportOptions};
    use crate::strategy::{ForecastRecord, Target};
    use crate::{run, synthetic, BrokerConfig, Metrics, RunOptions, SmaCross};

    /// sma-cross:2,3 on a seeded walk of `n` bars (a trade every few bars).
    fn busy_run(n: usize) -> (candlecast_data::Series, crate::Run) {
        let s = synthetic::random_walk(n, 3).unwrap();
        let r = run(
            &s,
            &mut SmaCross::new(2, 3),
            &BrokerConfig::default(),
            &RunOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        (s, r)
    }

    fn report<'a>(
        s: &'a candlecast_data::Series,
        r: &'a crate::Run,
        opts: ReportOptions,
    ) -> Report<'a> {
        static BROKER: std::sync::LazyLock<BrokerConfig> =
            std::sync::LazyLock::new(BrokerConfig::default);
        static RUN_OPTS: std::sync::LazyLock<RunOptions> =
            std::sync::LazyLock::new(RunOptions::default);
        Report {
            title: "walk".into(),
            series: s,
            main: Entry {
                spec: "sma-cross:2,3".into(),
                run: r,
                metrics: Metrics::compute(r, s),
                vs_buy_hold: None,
            },
            compare: vec![],
            broker: &BROKER,
            options: &RUN_OPTS,
            model: None,
            refit: None,
            report_options: opts,
        }
    }

    /// A forecast at every bar: more than the chart has pixels.
    fn with_forecasts(s: &candlecast_data::Series, mut r: crate::Run, h: usize) -> crate::Run {
        r.forecasts = (0..s.len())
            .map(|i| {
                let c = s.close()[i];
                ForecastRecord {
                    origin_bar: i,
                    origin_close: c,
                    mean: vec![c; h],
                    quantiles: vec![[c * 0.98, c, c * 1.02]; h],
                    p_up: 0.5,
                    mean_log_return: 0.0,
                    sd_log_return: 0.01,
                    wanted: Target::Flat,
                }
            })
            .collect();
        r
    }

    #[test]
    fn the_fan_draws_its_band_and_median_however_many_forecasts() {
        for n in [300, 5000] {
            let (s, r) = busy_run(n);
            let r = with_forecasts(&s, r, 3);
            let rep = report(&s, &r, ReportOptions::default());
            let fan = fan(&rep).unwrap().unwrap();
            // The legend names what is drawn; before, 5000 forecasts lost both.
            assert!(fan.svg.contains("forecast median"), "{n}");
            assert!(fan.svg.contains("10-90% band"), "{n}");
            assert!(fan.caption.starts_with(&format!("{n} forecasts")));
            assert_eq!(
                fan.caption.contains("Drawn at the chart's resolution"),
                n > 1600,
                "{n}: {}",
                fan.caption
            );
        }
    }

    #[test]
    fn the_trades_caption_states_the_thinning_rule() {
        let (s, r) = busy_run(20_000);
        let n = r.trades.len() + usize::from(r.open_trade.is_some());
        assert!(n > MAX_MARKED_TRADES, "{n} trades");
        let rep = report(&s, &r, ReportOptions::default());
        let fig = trades(&rep).unwrap();
        let k = marked_every(n);
        assert!(
            fig.caption.contains(&format!(
                "{n} trades, too many to mark: one in every {k} is marked, from the first ({} trades)",
                n.div_ceil(k)
            )),
            "{}",
            fig.caption
        );
        assert!(fig.svg.contains("Close with trades"));

        let (s, r) = busy_run(200);
        let rep = report(
            &s,
            &r,
            ReportOptions {
                candles: true,
                ..ReportOptions::default()
            },
        );
        let fig = trades(&rep).unwrap();
        let n = r.trades.len() + usize::from(r.open_trade.is_some());
        assert!(
            fig.caption.contains(&format!("all {n} trades")),
            "{}",
            fig.caption
        );
        assert!(
            fig.caption.contains("one candle per bar"),
            "{}",
            fig.caption
        );
        assert!(fig.svg.contains("Price with trades"));
    }

    #[test]
    fn trades_are_all_marked_up_to_the_limit_then_every_kth() {
        assert_eq!(marked_every(0), 1);
        assert_eq!(marked_every(MAX_MARKED_TRADES), 1);
        assert_eq!(marked_every(MAX_MARKED_TRADES + 1), 2);
        assert_eq!(marked_every(2079), 5);
        // The rule never marks more than the limit.
        for n in [501usize, 999, 1000, 1001, 2079, 123_456] {
            assert!(n.div_ceil(marked_every(n)) <= MAX_MARKED_TRADES, "{n}");
        }
    }
}
