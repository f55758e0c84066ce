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

const METRIC_KEYS: [&str; 20] = [
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "n_trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "exposure_pct",
    "equity_final",
    "commissions",
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
            "/nonexistent/meta.json",
        ),
        (
            &["--strategy", "buy-hold", "--compare", "forecast"],
            "--compare forecast: only rule strategies",
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
    // The header, 20 metrics, and the Sharpe ratio against buy-and-hold's with
    // its verdict.
    assert_eq!(lines.len(), 23, "{table}");
    assert!(lines[22].starts_with("vs Buy & Hold"), "{table}");
    // Aligned: every row as wide as the header.
    let w = lines[0].len();
    assert!(lines.iter().all(|l| l.len() == w), "{table}");
    assert!(lines[0].contains("sma-cross:10,20") && lines[0].contains("buy-hold"));
    assert!(!table.contains("sma-cross:10,20  sma-cross:10,20"));

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
        "--out",
        o,
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
}

#[test]
#[ignore = "needs ../shared"]
fn cli_matches_backtesting_py_on_goog() {
    let tmp = Dir::new();
    let goog = shared_data().join("goog_1d_backtesting.csv");
    for (finalize, ret, trades, equity) in [
        (false, 462.6351934, 93, 56263.51934),
        (true, 455.7451294, 94, 55574.51294),
    ] {
        let out = out_dir(&tmp, if finalize { "f" } else { "n" });
        let mut args = vec![
            "--input",
            goog.to_str().unwrap(),
            "--strategy",
            "sma-cross:10,20",
            "--cash",
            "10000",
            "--commission",
            "0.002",
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
        let m = &v["metrics"];
        let rel = |k: &str, want: f64| (m[k].as_f64().unwrap() - want).abs() / want.abs();
        assert!(rel("return_pct", ret) < 1e-6, "{m}");
        assert!(rel("equity_final", equity) < 1e-6, "{m}");
        assert_eq!(m["n_trades"], trades);
        if !finalize {
            assert!(rel("sharpe", 0.60074) < 1e-4, "{m}");
            assert!(rel("max_drawdown_pct", -33.93159) < 1e-4, "{m}");
            assert!(rel("win_rate_pct", 52.68817) < 1e-4, "{m}");
        }
    }
}
