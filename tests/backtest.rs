//! `candlecast backtest` end to end (issue 7).

use crate::util::{candlecast, manifest_dir, shared_data, stderr, stdout, Dir};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

/// The bundled S&P 500 file, found at run time (see `util::manifest_dir`).
static SPX: LazyLock<String> = LazyLock::new(|| {
    manifest_dir()
        .join("data/spx_1d_arch.csv")
        .display()
        .to_string()
});

const CONFIG: &str = "[model]\nd_model = 16\nn_head = 2\nn_layer = 1\nmax_ctx = 16\n\n[train]\nsteps = 20\nbatch_size = 8\n\
                      seq_len = 16\nlr = 3e-3\nmin_lr = 3e-4\nwarmup_steps = 2\ngrad_clip = 1.0\neval_every = 10\n\
                      eval_windows = 32\npatience = 0\ncheckpoint_every = 0\nseed = 1\n";

/// backtesting.py 0.6.6's statistics, in its order, under candlecast's keys.
const METRIC_KEYS: [&str; 32] = [
    "start",
    "end",
    "duration",
    "exposure_pct",
    "equity_final",
    "equity_peak",
    "commissions",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "alpha_pct",
    "beta",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration",
    "avg_drawdown_duration",
    "n_trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_trade_duration",
    "avg_trade_duration",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "kelly_criterion",
];

/// A tiny model trained on the bundled S&P 500 file, shared by the tests here.
struct Trained {
    dir: Dir,
    run: String,
}

