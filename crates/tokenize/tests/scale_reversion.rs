#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! The numbers behind `scale = "reverting"` (README, tokenizer section): a
//! measurement, not a timed test. Run with
//!
//! ```text
//! cargo test --release -p candlecast-tokenize --test scale_reversion -- --ignored --nocapture
//! ```
//!
//! On every series of `../shared/data` (each fitted on its first 80%, as
//! `candlecast tokenize` does, and measured there):
//!
//! 1. Variance forecasts: the Gaussian QLIKE `ln F + r^2 / F` of the variance
//!    forecast for the bar `h` ahead, for h = 1 (the scale a bar is tokenized in),
//!    10 and 50 (what a rollout's scale is after that many steps), as the difference
//!    to the plain EWMA (negative: better). The EWMA forecasts its current variance
//!    at every horizon; the reverting scale `level + (1 - k)^(h-1) (var - level)`,
//!    its expectation with draws of E[z^2] = 1. Also the mean z^2 of the training
//!    bars in each scale (a model that learns the token frequencies draws about that).
//! 2. Explosion: 1,000 paths x 500 bars from the state after the training bars,
//!    each return z * sigma_t through the scale recursion (`Tokenizer::scale_state`,
//!    the one rollouts use), with z Student-t (4 or 3 degrees of freedom) scaled to
//!    E[z^2] = m, or resampled from the series' own training z (centred: the
//!    drift of monthly bitcoin is not a scale effect). Reported: the 99.9th
//!    percentile of |ln(C_500 / C_0)| in units of the series' long-run volatility
//!    (root mean square training return) x sqrt(500); non-finite ends count as inf.

use candlecast_data::{read_path, ReadOptions, Series};
use candlecast_tokenize::{ScaleKind, SplitMix64, TokenId, Tokenizer, TokenizerConfig};
use std::path::PathBuf;

fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

const HORIZONS: [usize; 3] = [1, 10, 50];
const PATHS: usize = 1000;
const STEPS: usize = 500;

/// The configurations compared: the plain EWMA, then (reversion, half-life).
fn configs() -> Vec<(String, TokenizerConfig)> {
    let mut v = vec![(
        "ewma".to_string(),
        TokenizerConfig {
            scale: ScaleKind::Ewma,
            ..TokenizerConfig::default()
        },
    )];
    for (k, h) in [
        (0.05, 200.0),
        (0.1, 200.0),
        (0.15, 200.0),
        (0.2, 200.0),
        (0.15, 500.0),
        (0.15, 100.0),
    ] {
        v.push((
            format!("k{k}/H{h}"),
            TokenizerConfig {
                scale: ScaleKind::Reverting,
                reversion: k,
                long_run_halflife: h,
                ..TokenizerConfig::default()
            },
        ));
    }
    v
}

