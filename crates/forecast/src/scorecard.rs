//! The evaluation protocol: per series, an 80/20 time split, every test bar an
//! origin, every forecaster scored on the same targets, relative CRPS against the
//! constant-volatility random walk, and a paired Diebold-Mariano test of each
//! forecaster against a reference.
//!
//! "The bar" a model has to clear is the best classical forecaster of the series,
//! whichever it is. It is chosen on the validation slice (the last 10% of the
//! training part, forecast from the training part before it), not on the test part:
//! picking the test-part winner would be a selection on the test data, an
//! optimistic yardstick for the baselines. Only when the training part is too short
//! for a validation slice is the test-part minimum used (a conservative bar for the
//! model; the card says which). Several bars ahead the paths get a bar of their own,
//! chosen the same way on the H-bar return (`horizon_bar`,
//! [`crate::validation_bar_at`]): the best forecaster one bar ahead need
//! not be the best 24 bars out.

use crate::baselines::{self, BaselineError, History, OneStep, BASELINES};
use crate::score::{diebold_mariano, pinball, DieboldMariano};
use serde::Serialize;

/// Share of each series used for fitting; the rest is test.
pub const TRAIN_FRACTION: f64 = 0.8;
pub const QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];
pub const PIT_BINS: usize = 10;

/// First test bar of a series of `n` bars.
pub fn split_index(n: usize) -> usize {
    ((n as f64) * TRAIN_FRACTION).floor() as usize
}

/// One forecaster's scores on one series.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub forecaster: String,
    pub n: usize,
    /// Mean CRPS of the one-step log-return forecast (exact for every forecaster here).
    pub crps: f64,
    /// `crps` / `crps` of rw-const.
    pub relative_crps: f64,
    /// Share of targets inside the central 80% interval (ideal 0.80).
    pub coverage80: f64,
    /// Mean pinball loss over the quantiles 0.1, 0.5, 0.9.
    pub pinball: f64,
    /// Mean absolute error of the median, over the training mean |r| (the error of
    /// predicting a zero return).
    pub mase: f64,
    /// Share of origins where P(up) > 0.5 called the sign right (a 0.5 call counts half).
    pub direction: f64,
    /// Paired test against the reference forecaster (negative: this one is better).
    pub vs_reference: Option<DieboldMariano>,
    pub verdict: Option<String>,
    /// Paired test against the bar (the best classical forecaster), for the
    /// forecasters that are not classical (negative: this one is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_bar: Option<DieboldMariano>,
    /// Not classical: relative CRPS at most the bar's and 80% coverage in 0.77-0.83.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meets_bar: Option<bool>,
    /// Counts of the PIT values in 10 equal bins (flat when calibrated).
    pub pit: [usize; PIT_BINS],
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesCard {
    pub series: String,
    pub bars: usize,
    pub train_returns: usize,
    pub test_returns: usize,
    pub reference: String,
    /// The best classical forecaster (see the module docs), and where it was chosen:
    /// `"validation"` or `"test"`.
    pub bar: Option<String>,
    pub bar_chosen_on: Option<&'static str>,
    pub garch: Option<baselines::Garch>,
    /// `har`'s fitted log-HAR regression.
    pub har: Option<baselines::Har>,
    /// `fhs-seasonal`'s intraday profile: `None` on daily or longer bars, where
    /// `fhs-seasonal` is `fhs`.
    pub seasonal: Option<baselines::Seasonal>,
    /// The temperature of `gpt-cal`, fitted by CRPS on the training part's last
    /// bars (its last 10% unless `evaluate --calibration-bars` says otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// How many bars of the training part `gpt-cal` was fitted on (after thinning
    /// a long slice, `MAX_CALIBRATION_TARGETS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration_bars: Option<usize>,
    /// `gpt-cal`'s top-p, fitted with the temperature (absent: no truncation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// `gpt-cal`'s spread on the returns, fitted with the temperature (absent: 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// `gpt-cal`'s growth of that spread along a path: the cumulative return k bars
    /// out is also multiplied by `k^spread_growth` (fitted on validation paths;
    /// absent: 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread_growth: Option<f64>,
    /// `gpt-pool`'s weight on `gpt` (the rest on the bar), fitted on the same
    /// slice as `gpt-cal` ([`crate::pool`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_weight: Option<f64>,
    /// `gpt` and the bar on that slice ([`crate::pool::SliceScore`]): where model
    /// options are compared without the test part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::pool::SliceScore>,
    /// One-step scores (exact CRPS).
    pub scores: Vec<Scores>,
    /// Scores of the cumulative return 1..=H bars ahead, when a horizon H > 1 is asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub horizons: Vec<HorizonScores>,
    /// The bar of the multi-step scores: the best classical forecaster of the H-bar
    /// return, chosen as the one-step bar is, and where (`"validation"`, or `"test"`
    /// where the validation slice has too few H-bar origins or no baseline fits
    /// there). The one-step bar need
    /// not be the best several bars out (a held-flat EWMA against a variance that
    /// reverts), so the paths are judged against their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon_bar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon_bar_chosen_on: Option<&'static str>,
}

