//! Real-world input shapes (issue 19): compressed CSV, JSON candles, leading empty
//! cells, conflicting duplicates, `--repair ohlc`, 12-hour clocks, directories, and
//! binary containers refused with what to do.

use crate::util::{candlecast, stderr, stdout, Dir};
use std::io::Write;

const CSV: &str = "Date,Open,High,Low,Close,Volume\n\
                   2020-01-01,1,2,0.5,1.5,10\n\
                   2020-01-02,1.5,2,1,1.8,12\n\
                   2020-01-03,1.8,2.1,1.7,2,9\n";

fn inspect(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    let out = candlecast(&all);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn gzip_and_zstd_files_read_like_the_plain_file() {
    let dir = Dir::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(CSV.as_bytes()).unwrap();
    let gz = dir.write("a.csv.gz", gz.finish().unwrap());
    let zst = dir.write(
        "a.csv.zst",
        zstd::stream::encode_all(CSV.as_bytes(), 3).unwrap(),
    );
    for f in [gz, zst] {
        let (code, text) = inspect(&[&path(&f)]);
        assert_eq!(code, Some(0), "{text}");
        assert!(
            text.contains("3 2020-01-01T00:00:00Z 2020-01-03T00:00:00Z 1d"),
            "{text}"
        );
    }
    // Truncated gzip: an error naming the codec, no summary.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(CSV.repeat(50).as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let cut = dir.write("cut.csv.gz", &bytes[..bytes.len() / 2]);
    let (code, text) = inspect(&[&path(&cut)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("gzip data is corrupt or truncated"), "{text}");
}

#[test]
fn json_candles_in_ms_and_s_with_element_messages() {
    let dir = Dir::new();
    let ms = dir.write(
        "ft.json",
        "[[1577836800000,1,2,0.5,1.5,10],[1577923200000,1.5,2,1,1.8,12],[1578009600000,1.8,2.1,1.7,2,9]]",
    );
    let s = dir.write(
        "bn.json",
        "[\n [1577836800,\"1\",\"2\",\"0.5\",\"1.5\",\"10\",0],\n [1577923200,\"1.5\",\"2\",\"1\",\"1.8\",\"12\",0]\n]\n",
    );
    for f in [&ms, &s] {
        let (code, text) = inspect(&[&path(f)]);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("2020-01-01T00:00:00Z 2020-01-0"), "{text}");
    }
    let bad = dir.write(
        "bad.json",
        "[\n [1577836800,1,2,0.5,1.5,1],\n [1577923200,1,0.9,0.5,1.5,1]\n]",
    );
    let (code, text) = inspect(&[&path(&bad)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("bad.json:3:3: element 1: high 0.9 is below max(open, close) = 1.5"),
        "{text}"
    );
    let obj = dir.write("obj.json", "{\"data\": [[1,2,3]]}");
    let (code, text) = inspect(&[&path(&obj)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("a JSON object"), "{text}");
}

#[test]
fn leading_empty_index_cells_are_ignored() {
    let dir = Dir::new();
    let body: String = CSV.lines().skip(1).map(|l| format!(",{l}\n")).collect();
    // The header does not name the index column; and one where it is unnamed.
    let short = dir.write(
        "short.csv",
        format!("Date,Open,High,Low,Close,Volume\n{body}"),
    );
    let named = dir.write(
        "named.csv",
        format!(",Date,Open,High,Low,Close,Volume\n{body}"),
    );
    for f in [short, named] {
        let (code, text) = inspect(&[&path(&f)]);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("ignored column(s): #1 (unnamed)"), "{text}");
    }
}

#[test]
fn conflicting_duplicates_name_both_lines_and_keep_last_repairs() {
    let dir = Dir::new();
    let f = dir.write("dup.csv", format!("{CSV}2020-01-03,1.8,2.2,1.7,2.1,9\n"));
    let (code, text) = inspect(&[&path(&f)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("dup.csv:5:1: duplicate timestamp 2020-01-03T00:00:00Z (also on line 4) with different values; --repair keep-last"),
        "{text}"
    );
    let (code, text) = inspect(&["--repair", "keep-last", &path(&f)]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("dup.csv:4: dropped, same time as line 5 (kept)"),
        "{text}"
    );
}

#[test]
fn repair_ohlc_widens_and_reports_each_row() {
    let dir = Dir::new();
    let f = dir.write(
        "etf.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2020-01-01,1,2,0.5,1.5,10\n\
         2020-01-02,1.5,2,1.6,1.8,12\n\
         2020-01-03,1.8,1.9,1.7,2,9\n",
    );
    let (code, text) = inspect(&[&path(&f)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("etf.csv:3:4: low 1.6 is above min(open, close) = 1.5; --repair ohlc"),
        "{text}"
    );
    let (code, text) = inspect(&["--repair", "ohlc", "--json", &path(&f)]);
    assert_eq!(code, Some(0), "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    let reps = v["repairs"].as_array().unwrap();
    assert_eq!(reps.len(), 2, "{text}");
    assert_eq!(reps[0]["line"], 3);
    assert_eq!(reps[0]["action"]["low"], serde_json::json!([1.6, 1.5]));
    assert_eq!(reps[1]["line"], 4);
    assert_eq!(reps[1]["action"]["high"], serde_json::json!([1.9, 2.0]));
}

#[test]
fn twelve_hour_vendor_stamps_keep_their_hour() {
    let dir = Dir::new();
    let f = dir.write(
        "cdd.csv",
        "Date,Open,High,Low,Close,Volume\n\
         2020-01-01 09-PM,1,2,0.5,1.5,10\n\
         2020-01-01 10-PM,1.5,2,1,1.8,12\n",
    );
    let (code, text) = inspect(&["--date-format", "%Y-%m-%d %I-%p", &path(&f)]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("2020-01-01T21:00:00Z 2020-01-01T22:00:00Z 1h"),
        "{text}"
    );
    let (code, text) = inspect(&["--date-format", "%Y-%m-%d %I", &path(&f)]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("needs %p"), "{text}");
}

#[test]
fn a_directory_takes_every_supported_format() {
    let dir = Dir::new();
    let sub = dir.path().join("in");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("a.csv"), CSV).unwrap();
    std::fs::write(
        sub.join("b.json"),
        "[[1577836800000,1,2,0.5,1.5,10],[1577923200000,1.5,2,1,1.8,12]]",
    )
    .unwrap();
    std::fs::write(
        sub.join("c.csv.zst"),
        zstd::stream::encode_all(CSV.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    std::fs::write(sub.join("notes.md"), "not data").unwrap();
    let (code, text) = inspect(&[&path(&sub)]);
    assert_eq!(code, Some(0), "{text}");
    for f in ["a.csv: ok", "b.json: ok", "c.csv.zst: ok"] {
        assert!(text.contains(f), "{f}: {text}");
    }
    assert!(!text.contains("notes.md"), "{text}");
}

/// The CSV above as Parquet and Arrow IPC, written by polars.
#[cfg(feature = "parquet")]
fn binary_copies() -> (Vec<u8>, Vec<u8>) {
    use polars::prelude::*;
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .into_reader_with_file_handle(std::io::Cursor::new(CSV.as_bytes()))
        .finish()
        .unwrap();
    let mut pq = Vec::new();
    ParquetWriter::new(&mut pq).finish(&mut df).unwrap();
    let mut ipc = Vec::new();
    IpcWriter::new(&mut ipc).finish(&mut df).unwrap();
    (pq, ipc)
}

#[cfg(feature = "parquet")]
#[test]
fn a_directory_takes_parquet_and_ipc_beside_csv() {
    let dir = Dir::new();
    let sub = dir.path().join("in");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("a.csv"), CSV).unwrap();
    let (pq, ipc) = binary_copies();
    std::fs::write(sub.join("b.parquet"), &pq).unwrap();
    std::fs::write(sub.join("c.arrow"), &ipc).unwrap();
    let (code, text) = inspect(&[&path(&sub)]);
    assert_eq!(code, Some(0), "{text}");
    for f in ["a.csv: ok", "b.parquet: ok", "c.arrow: ok"] {
        assert!(text.contains(f), "{f}: {text}");
    }
    // Same bars as the CSV: the same first line after the name.
    let csv_line = text.lines().find(|l| l.contains("a.csv: ok")).unwrap();
    let pq_line = text.lines().find(|l| l.contains("b.parquet: ok")).unwrap();
    assert_eq!(
        csv_line.split_once(": ok").map(|p| p.1),
        pq_line.split_once(": ok").map(|p| p.1),
        "{text}"
    );
}

#[test]
fn binary_containers_are_refused_with_what_to_do() {
    let dir = Dir::new();
    for (name, bytes, says) in [
        ("a.zip", &b"PK\x03\x04\x14\0\0\0"[..], "unzip it"),
        ("a.csv.bz2", b"BZh91AY&SY", "bunzip2"),
        ("a.parquet", b"PAR1\x15\x04\x15", "Parquet"),
    ] {
        let f = dir.write(name, bytes);
        let (code, text) = inspect(&[&path(&f)]);
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains(says), "{name}: {text}");
    }
}

#[test]
fn a_missing_model_folder_says_what_model_wants() {
    let dir = Dir::new();
    let f = dir.write("a.csv", crate::util::walk_csv(1, 300));
    let missing = path(&dir.path().join("no-such-run"));
    let out = candlecast([
        "forecast",
        "--model",
        &missing,
        "--input",
        &path(&f),
        "--horizon",
        "2",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("no such model folder"), "{err}");
    assert!(err.contains("leave --model out"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 0, "{err}");
}