fn normal(r: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - r.next_f64();
    let u2 = r.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Student-t with `nu` degrees of freedom scaled to variance `m`.
fn student(r: &mut SplitMix64, nu: usize, m: f64) -> f64 {
    let z = normal(r);
    let chi2: f64 = (0..nu).map(|_| normal(r).powi(2)).sum();
    z / (chi2 / nu as f64).sqrt() * (m * (nu as f64 - 2.0) / nu as f64).sqrt()
}

#[derive(Clone, Copy)]
enum Draws {
    T { nu: usize, m: f64 },
    Own,
}

/// Per bar of a series: its close log-return, and whether it follows a gap.
fn returns(tok: &Tokenizer, s: &Series) -> Vec<(f64, bool)> {
    let enc = tok.encode(s);
    let mut after_gap = vec![false; s.len()];
    for (t, &b) in enc.tokens.iter().zip(&enc.bar) {
        if *t == TokenId::GAP {
            after_gap[b as usize] = true;
        }
    }
    let c = s.close();
    (1..s.len())
        .map(|t| ((c[t] / c[t - 1]).ln(), after_gap[t]))
        .collect()
}

struct Measured {
    /// Mean QLIKE per horizon.
    qlike: [f64; 3],
    /// Mean z^2 of the training bars.
    m: f64,
    /// 99.9th percentile spreads, one per draw kind.
    spread: Vec<f64>,
}

fn measure(cfg: &TokenizerConfig, train: &Series, draws: &[Draws]) -> Measured {
    let tok = Tokenizer::fit(cfg, std::slice::from_ref(train)).unwrap();
    let rets = returns(&tok, train);
    let k = match cfg.scale {
        ScaleKind::Ewma => 0.0,
        ScaleKind::Reverting => cfg.reversion,
    };
    // The state before each bar (variance, level), replayed as rollouts do.
    let mut vs = tok.scale_state();
    let mut before = Vec::with_capacity(rets.len());
    let mut z = vec![];
    for &(r, gap) in &rets {
        if gap {
            vs.restart();
        }
        before.push((vs.variance(), vs.long_run_variance()));
        if !gap {
            z.push(r / vs.scale());
            vs.observe(r, 1.0, 1.0);
        }
    }
    let mut gaps_upto = vec![0usize; rets.len() + 1];
    for (i, &(_, g)) in rets.iter().enumerate() {
        gaps_upto[i + 1] = gaps_upto[i] + usize::from(g);
    }
    let mut qlike = [0.0; 3];
    for (q, &h) in qlike.iter_mut().zip(&HORIZONS) {
        let (mut sum, mut n) = (0.0, 0usize);
        for t in 0..rets.len().saturating_sub(h - 1) {
            let j = t + h - 1;
            if gaps_upto[j + 1] > gaps_upto[t] {
                continue; // a gap inside the horizon
            }
            let (var, level) = before[t];
            let f = if k == 0.0 {
                var
            } else {
                level + (1.0 - k).powi(h as i32 - 1) * (var - level)
            };
            let r = rets[j].0;
            sum += f.ln() + r * r / f;
            n += 1;
        }
        *q = if n > 0 { sum / n as f64 } else { f64::NAN };
    }
    let m = z.iter().map(|x| x * x).sum::<f64>() / z.len() as f64;
    let mean_z = z.iter().sum::<f64>() / z.len() as f64;
    let centred: Vec<f64> = z.iter().map(|x| x - mean_z).collect();
    let sq: Vec<f64> = rets.iter().filter(|p| !p.1).map(|p| p.0 * p.0).collect();
    let unit = (sq.iter().sum::<f64>() / sq.len() as f64 * STEPS as f64).sqrt();
    let spread = draws
        .iter()
        .map(|&d| {
            let mut rng = SplitMix64::new(20_261_204);
            let mut ends: Vec<f64> = (0..PATHS)
                .map(|_| {
                    let mut v = vs.clone();
                    let mut log_c = 0.0f64;
                    for _ in 0..STEPS {
                        let z = match d {
                            Draws::T { nu, m } => student(&mut rng, nu, m),
                            Draws::Own => centred[(rng.next_u64() % centred.len() as u64) as usize],
                        };
                        let r = z * v.scale();
                        log_c += r;
                        v.observe(r, 1.0, 1.0);
                    }
                    let x = (log_c / unit).abs();
                    if x.is_finite() {
                        x
                    } else {
                        f64::INFINITY
                    }
                })
                .collect();
            ends.sort_by(f64::total_cmp);
            let pos = 0.999 * (PATHS - 1) as f64;
            let (i, frac) = (pos.floor() as usize, pos - pos.floor());
            ends[i] + frac * (ends[(i + 1).min(PATHS - 1)] - ends[i])
        })
        .collect();
    Measured { qlike, m, spread }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    (v[(v.len() - 1) / 2] + v[v.len() / 2]) / 2.0
}

#[test]
#[ignore = "needs ../shared"]
fn reverting_scale_numbers() {
    let dir = manifest_dir().join("../../../shared/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let draws = [
        Draws::T { nu: 4, m: 1.2 },
        Draws::T { nu: 3, m: 1.2 },
        Draws::T { nu: 4, m: 1.5 },
        Draws::Own,
    ];
    let draw_names = ["t4 m1.2", "t3 m1.2", "t4 m1.5", "own z"];
    let configs = configs();
    let default_at = configs
        .iter()
        .position(|(_, c)| *c == TokenizerConfig::default())
        .unwrap();
    // results[config][series]
    let mut results: Vec<Vec<Measured>> = (0..configs.len()).map(|_| vec![]).collect();
    let mut names = vec![];
    for path in &files {
        let ds = read_path(path, &ReadOptions::default()).unwrap();
        let file = path.file_stem().unwrap().to_string_lossy().into_owned();
        for s in &ds.panel.series {
            let train = s.slice(0..s.len() * 4 / 5);
            names.push(match &s.symbol {
                Some(sym) => format!("{file}:{sym}"),
                None => file.clone(),
            });
            for (i, (_, cfg)) in configs.iter().enumerate() {
                results[i].push(measure(cfg, &train, &draws));
            }
        }
    }
    let ewma = &results[0];
    let def = &results[default_at];
    println!(
        "\nPer series: the default ({}) against the plain EWMA",
        configs[default_at].0
    );
    println!(
        "{:<40} {:>6} {:>6} {:>9} {:>9} {:>9} | {:>9} {:>9} | {:>9} {:>9}",
        "series",
        "m ewma",
        "m rev",
        "dQ h=1",
        "dQ h=10",
        "dQ h=50",
        "ewma t4",
        "rev t4",
        "ewma own",
        "rev own"
    );
    for (i, name) in names.iter().enumerate() {
        let (e, d) = (&ewma[i], &def[i]);
        println!(
            "{:<40} {:>6.2} {:>6.2} {:>+9.4} {:>+9.4} {:>+9.4} | {:>9.2} {:>9.2} | {:>9.2} {:>9.2}",
            name,
            e.m,
            d.m,
            d.qlike[0] - e.qlike[0],
            d.qlike[1] - e.qlike[1],
            d.qlike[2] - e.qlike[2],
            e.spread[0],
            d.spread[0],
            e.spread[3],
            d.spread[3]
        );
    }
    println!(
        "\nAll configurations over the {} series: QLIKE difference to the EWMA (mean, median, series better), worst 99.9th-percentile spread",
        names.len()
    );
    print!("{:<12}", "config");
    for h in HORIZONS {
        print!(" | {:>24}", format!("dQLIKE h={h}"));
    }
    for d in draw_names {
        print!(" | {d:>8}");
    }
    println!();
    for (c, (name, _)) in configs.iter().enumerate() {
        print!("{name:<12}");
        for h in 0..HORIZONS.len() {
            let d: Vec<f64> = results[c]
                .iter()
                .zip(ewma)
                .map(|(a, b)| a.qlike[h] - b.qlike[h])
                .filter(|x| x.is_finite())
                .collect();
            let better = d.iter().filter(|&&x| x < 0.0).count();
            let mean = d.iter().sum::<f64>() / d.len() as f64;
            print!(
                " | {mean:>+8.4} {:>+8.4} {better:>2}/{:<2}",
                median(d.clone()),
                d.len()
            );
        }
        for k in 0..draws.len() {
            let worst = results[c]
                .iter()
                .map(|m| m.spread[k])
                .fold(0.0f64, f64::max);
            print!(" | {worst:>8.2}");
        }
        println!();
    }
    // The must-show shape: every series bounded with the default, for draws a
    // little too wide (Student-t 4, E[z^2] = 1.2) and for the series' own draws.
    for (i, name) in names.iter().enumerate() {
        for k in [0, 3] {
            assert!(
                def[i].spread[k] < 10.0,
                "{name}: {} {}",
                draw_names[k],
                def[i].spread[k]
            );
        }
    }
}