impl SeriesCard {
    /// `gpt-cal`'s settings beside its temperature, as the Markdown and HTML
    /// cards print them (empty where top-p, spread and growth are off).
    pub fn calibration_extras(&self) -> String {
        let top_p = self.top_p.map_or(String::new(), |p| format!(", top-p {p}"));
        let spread = self
            .spread
            .map_or(String::new(), |x| format!(", spread {x:.3}"));
        let growth = self
            .spread_growth
            .map_or(String::new(), |g| format!(", path spread growth k^{g:.3}"));
        top_p + &spread + &growth
    }
}

/// One horizon's scores on one series.
#[derive(Debug, Clone, Serialize)]
pub struct HorizonScores {
    pub horizon: usize,
    pub origins: usize,
    /// Paths per origin behind the sampled forecasters' CRPS.
    pub samples: usize,
    pub scores: Vec<Scores>,
}

/// Scores the classical baselines plus `extra` forecasters (e.g. the model) on one
/// series; paired tests are against `reference` (a forecaster's name) and, for the
/// extra ones, against the bar.
pub fn score_series(
    name: &str,
    h: &History<'_>,
    extra: Vec<OneStep>,
    reference: &str,
) -> Result<SeriesCard, BaselineError> {
    score_series_against(name, h, extra, reference, validation_bar(h))
}

/// [`score_series`] with the bar already chosen ([`validation_bar`]), for a caller
/// whose extra forecasters depend on it (`gpt-pool`); `None`: the test-part minimum.
pub fn score_series_against(
    name: &str,
    h: &History<'_>,
    extra: Vec<OneStep>,
    reference: &str,
    bar: Option<String>,
) -> Result<SeriesCard, BaselineError> {
    let mut all = Vec::with_capacity(BASELINES.len() + extra.len());
    let (mut garch_params, mut har_params, mut seasonal) = (None, None, None);
    for b in BASELINES {
        let f = b.fit(h)?;
        garch_params = garch_params.or(f.garch);
        har_params = har_params.or(f.har);
        seasonal = seasonal.or(f.seasonal);
        all.push(f.one);
    }
    let classical = all.len();
    all.extend(extra);
    let r = baselines::log_returns(h.close);
    let train = &r[..h.split.saturating_sub(1)];
    let mae_naive = train.iter().map(|x| x.abs()).sum::<f64>() / train.len().max(1) as f64;
    let (bar, chosen_on) = match bar {
        Some(b) => (Some(b), Some("validation")),
        None => {
            let best = all[..classical]
                .iter()
                .map(|o| (o.name, summarise_crps(o)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|b| b.0.to_string());
            let on = best.as_ref().map(|_| "test");
            (best, on)
        }
    };
    let scores = score_forecasts(&all, 1, mae_naive, reference, bar.as_deref());
    Ok(SeriesCard {
        series: name.to_string(),
        bars: h.close.len(),
        train_returns: train.len(),
        test_returns: r.len() - train.len(),
        reference: reference.to_string(),
        bar,
        bar_chosen_on: chosen_on,
        garch: garch_params,
        har: har_params,
        seasonal,
        temperature: None,
        top_p: None,
        spread: None,
        spread_growth: None,
        pool_weight: None,
        validation: None,
        calibration_bars: None,
        scores,
        horizons: Vec::new(),
        horizon_bar: None,
        horizon_bar_chosen_on: None,
    })
}

fn summarise_crps(o: &OneStep) -> f64 {
    mean(
        &o.preds
            .iter()
            .zip(&o.targets)
            .map(|(p, &y)| p.crps(y))
            .collect::<Vec<_>>(),
    )
}

/// The training part with its last 10% as the test part: the slice the bar is
/// chosen on (one step, [`validation_bar`], and several steps ahead).
pub fn validation_slice<'a>(h: &History<'a>) -> History<'a> {
    h.head(h.split, h.split - h.split / 10)
}