fn trained() -> &'static Trained {
    static T: OnceLock<Trained> = OnceLock::new();
    T.get_or_init(|| {
        let dir = Dir::new();
        let cfg = dir.write("c.toml", CONFIG).display().to_string();
        let run = dir.path().join("run").display().to_string();
        let out = candlecast([
            "train",
            "--config",
            &cfg,
            "--data",
            SPX.as_str(),
            "--out",
            &run,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        Trained { dir, run }
    })
}

fn out_dir(dir: &Dir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn backtest(args: &[&str]) -> std::process::Output {
    let mut all = vec!["backtest"];
    all.extend_from_slice(args);
    candlecast(&all)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn forecast_backtest_on_bundled_data_writes_a_deterministic_report() {
    let t = trained();
    let tmp = Dir::new();
    let args = |out: &str| -> Vec<String> {
        [
            "--input",
            SPX.as_str(),
            "--model",
            &t.run,
            "--strategy",
            "forecast-threshold:horizon=3,samples=16,threshold=0.55,cap=0.8",
            "--commission",
            "0.001",
            "--from",
            "2018-01-01",
            "--seed",
            "4",
            "--equity-csv",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let d1 = out_dir(&tmp, "r1");
    let a1 = args(d1.to_str().unwrap());
    let o = backtest(&a1.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("Sharpe Ratio"), "{table}");
    assert!(
        table.contains("buy-hold") && table.contains("sma-cross:10,20"),
        "{table}"
    );

    for f in [
        "stats.json",
        "trades.csv",
        "equity.csv",
        "forecasts.csv",
        "report.html",
        "equity.svg",
    ] {
        assert!(d1.join(f).is_file(), "{f} missing");
    }
    let stats: serde_json::Value = serde_json::from_str(&read(&d1.join("stats.json"))).unwrap();
    let metrics = stats["metrics"].as_object().unwrap();
    let mut keys: Vec<&str> = metrics.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = METRIC_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(stats["window"]["start"], "2018-01-02T00:00:00Z");
    let compare: Vec<&str> = stats["compare"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(compare, ["buy-hold", "sma-cross:10,20"]);

    // One forecast per bar of the window (2018 has 251 trading days), 3 steps each.
    let fc = read(&d1.join("forecasts.csv"));
    assert!(fc.starts_with("origin,origin_close,step,timestamp,mean,q0.1,q0.5,q0.9,p_up"));
    assert_eq!(fc.lines().count() - 1, 3 * 251, "{}", &fc[..300]);
    let eq = read(&d1.join("equity.csv"));
    assert_eq!(eq.lines().count() - 1, 251);

    let html = read(&d1.join("report.html"));
    assert!(
        html.matches("<svg").count() >= 4,
        "equity, drawdown, trades, fan"
    );
    assert!(html.contains("Forecast of the close 3 bars ahead"));
    assert!(html.contains("buy &amp; hold"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));

    // Same seed, same report, byte for byte.
    let d2 = out_dir(&tmp, "r2");
    let a2 = args(d2.to_str().unwrap());
    let o = backtest(&a2.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in [
        "stats.json",
        "trades.csv",
        "equity.csv",
        "forecasts.csv",
        "report.html",
        "equity.svg",
    ] {
        assert!(read(&d1.join(f)) == read(&d2.join(f)), "{f} differs");
    }
}

/// `--refit-every`: the refits land on the window's bar N, 2N, ..., are listed
/// in stats.json, report.html and on stderr, and the report is the same bytes
/// on a second run.
#[test]
fn refitting_backtest_lists_its_refits_and_is_deterministic() {
    let t = trained();
    let tmp = Dir::new();
    let go = |name: &str| {
        let out = out_dir(&tmp, name);
        let o = backtest(&[
            "--input",
            SPX.as_str(),
            "--model",
            &t.run,
            "--strategy",
            "vol-target:horizon=1",
            "--from",
            "2018-01-01",
            "--refit-every",
            "60",
            "--refit-steps",
            "3",
            "--seed",
            "2",
            "--no-compare",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        (out, stderr(&o))
    };
    let (d1, err) = go("r1");
    assert!(
        err.contains("4 refits (every 60 bars, 3 steps each)"),
        "{err}"
    );
    let stats: serde_json::Value = serde_json::from_str(&read(&d1.join("stats.json"))).unwrap();
    assert_eq!(stats["refit"]["every"], 60);
    assert_eq!(stats["refit"]["steps"], 3);
    let refits = stats["refits"].as_array().unwrap();
    // The 2018 window starts at bar 4779 of the file (1999-01-04..).
    let start = refits[0]["bar"].as_u64().unwrap() - 60;
    let bars: Vec<u64> = refits.iter().map(|r| r["bar"].as_u64().unwrap()).collect();
    assert_eq!(bars, [60, 120, 180, 240].map(|k| start + k));
    for r in refits {
        assert_eq!(r["bars"].as_u64().unwrap(), r["bar"].as_u64().unwrap() + 1);
        assert_eq!(r["steps"], 3);
        assert!(r["loss_end"].as_f64().unwrap().is_finite());
        assert!(r["time"].as_str().unwrap().starts_with("2018-"));
    }
    let html = read(&d1.join("report.html"));
    assert!(html.contains("<h2>Refits</h2>") && html.contains("refitted every 60 bars"));
    let (d2, _) = go("r2");
    for f in ["stats.json", "trades.csv", "forecasts.csv", "report.html"] {
        assert!(read(&d1.join(f)) == read(&d2.join(f)), "{f} differs");
    }
}

#[test]
fn a_model_for_another_tokenizer_is_refused() {
    let t = trained();
    // Another run whose tokenizer has fewer return bins, hence another vocabulary.
    let cfg = t.dir.write(
        "c16.toml",
        format!(
            "[tokenizer]\nreturn_bins = 16\n\n{}",
            CONFIG.replace("steps = 20", "steps = 2")
        ),
    );
    let other = t.dir.path().join("run16");
    let o = candlecast([
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        SPX.as_str(),
        "--out",
        other.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // run's weights with run16's tokenizer.
    let mixed = t.dir.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    for f in ["model.safetensors", "meta.json"] {
        std::fs::copy(Path::new(&t.run).join(f), mixed.join(f)).unwrap();
    }
    let mut meta: serde_json::Value =
        serde_json::from_str(&read(&mixed.join("meta.json"))).unwrap();
    let meta16: serde_json::Value = serde_json::from_str(&read(&other.join("meta.json"))).unwrap();
    meta["extra"]["tokenizer"] = meta16["extra"]["tokenizer"].clone();
    std::fs::write(mixed.join("meta.json"), meta.to_string()).unwrap();

    let out = t.dir.path().join("never");
    let o = backtest(&[
        "--input",
        SPX.as_str(),
        "--model",
        mixed.to_str().unwrap(),
        "--strategy",
        "forecast",
        "--from",
        "2018-06-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("trained with another tokenizer"), "{err}");
    assert!(!out.exists());
}

#[test]
fn bad_input_gets_a_clear_error_and_no_report_folder() {
    let tmp = Dir::new();
    let out = out_dir(&tmp, "out");
    let o = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--strategy", "momentum"],
            "strategy 'momentum': unknown strategy 'momentum'",
        ),
        (
            &["--strategy", "sma-cross:20,10"],
            "FAST (20) must be shorter than SLOW (10)",
        ),
        (
            &["--strategy", "sma-cross:10,10"],
            "FAST (10) must be shorter than SLOW (10)",
        ),
        (
            &["--strategy", "buy-hold", "--cash", "-100"],
            "cash must be a positive amount, got -100",
        ),
        (
            &["--strategy", "buy-hold", "--from", "2030-01-01"],
            "the backtest window has no bars: no bars from 2030-01-01 to the end; \
             the file covers 1999-01-04T00:00:00Z to 2018-12-31T00:00:00Z",
        ),
        (
            &["--strategy", "sma-cross:10,20", "--refit-every", "50"],
            "--refit-every refits the strategy's model: it needs a model strategy",
        ),
        (
            &["--strategy", "buy-hold", "--to", "1990-01-01"],
            "the backtest window has no bars",
        ),
        (
            &[
                "--strategy",
                "forecast:horizon=3",
                "--model",
                "/nonexistent",
            ],
            "/nonexistent: no such model folder",
        ),
        (
            &["--strategy", "buy-hold", "--compare", "vol-target:cap=2"],
            "--compare vol-target:cap=2: strategy 'vol-target:cap=2': cap=2: cap is a fraction of equity in (0, 1] (no leverage)",
        ),
        (
            &["--strategy", "buy-hold", "--from", "yesterday"],
            "--from 'yesterday' is not RFC 3339",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["--input", SPX.as_str(), "--out", o];
        all.extend_from_slice(args);
        let r = backtest(&all);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(want), "{args:?}: {}", stderr(&r));
        assert!(!out.exists(), "{args:?} left {}", out.display());
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(leftovers.is_empty(), "{args:?}: {leftovers:?}");
    }
}

#[test]
fn rule_backtest_prints_a_table_or_json_and_replaces_its_report() {
    let tmp = Dir::new();
    let out = out_dir(&tmp, "rep");
    let o = out.to_str().unwrap();
    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "sma-cross:10,20",
        "--commission",
        "0.001",
        "--finalize",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let table = stdout(&r);
    let lines: Vec<&str> = table.lines().collect();
    // The header, every metric, and the Sharpe ratio against buy-and-hold's with
    // its verdict.
    assert_eq!(lines.len(), 3 + METRIC_KEYS.len(), "{table}");
    assert!(
        lines[2 + METRIC_KEYS.len()].starts_with("vs Buy & Hold"),
        "{table}"
    );
    // Aligned: every row as wide as the header.
    let w = lines[0].len();
    assert!(lines.iter().all(|l| l.len() == w), "{table}");
    assert!(lines[0].contains("sma-cross:10,20") && lines[0].contains("buy-hold"));
    assert!(!table.contains("sma-cross:10,20  sma-cross:10,20"));
    // equity.csv only when asked for; the chart always, alone and in the page.
    assert!(!out.join("equity.csv").exists());
    let svg = read(&out.join("equity.svg"));
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let html = read(&out.join("report.html"));
    assert!(
        html.contains(&svg),
        "report.html shows the same equity chart"
    );
    assert!(html.contains("rerun with --equity-csv"));
    assert!(html.contains("Close with trades") && html.contains("&middot; all "));

    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "sma-cross:5,30",
        "--long-only",
        "--fractional",
        "--spread",
        "2bps",
        "--no-compare",
        "--json",
        "--candles",
        "--out",
        o,
        "--force",
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let v: serde_json::Value = serde_json::from_str(&stdout(&r)).unwrap();
    assert_eq!(v["strategy"], "sma-cross:5,30");
    assert!(v["compare"].as_array().unwrap().is_empty());
    assert!(v["metrics"]["n_trades"].as_u64().unwrap() > 10);
    // Against a buy-and-hold run made for it, over the window's 5000-odd days.
    let vs = &v["vs_buy_hold"];
    assert!(vs["periods"].as_u64() > Some(4_900), "{vs}");
    assert!(vs["ci_low"].as_f64() < vs["ci_high"].as_f64(), "{vs}");
    assert!(
        vs["summary"].as_str().unwrap().contains("buy-and-hold"),
        "{vs}"
    );
    let trades = read(&out.join("trades.csv"));
    assert!(!trades.contains(",short,"), "long-only");
    assert!(
        trades
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(3)
            .unwrap()
            .contains('.'),
        "fractional units"
    );
    // The earlier report was replaced whole.
    assert_eq!(
        read(&out.join("stats.json")).trim(),
        serde_json::to_string_pretty(&v).unwrap()
    );
    let html = read(&out.join("report.html"));
    assert!(html.contains("Price with trades"), "--candles");
    assert!(
        html.contains("each candle merges 21 bars"),
        "5031 bars in at most 250 candles"
    );
}

/// `equity.csv` and `trades.csv` byte for byte as before the fast formatting
/// (tests/golden/backtest, written by the commit before it); `UPDATE_GOLDEN=1`
/// rewrites them after a deliberate format change.
#[test]
fn report_csv_files_match_the_golden_files() {
    let tmp = Dir::new();
    let out = out_dir(&tmp, "rep");
    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "sma-cross:10,20",
        "--from",
        "2018-07-01",
        "--commission",
        "0.001",
        "--fractional",
        "--equity-csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let golden = manifest_dir().join("tests/golden/backtest");
    for f in ["equity.csv", "trades.csv"] {
        let got = read(&out.join(f));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(golden.join(f), &got).unwrap();
        }
        let want = read(&golden.join(f));
        assert!(
            got == want,
            "{f} differs from tests/golden/backtest/{f}:\n{}",
            got.lines()
                .zip(want.lines())
                .find(|(g, w)| g != w)
                .map(|(g, w)| format!("got  {g}\nwant {w}"))
                .unwrap_or_else(|| "(line counts differ)".into())
        );
    }
}

/// Buy-and-hold without --finalize holds a trade the statistics leave out, and
/// the columns' buy-and-hold returns are measured over one window: both are
/// said in the terminal, not only in the report.
#[test]
fn open_trades_and_the_buy_hold_window_are_explained_in_the_terminal() {
    let tmp = Dir::new();
    let out = out_dir(&tmp, "rep");
    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "buy-hold",
        "--compare",
        "sma-cross:50,200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains("note: buy-hold holds a long trade from 1999-01-06T00:00:00Z open at the end")
            && err.contains("--finalize"),
        "{err}"
    );
    assert!(
        err.contains("Buy & Hold Return [%] is over one window"),
        "{err}"
    );
    // One buy-and-hold figure in every column: from the close before sma-cross's first decision.
    let table = stdout(&r);
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("Buy & Hold Return [%]"))
        .unwrap()
        .split_whitespace()
        .skip(5)
        .collect();
    assert_eq!(row.len(), 2, "{table}");
    assert_eq!(row[0], row[1], "{table}");
    let v: serde_json::Value = serde_json::from_str(&read(&out.join("stats.json"))).unwrap();
    assert_eq!(v["buy_hold"]["start"], "1999-10-18T00:00:00Z");
    let common = v["buy_hold"]["return_pct"].as_f64().unwrap();
    assert_eq!(row[0], format!("{common:.3}"));
    // backtesting.py's own figure for buy-hold starts at the first close, and differs.
    assert_ne!(
        v["metrics"]["buy_hold_return_pct"].as_f64().unwrap(),
        common
    );
    // Both strategies end in a trade (sma-cross always holds one after its first cross).
    assert_eq!(v["notes"].as_array().unwrap().len(), 3, "{v}");
    assert!(read(&out.join("report.html"))
        .contains("buy-hold holds a long trade from 1999-01-06T00:00:00Z open at the end"));

    // Finalized, the trade is closed and counted: no note.
    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "buy-hold",
        "--no-compare",
        "--finalize",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(!stderr(&r).contains("note:"), "{}", stderr(&r));
    assert!(stdout(&r).contains("# Trades"));
}

/// With whole units and a price above the cash nothing can trade: the run says
/// so before it starts, names --fractional, and the report carries the warning.
#[test]
fn unaffordable_whole_units_are_warned_about_before_the_run() {
    let tmp = Dir::new();
    let out = out_dir(&tmp, "rep");
    let o = out.to_str().unwrap();
    // The S&P 500 never traded below 500 in 1999-2018.
    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "buy-hold",
        "--cash",
        "500",
        "--finalize",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let err = stderr(&r);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("warning: with whole units one unit costs 1229.23")
            && first.contains("every strategy makes 0 trades")
            && first.contains("--fractional"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&read(&out.join("stats.json"))).unwrap();
    assert_eq!(v["metrics"]["n_trades"], 0);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    assert!(read(&out.join("report.html")).contains("Warning: with whole units"));

    let r = backtest(&[
        "--input",
        SPX.as_str(),
        "--strategy",
        "buy-hold",
        "--cash",
        "500",
        "--finalize",
        "--fractional",
        "--json",
        "--out",
        o,
        "--force",
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(!stderr(&r).contains("warning"), "{}", stderr(&r));
    let v: serde_json::Value = serde_json::from_str(&stdout(&r)).unwrap();
    assert_eq!(v["metrics"]["n_trades"], 1);
    assert!(v["warnings"].as_array().unwrap().is_empty());
}

/// `a` and backtesting.py's `b` agree: numbers within 1e-9 relative, null for
/// null, strings (times, durations) exactly.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || ((x - y) / y).abs() <= 1e-9,
        _ => a == b,
    }
}

/// Every statistic backtesting.py 0.6.6 reports, through the command line, on
/// its GOOG daily and EURUSD hourly files: SmaCross(10, 20) and buy-and-hold,
/// each without and with --finalize (`tests/golden/backtesting_py/`, made by
/// `bench/backtest_ref.py parity`; no Python needed here).
#[test]
#[ignore = "needs ../shared"]
fn cli_matches_backtesting_py_on_every_statistic() {
    let tmp = Dir::new();
    let mut checked = 0;
    for file in ["goog_1d_backtesting", "eurusd_1h_backtesting"] {
        let golden = manifest_dir().join(format!("tests/golden/backtesting_py/{file}.json"));
        let g: serde_json::Value = serde_json::from_str(&read(&golden)).unwrap();
        let keys: Vec<&str> = g["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_str().unwrap())
            .collect();
        assert_eq!(keys, METRIC_KEYS);
        let input = shared_data().join(format!("{file}.csv"));
        let mut bad = Vec::new();
        for case in g["runs"].as_array().unwrap() {
            let strategy = case["strategy"].as_str().unwrap();
            let finalize = case["finalize"].as_bool().unwrap();
            let out = out_dir(&tmp, &format!("{file}-{checked}"));
            let (cash, commission) = (
                g["broker"]["cash"].to_string(),
                g["broker"]["commission"].to_string(),
            );
            let mut args = vec![
                "--input",
                input.to_str().unwrap(),
                "--strategy",
                strategy,
                "--cash",
                &cash,
                "--commission",
                &commission,
                "--no-compare",
                "--json",
                "--out",
                out.to_str().unwrap(),
            ];
            if finalize {
                args.push("--finalize");
            }
            let r = backtest(&args);
            assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
            let v: serde_json::Value = serde_json::from_str(&stdout(&r)).unwrap();
            let m = v["metrics"].as_object().unwrap();
            assert_eq!(m.len(), METRIC_KEYS.len());
            for key in METRIC_KEYS {
                let (got, want) = (&m[key], &case["metrics"][key]);
                if !same(got, want) {
                    bad.push(format!(
                        "{file} {strategy} finalize={finalize} {key}: candlecast {got}, backtesting.py {want}"
                    ));
                }
            }
            checked += 1;
        }
        assert!(bad.is_empty(), "\n{}", bad.join("\n"));
    }
    assert_eq!(checked, 8);
}
