//! `evaluate.html`: the scorecard as one self-contained page (no scripts, no
//! network) with a reliability plot per series: for each quantile level 10..90%,
//! the share of outcomes that fell below the forecaster's quantile. A calibrated
//! forecaster sits on the diagonal; one too sharp bends into an S (too many
//! outcomes in its tails), one too wide the other way.

use crate::scorecard::{aggregate, ScoreCells, SeriesCard, PIT_BINS};
use std::fmt::Write as _;

const COLOURS: [&str; 10] = [
    "#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#d62728", "#ff7f0e",
    "#17becf", "#bcbd22",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Observed share below the 10%, 20%, ..., 90% quantiles, from the PIT histogram.
pub fn reliability(pit: &[usize; PIT_BINS]) -> Vec<(f64, f64)> {
    let n: usize = pit.iter().sum();
    let mut acc = 0usize;
    pit[..PIT_BINS - 1]
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            acc += c;
            (
                (i + 1) as f64 / PIT_BINS as f64,
                acc as f64 / n.max(1) as f64,
            )
        })
        .collect()
}

fn plot(card: &SeriesCard) -> String {
    let (w, h, m) = (360.0, 360.0, 40.0);
    let x = |v: f64| m + v * (w - 2.0 * m);
    let y = |v: f64| h - m - v * (h - 2.0 * m);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"##
    );
    let _ = write!(
        s,
        r##"<rect x="{m}" y="{m}" width="{}" height="{}" fill="none" stroke="#ccc"/>"##,
        w - 2.0 * m,
        h - 2.0 * m
    );
    for i in 0..=10 {
        let v = i as f64 / 10.0;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle">{:.1}</text><text x="{}" y="{}" text-anchor="end">{:.1}</text>"##,
            x(v),
            h - m + 14.0,
            v,
            m - 4.0,
            y(v) + 4.0,
            v
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 3"/>"##,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle">quantile level</text><text x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle">share of outcomes below</text>"##,
        w / 2.0,
        h - 6.0,
        h / 2.0,
        h / 2.0
    );
    for (i, sc) in card.scores.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = reliability(&sc.pit)
            .iter()
            .map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.5"><title>{}</title></polyline>"##,
            pts.join(" "),
            esc(&sc.forecaster)
        );
        let _ = write!(
            s,
            r##"<rect x="{}" y="{}" width="10" height="3" fill="{colour}"/><text x="{}" y="{}">{}</text>"##,
            x(0.03),
            y(0.97) + 12.0 * i as f64 - 3.0,
            x(0.03) + 14.0,
            y(0.97) + 12.0 * i as f64 + 1.0,
            esc(&sc.forecaster)
        );
    }
    s.push_str("</svg>");
    s
}

/// The whole page.
pub fn page(cards: &[SeriesCard], title: &str) -> String {
    let mut s = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ddd;padding:3px 7px;text-align:right}}td:first-child,th:first-child{{text-align:left}}.card{{display:inline-block;vertical-align:top;margin:1em}}</style></head><body><h1>{}</h1>",
        esc(title),
        esc(title)
    );
    s.push_str("<p>One-step forecasts of the close log-return on the last 20% of each series (every test bar an origin; nothing fitted there). Relative CRPS: CRPS over that of the constant-volatility random walk (lower is better). DM: Diebold-Mariano statistic against the reference (negative: this forecaster is better).</p>");
    s.push_str("<h2>Geometric mean of relative CRPS</h2><table><tr><th>forecaster</th><th>rel. CRPS</th><th>series</th></tr>");
    for (name, g, n) in aggregate(cards) {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{g:.4}</td><td>{n}</td></tr>",
            esc(&name)
        );
    }
    s.push_str("</table>");
    for c in cards {
        let _ = write!(
            s,
            "<h2>{}</h2><p>{} bars, {} test returns{}{}{}{}</p><div class=\"card\"><table><tr><th>forecaster</th><th>rel. CRPS</th><th>cover 80%</th><th>pinball</th><th>MASE</th><th>direction</th><th>DM</th><th>verdict</th></tr>",
            esc(&c.series),
            c.bars,
            c.test_returns,
            c.bar.as_deref().map_or(String::new(), |b| format!(
                "; the bar: {} (best classical on the {})",
                esc(b),
                if c.bar_chosen_on == Some("validation") {
                    "validation slice"
                } else {
                    "test part"
                }
            )),
            c.temperature.map_or(String::new(), |t| format!(
                "; gpt-cal temperature {t:.3}{}",
                c.calibration_extras()
            )),
            c.pool_weight.map_or(String::new(), |w| format!(
                "; gpt-pool weight {w:.3} on gpt"
            )),
            c.validation.map_or(String::new(), |v| format!(
                "; gpt over the bar on that slice {:.4} ({} targets)",
                v.ratio(),
                v.targets
            ))
        );
        for r in &c.scores {
            let cells = ScoreCells::of(r);
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(cells.forecaster),
                cells.relative_crps,
                cells.coverage80,
                cells.pinball,
                cells.mase,
                cells.direction,
                cells.dm,
                esc(cells.verdict)
            );
        }
        s.push_str("</table></div><div class=\"card\">");
        s.push_str(&plot(c));
        s.push_str("</div>");
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliability_of_a_flat_pit_is_the_diagonal() {
        let r = reliability(&[7; PIT_BINS]);
        assert_eq!(r.len(), 9);
        for (a, b) in r {
            assert!((a - b).abs() < 1e-12);
        }
        // Too sharp: outcomes pile up in the outer bins.
        let r = reliability(&[30, 5, 5, 5, 5, 5, 5, 5, 5, 30]);
        assert!(r[0].1 > 0.2 && r[8].1 < 0.8);
    }
}