/// The classical forecaster with the lowest mean CRPS on the validation slice: the
/// last 10% of the training part, every forecaster fitted on the training bars
/// before it (as `gpt-cal` is calibrated). `None` when that slice or the part
/// before it is too short for every forecaster.
pub fn validation_bar(h: &History<'_>) -> Option<String> {
    let val = validation_slice(h);
    BASELINES
        .iter()
        .filter_map(|b| b.fit(&val).ok())
        .map(|f| (f.one.name, summarise_crps(&f.one)))
        .filter(|(_, c)| c.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, _)| n.to_string())
}

/// Scores forecasters of the same targets (the first is the relative-CRPS base);
/// `horizon` sets the Diebold-Mariano lag for overlapping multi-step targets and
/// `mae_naive` is the MASE denominator (mean |return| over that horizon in training);
/// the forecasters that are not classical are also tested against `bar`.
pub fn score_forecasts(
    all: &[OneStep],
    horizon: usize,
    mae_naive: f64,
    reference: &str,
    bar: Option<&str>,
) -> Vec<Scores> {
    let per_origin = per_origin_crps(all);
    let base_crps = per_origin.first().map_or(f64::NAN, |c| mean(c));
    let ref_idx = all.iter().position(|o| o.name == reference);
    let bar_idx = bar.and_then(|b| all.iter().position(|o| o.name == b));
    let classical: Vec<&str> = BASELINES.iter().map(|b| b.name()).collect();
    let mut scores = Vec::with_capacity(all.len());
    for (k, o) in all.iter().enumerate() {
        let n = o.targets.len();
        let crps = mean(&per_origin[k]);
        let tally = Tallies::of(o);
        let paired = |j: usize| {
            let d: Vec<f64> = per_origin[k]
                .iter()
                .zip(&per_origin[j])
                .map(|(a, b)| a - b)
                .collect();
            diebold_mariano(&d, horizon)
        };
        let vs_reference = match ref_idx {
            Some(j) if j != k => paired(j),
            _ => None,
        };
        let judged = bar_idx.filter(|_| !classical.contains(&o.name));
        let vs_bar = judged.and_then(paired);
        let coverage80 = tally.inside as f64 / n.max(1) as f64;
        let (lo, hi) = crate::gpt::COVERAGE_BAND;
        let meets_bar =
            judged.map(|j| crps <= mean(&per_origin[j]) && (lo..=hi).contains(&coverage80));
        scores.push(Scores {
            forecaster: o.name.to_string(),
            n,
            crps,
            relative_crps: crps / base_crps,
            coverage80,
            pinball: tally.pinball / n.max(1) as f64,
            mase: tally.abs_err / n.max(1) as f64 / mae_naive,
            direction: tally.direction / n.max(1) as f64,
            verdict: vs_reference.map(|dm| verdict(&dm, reference)),
            vs_reference,
            vs_bar,
            meets_bar,
            pit: tally.pit,
        });
    }
    scores
}

/// CRPS of every forecaster at every origin, kept per origin (not only as means)
/// because the paired tests difference them origin by origin.
fn per_origin_crps(all: &[OneStep]) -> Vec<Vec<f64>> {
    all.iter()
        .map(|o| {
            o.preds
                .iter()
                .zip(&o.targets)
                .map(|(p, &y)| p.crps(y))
                .collect()
        })
        .collect()
}

/// One forecaster's running sums over its origins, summed in origin order so the
/// means [`score_forecasts`] divides out of them are reproducible to the bit.
struct Tallies {
    /// Targets inside the central 80% interval.
    inside: usize,
    pinball: f64,
    abs_err: f64,
    direction: f64,
    pit: [usize; PIT_BINS],
}

