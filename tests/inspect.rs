use crate::util::{candlecast, fails_with, shared_data, stderr, stdout, Dir};
use serde_json::Value;
use std::collections::BTreeMap;

const GOOD: &str = "Date,Open,High,Low,Close,Volume\n\
                    2020-01-01,1,2,0.5,1.5,10\n\
                    2020-01-02,1.5,2,1,1.8,12\n\
                    2020-01-03,1.8,2.1,1.7,2,9\n\
                    2020-01-06,2,2.2,1.9,2.1,11\n";

#[test]
fn a_valid_file_is_summarised_and_exits_0() {
    let dir = Dir::new();
    let f = dir.write("good.csv", GOOD);
    let out = candlecast(["inspect".as_ref(), f.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("good.csv: ok"), "{text}");
    assert!(
        text.contains("2020-01-01T00:00:00Z 2020-01-06T00:00:00Z 1d"),
        "{text}"
    );
}

#[test]
fn json_has_one_object_per_file() {
    let dir = Dir::new();
    let good = dir.write("good.csv", GOOD);
    let bad = dir.write(
        "bad.csv",
        "t,o,h,l,c\n2020-01-01,1,2,0.5,1.5\n2020-01-02,1,0.9,0.5,1.5\n",
    );
    let out = candlecast([
        "inspect".as_ref(),
        "--json".as_ref(),
        good.as_os_str(),
        bad.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let objs: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objs.len(), 2);
    let s = &objs[0]["series"][0];
    assert_eq!(s["rows"], 4);
    assert_eq!(s["first"], "2020-01-01T00:00:00Z");
    assert_eq!(s["interval_seconds"], 86400);
    assert_eq!(s["gaps"], 1);
    assert_eq!(objs[1]["ok"], false);
    let p = &objs[1]["problems"][0];
    assert_eq!(
        (p["line"].as_u64(), p["column"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        p["message"],
        "high 0.9 is below max(open, close) = 1.5; --repair ohlc widens high/low to contain open and close"
    );
}

#[test]
fn problems_name_file_line_and_column_and_exit_1() {
    let dir = Dir::new();
    let f = dir.write(
        "bad.csv",
        "t,o,h,l,c\n2020-01-01,1,2,0.5,1.5\n2020-01-02,1,4.x4,0.5,1.5\n",
    );
    let out = candlecast(["inspect".as_ref(), f.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("bad.csv:3:3: '4.x4' is not a number (column 'h')"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_file_is_a_problem_not_a_crash() {
    let out = candlecast(["inspect", "/nonexistent/x.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("/nonexistent/x.csv: No such file"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(candlecast(["inspect"]).status.code(), Some(2));
    assert_eq!(
        candlecast(["inspect", "--no-such-flag", "x.csv"])
            .status
            .code(),
        Some(2)
    );
    let out = candlecast(["inspect", "--repair", "shuffle", "x.csv"]);
    fails_with(&out, "unknown repair 'shuffle'");
    assert_eq!(
        candlecast(["inspect", "--tz", "Mars/Olympus", "x.csv"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn repairs_and_resampling_are_reported() {
    let dir = Dir::new();
    let f = dir.write(
        "r.csv",
        "timestamp,open,high,low,close\n2020-01-01T00:00:00Z,1,2,0.5,1.5\n2020-01-01T00:02:00Z,1,2,0.5,1.5\n\
         2020-01-01T00:01:00Z,1,2,0.5,1.5\n2020-01-01T00:01:00Z,1,2,0.5,1.5\n",
    );
    let out = candlecast(["inspect".as_ref(), f.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let out = candlecast([
        "inspect".as_ref(),
        "--repair".as_ref(),
        "sort,dedupe".as_ref(),
        "--resample".as_ref(),
        "1h".as_ref(),
        f.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("r.csv:3: moved into time order"), "{text}");
    assert!(
        text.contains("r.csv:5: dropped, an exact copy of line 4"),
        "{text}"
    );
    assert!(text.contains("resampled to 1h"), "{text}");
}

/// `symbol -> (rows, first, last)` from each per-file table of MANIFEST.md.
fn manifest() -> BTreeMap<String, BTreeMap<String, (u64, String, String)>> {
    let text = std::fs::read_to_string(shared_data().join("MANIFEST.md"))
        .unwrap_or_else(|e| panic!("MANIFEST.md: {e}"));
    let mut out: BTreeMap<String, BTreeMap<String, (u64, String, String)>> = BTreeMap::new();
    let mut file = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            file = rest.strip_suffix('`').map(str::to_string);
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(f), true) = (&file, cells.len() > 4) else {
            continue;
        };
        let (Ok(rows), Some((first, last))) = (cells[2].parse::<u64>(), cells[3].split_once(" → "))
        else {
            continue;
        };
        let full = |d: &str| {
            if d.len() == 10 {
                format!("{d}T00:00:00Z")
            } else {
                d.to_string()
            }
        };
        out.entry(f.clone())
            .or_default()
            .insert(cells[1].to_string(), (rows, full(first), full(last)));
    }
    out
}

fn inspect_json(args: &[&str]) -> Value {
    let out = candlecast(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_str(stdout(&out).trim()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
#[ignore = "needs ../shared"]
fn every_shared_file_agrees_with_the_manifest() {
    let manifest = manifest();
    assert!(
        manifest.len() >= 11,
        "parsed {} files from MANIFEST.md",
        manifest.len()
    );
    for (file, expected) in &manifest {
        let path = shared_data().join(file);
        let v = inspect_json(&["inspect", "--json", &path.display().to_string()]);
        let got: BTreeMap<String, (u64, String, String)> = v["series"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| {
                let sym = s["symbol"].as_str().unwrap_or("—").to_string();
                let st = |k: &str| s[k].as_str().unwrap_or_default().to_string();
                (
                    sym,
                    (s["rows"].as_u64().unwrap_or(0), st("first"), st("last")),
                )
            })
            .collect();
        assert_eq!(&got, expected, "{file}");
    }
}

#[test]
#[ignore = "needs ../shared"]
fn every_raw_file_reads_with_the_flags_its_quirks_need() {
    // (file, flags, rows)
    let table: &[(&str, &[&str], u64)] = &[
        ("arch_sp500.csv", &[], 5031),
        ("backtesting_EURUSD.csv", &[], 5000),
        ("gymanytrading_FOREX_EURUSD_1H_ASK.csv", &[], 6225),
        (
            "histdata_DAT_ASCII_EURUSD_M1_201701.csv",
            &["--tz", "America/New_York"],
            31500,
        ),
        (
            "kronos_XSHG_5min_600977.csv",
            &["--tz", "Asia/Shanghai"],
            2500,
        ),
        (
            "mplfinance_SP500_NOV2019_IDay.csv",
            &["--date-format", "mdy", "--tz", "America/New_York"],
            1563,
        ),
    ];
    let dir = shared_data().join("raw");
    let listed = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(listed, table.len(), "every raw file has a row in the table");
    for (file, flags, rows) in table {
        let path = dir.join(file).display().to_string();
        let mut args = vec!["inspect", "--json"];
        args.extend_from_slice(flags);
        args.push(&path);
        let v = inspect_json(&args);
        assert_eq!(v["series"][0]["rows"].as_u64(), Some(*rows), "{file}");
    }
}
