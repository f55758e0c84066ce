#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Real files from `../shared/data`: each raw export and its normalised twin must
//! give identical OHLCV values. Needs the shared folder beside the checkout.

use candlecast_data::{read_path, ReadOptions, Series, Timestamp};
use std::path::PathBuf;

/// This package's directory, read at run time: a binary reused from another checkout
/// through a shared `CARGO_TARGET_DIR` keeps that checkout's compile-time path.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

fn shared(rel: &str) -> PathBuf {
    manifest_dir().join("../../../shared/data").join(rel)
}

fn one(rel: &str, opts: &ReadOptions) -> Result<Series, String> {
    let ds = read_path(&shared(rel), opts).map_err(|e| e.to_string())?;
    ds.panel
        .series
        .into_iter()
        .next()
        .ok_or_else(|| format!("{rel}: no series"))
}

/// Raw file, the flags its quirks need, and its normalised twin.
fn table() -> Vec<(&'static str, ReadOptions, &'static str)> {
    let tz = |z: chrono_tz::Tz| ReadOptions {
        tz: Some(z),
        ..ReadOptions::default()
    };
    vec![
        (
            "raw/arch_sp500.csv",
            ReadOptions::default(),
            "spx_1d_arch.csv",
        ),
        (
            "raw/backtesting_EURUSD.csv",
            ReadOptions::default(),
            "eurusd_1h_backtesting.csv",
        ),
        (
            "raw/gymanytrading_FOREX_EURUSD_1H_ASK.csv",
            ReadOptions::default(),
            "eurusd_1h_ask_gymanytrading.csv",
        ),
        // HistData is US Eastern with DST (see MANIFEST); the raw file is January only.
        (
            "raw/histdata_DAT_ASCII_EURUSD_M1_201701.csv",
            tz(chrono_tz::Tz::America__New_York),
            "eurusd_1m_histdata_2017h1.csv",
        ),
        (
            "raw/kronos_XSHG_5min_600977.csv",
            tz(chrono_tz::Tz::Asia__Shanghai),
            "sh600977_5m_kronos.csv",
        ),
    ]
}

fn window(s: &Series, first: Timestamp, last: Timestamp) -> Series {
    let ts = s.timestamps();
    let a = ts.partition_point(|&t| t < first);
    let b = ts.partition_point(|&t| t <= last);
    s.slice(a..b)
}

#[test]
#[ignore = "needs ../shared"]
fn raw_files_give_the_same_values_as_their_normalised_twins() -> Result<(), String> {
    for (raw, opts, norm) in table() {
        let r = one(raw, &opts)?;
        let n = one(norm, &ReadOptions::default())?;
        let (Some(first), Some(last)) = (r.first_ts(), r.last_ts()) else {
            return Err(format!("{raw}: empty"));
        };
        let n = window(&n, first, last);
        assert_eq!(r.len(), n.len(), "{raw} vs {norm}: rows");
        assert_eq!(
            r.timestamps(),
            n.timestamps(),
            "{raw} vs {norm}: timestamps"
        );
        for (name, a, b) in [
            ("open", r.open(), n.open()),
            ("high", r.high(), n.high()),
            ("low", r.low(), n.low()),
            ("close", r.close(), n.close()),
            ("volume", r.volume(), n.volume()),
        ] {
            assert_eq!(a, b, "{raw} vs {norm}: {name}");
        }
    }
    Ok(())
}

#[test]
#[ignore = "needs ../shared"]
fn ambiguous_us_dates_read_with_the_flag_they_need() -> Result<(), String> {
    let raw = "raw/mplfinance_SP500_NOV2019_IDay.csv";
    assert!(one(raw, &ReadOptions::default()).is_err_and(|e| e.contains("ambiguous dates")));
    let opts = ReadOptions {
        date_format: Some("mdy".parse()?),
        ..ReadOptions::default()
    };
    let s = one(raw, &opts)?;
    assert_eq!(s.len(), 1563);
    assert_eq!(
        s.first_ts().map(|t| t.to_rfc3339()),
        Some("2019-11-05T09:30:00Z".into())
    );
    // Column order Open,Close,High,Low,Volume in the source: first row 3080.8,3080.49,3081.47,3080.3
    assert_eq!(
        (s.open()[0], s.high()[0], s.low()[0], s.close()[0]),
        (3080.8, 3081.47, 3080.3, 3080.49)
    );
    Ok(())
}