impl Tallies {
    fn of(o: &OneStep) -> Self {
        let mut acc = Tallies {
            inside: 0,
            pinball: 0.0,
            abs_err: 0.0,
            direction: 0.0,
            pit: [0; PIT_BINS],
        };
        for (p, &y) in o.preds.iter().zip(&o.targets) {
            let q: Vec<f64> = QUANTILES.iter().map(|&t| p.quantile(t)).collect();
            acc.inside += usize::from(y >= q[0] && y <= q[2]);
            acc.pinball += QUANTILES
                .iter()
                .zip(&q)
                .map(|(&t, &qv)| pinball(qv, t, y))
                .sum::<f64>()
                / QUANTILES.len() as f64;
            acc.abs_err += (y - q[1]).abs();
            acc.direction += direction_hit(1.0 - p.cdf(0.0), y);
            let u = p.cdf(y);
            acc.pit[((u * PIT_BINS as f64) as usize).min(PIT_BINS - 1)] += 1;
        }
        acc
    }
}

/// A coin-flip call (P(up) exactly 0.5) earns half a hit, so a forecaster with no
/// view on the sign scores 0.5 rather than being rewarded or punished by ties.
fn direction_hit(up: f64, y: f64) -> f64 {
    if up == 0.5 {
        0.5
    } else if (up > 0.5) == (y > 0.0) {
        1.0
    } else {
        0.0
    }
}

/// Plain words for a paired test at the 5% level (|DM| > 1.96).
pub fn verdict(dm: &DieboldMariano, reference: &str) -> String {
    if dm.statistic < -1.96 {
        format!("better than {reference}, significant")
    } else if dm.statistic > 1.96 {
        format!("worse than {reference}, significant")
    } else {
        format!("no detectable difference from {reference}")
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// Geometric mean of relative CRPS per forecaster across series (series missing a
/// forecaster are skipped for it).
pub fn aggregate(cards: &[SeriesCard]) -> Vec<(String, f64, usize)> {
    let mut names: Vec<String> = Vec::new();
    for c in cards {
        for s in &c.scores {
            if !names.contains(&s.forecaster) {
                names.push(s.forecaster.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let logs: Vec<f64> = cards
                .iter()
                .filter_map(|c| c.scores.iter().find(|s| s.forecaster == name))
                .map(|s| s.relative_crps.ln())
                .collect();
            let g = (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp();
            (name, g, logs.len())
        })
        .collect()
}

/// The formatted cells of one score-table row, shared by the Markdown table and the
/// HTML page so the two cannot drift apart in precision or in how a missing test
/// reads. Text cells stay raw: each renderer escapes for its own format.
pub(crate) struct ScoreCells<'a> {
    pub forecaster: &'a str,
    pub n: String,
    pub crps: String,
    pub relative_crps: String,
    pub coverage80: String,
    pub pinball: String,
    pub mase: String,
    pub direction: String,
    /// The Diebold-Mariano statistic against the reference; `-` for the reference.
    pub dm: String,
    pub verdict: &'a str,
}

impl<'a> ScoreCells<'a> {
    pub(crate) fn of(r: &'a Scores) -> Self {
        ScoreCells {
            forecaster: &r.forecaster,
            n: r.n.to_string(),
            crps: format!("{:.4e}", r.crps),
            relative_crps: format!("{:.4}", r.relative_crps),
            coverage80: format!("{:.3}", r.coverage80),
            pinball: format!("{:.4e}", r.pinball),
            mase: format!("{:.3}", r.mase),
            direction: format!("{:.3}", r.direction),
            dm: r
                .vs_reference
                .map_or("-".to_string(), |d| format!("{:.2}", d.statistic)),
            verdict: r.verdict.as_deref().unwrap_or("(reference)"),
        }
    }
}

/// A Markdown table a person reads: one row per series and forecaster.
pub fn markdown(cards: &[SeriesCard]) -> String {
    let mut s = String::from(
        "| series | forecaster | n | CRPS | rel. CRPS | cover 80% | pinball | MASE | direction | DM vs ref | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for c in cards {
        for r in &c.scores {
            let cells = ScoreCells::of(r);
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                md_escape(&c.series),
                cells.forecaster,
                cells.n,
                cells.crps,
                cells.relative_crps,
                cells.coverage80,
                cells.pinball,
                cells.mase,
                cells.direction,
                cells.dm,
                cells.verdict,
            ));
        }
    }
    md_bars(&mut s, cards);
    if cards.iter().any(|c| c.seasonal.is_none()) {
        s.push_str("\n`fhs-seasonal` is `fhs` on series with daily or longer bars (no intraday profile).\n");
    }
    md_temperatures(&mut s, cards);
    md_pool(&mut s, cards);
    md_horizons(&mut s, cards);
    s.push_str("\nGeometric mean of relative CRPS across series:\n\n| forecaster | rel. CRPS | series |\n|---|---:|---:|\n");
    for (name, g, n) in aggregate(cards) {
        s.push_str(&format!("| {name} | {g:.4} | {n} |\n"));
    }
    s
}

/// The bar of each series and how every judged forecaster fares against it;
/// nothing when no series has a bar, so a card without one stays short.
fn md_bars(s: &mut String, cards: &[SeriesCard]) {
    let bars: Vec<String> = cards
        .iter()
        .filter_map(|c| {
            let on = match c.bar_chosen_on {
                Some("validation") => "best classical on the validation slice",
                _ => "best classical on the test part: no validation slice",
            };
            md_bar_line(&c.series, c.bar.as_deref()?, on, &c.scores)
        })
        .collect();
    if !bars.is_empty() {
        s.push_str(&format!(
            "\nThe bar (the best classical forecaster, chosen on the last 10% of the training part; meeting it: rel. CRPS at most its and 80% coverage in 0.77-0.83):\n\n{}\n",
            bars.join("\n")
        ));
    }
}

/// A series' bar (`on`: where it was chosen) and every judged forecaster's standing
/// against it in `scores`; `None` when the bar was not scored.
fn md_bar_line(series: &str, bar: &str, on: &str, scores: &[Scores]) -> Option<String> {
    let rel = scores.iter().find(|r| r.forecaster == bar)?.relative_crps;
    let judged: Vec<String> = scores
        .iter()
        .filter_map(|r| md_against_bar(r, bar))
        .collect();
    Some(format!(
        "- {}: `{bar}` ({on}, rel. CRPS {rel:.4}){}{}",
        md_escape(series),
        if judged.is_empty() { "" } else { "; " },
        judged.join("; ")
    ))
}

/// One forecaster's standing against `bar`; `None` for the classical ones, which
/// are not tested against it.
fn md_against_bar(r: &Scores, bar: &str) -> Option<String> {
    let dm = r.vs_bar?;
    Some(format!(
        "`{}` {:.4}, DM {:.2}: {}, meets the bar: {}",
        r.forecaster,
        r.relative_crps,
        dm.statistic,
        verdict(&dm, bar),
        if r.meets_bar == Some(true) {
            "yes"
        } else {
            "no"
        }
    ))
}

/// The fitted `gpt-cal` sampling per series; nothing when no card has one.
fn md_temperatures(s: &mut String, cards: &[SeriesCard]) {
    let temps: Vec<String> = cards
        .iter()
        .filter_map(|c| {
            Some(format!(
                "{} T = {:.3}{}{}",
                md_escape(&c.series),
                c.temperature?,
                c.calibration_extras(),
                c.calibration_bars.map_or(String::new(), |n| {
                    format!(" (on {n} bar{})", if n == 1 { "" } else { "s" })
                })
            ))
        })
        .collect();
    if !temps.is_empty() {
        s.push_str(&format!(
            "\n`gpt-cal`: the model with its logits divided by a temperature T (and its tail cut by top-p, its returns multiplied by a spread, and on paths the return k bars out by k^growth) chosen by CRPS on the last bars of the training part (its last 10% unless --calibration-bars says otherwise): {}.\n",
            temps.join("; ")
        ));
    }
}

/// `gpt-pool`'s fitted weight per series, then `gpt` against the bar on the slice
/// it was fitted on; nothing when no card has them.
fn md_pool(s: &mut String, cards: &[SeriesCard]) {
    let weights: Vec<String> = cards
        .iter()
        .filter_map(|c| {
            Some(format!(
                "{} w = {:.3} on `gpt`, {:.3} on `{}`",
                md_escape(&c.series),
                c.pool_weight?,
                1.0 - c.pool_weight?,
                c.bar.as_deref()?
            ))
        })
        .collect();
    if !weights.is_empty() {
        s.push_str(&format!(
            "\n`gpt-pool`: the mixture w `gpt` + (1 - w) the bar, w chosen by CRPS on the slice `gpt-cal` is fitted on; significantly better than the bar means the model knows something the bar does not: {}.\n",
            weights.join("; ")
        ));
    }
    let slices: Vec<String> = cards
        .iter()
        .filter_map(|c| {
            let v = c.validation?;
            Some(format!(
                "{} {:.4} ({} targets)",
                md_escape(&c.series),
                v.ratio(),
                v.targets
            ))
        })
        .collect();
    if !slices.is_empty() {
        s.push_str(&format!(
            "\nOn that slice, before the test part: `gpt`'s mean CRPS over the bar's (below 1: the model is better there; the score to choose model options on): {}.\n",
            slices.join("; ")
        ));
    }
}

/// The multi-step table, its columns taken from the first card with horizons:
/// k = 1, 2, 4, ... below H, then H itself, so a long horizon stays readable.
fn md_horizons(s: &mut String, cards: &[SeriesCard]) {
    let Some(first) = cards.iter().find(|c| !c.horizons.is_empty()) else {
        return;
    };
    let hz = first.horizons.len();
    let mut shown: Vec<usize> = std::iter::successors(Some(1usize), |k| Some(k * 2))
        .take_while(|&k| k < hz)
        .collect();
    shown.push(hz);
    s.push_str(&format!(
        "\nMulti-step: relative CRPS of the cumulative return k bars ahead (hs, fhs, fhs-range, har, fhs-seasonal and the model from {} sample paths per origin, fair ensemble CRPS), and 80% coverage at k = {hz}:\n\n| series | forecaster | origins |",
        first.horizons[0].samples
    ));
    for k in &shown {
        s.push_str(&format!(" k={k} |"));
    }
    s.push_str(&format!(
        " cover80 k={hz} | DM vs ref k={hz} |\n|---|---|---:|"
    ));
    s.push_str(&"---:|".repeat(shown.len() + 2));
    s.push('\n');
    for c in cards.iter().filter(|c| !c.horizons.is_empty()) {
        for (i, f) in c.horizons[0].scores.iter().enumerate() {
            s.push_str(&format!(
                "| {} | {} | {} |",
                md_escape(&c.series),
                f.forecaster,
                c.horizons[0].origins
            ));
            for &k in &shown {
                let v = c.horizons.get(k - 1).and_then(|h| h.scores.get(i));
                s.push_str(&format!(
                    " {} |",
                    v.map_or("-".into(), |v| format!("{:.4}", v.relative_crps))
                ));
            }
            let last = c.horizons.last().and_then(|h| h.scores.get(i));
            s.push_str(&format!(
                " {} | {} |\n",
                last.map_or("-".into(), |v| format!("{:.3}", v.coverage80)),
                last.and_then(|v| v.vs_reference)
                    .map_or("-".into(), |d| format!("{:.2}", d.statistic)),
            ));
        }
    }
    let bars: Vec<String> = cards
        .iter()
        .filter_map(|c| {
            let on = match c.horizon_bar_chosen_on {
                Some("validation") => "best classical on the validation slice",
                _ => "best classical on the test part: the validation slice chose none",
            };
            let last = c.horizons.last()?;
            md_bar_line(&c.series, c.horizon_bar.as_deref()?, on, &last.scores)
        })
        .collect();
    if !bars.is_empty() {
        s.push_str(&format!(
            "\nThe bar at k = {hz} (the best classical forecaster of the {hz}-bar return, chosen on the last 10% of the training part as the one-step bar is; meeting it: rel. CRPS at most its and 80% coverage in 0.77-0.83 at k = {hz}):\n\n{}\n",
            bars.join("\n")
        ));
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}
