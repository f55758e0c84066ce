#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! One case per way an input can be wrong: each must be refused with a message
//! naming the file, line and column, and none may panic.

use candlecast_data::{read_bytes, DataError, ReadOptions};

struct Case {
    name: &'static str,
    input: Vec<u8>,
    opts: ReadOptions,
    /// The first problem must start with this `path:line:column:` location...
    at: &'static str,
    /// ...and contain this text.
    says: &'static str,
}

fn case(
    name: &'static str,
    input: impl Into<Vec<u8>>,
    at: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        input: input.into(),
        opts: ReadOptions::default(),
        at,
        says,
    }
}

const H: &str = "timestamp,open,high,low,close,volume\n";

fn with_header(rows: &str) -> String {
    format!("{H}2020-01-01,1,2,0.5,1.5,10\n{rows}")
}

fn cases() -> Vec<Case> {
    let mut wide_header = (0..10_000)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    wide_header.push('\n');
    let wide_row = format!("{}\n", vec!["1"; 10_000].join(","));
    let mut long_line = with_header("");
    long_line.push_str("2020-01-03,1,2,0.5,");
    long_line.push_str(&"1".repeat(10 << 20));
    long_line.push('\n');
    let mut v = vec![
        case("empty file", "", "bad.csv: ", "the file is empty"),
        case("blank lines only", "\n  \r\n\n", "bad.csv: ", "the file is empty"),
        case("header only", H, "bad.csv:1: ", "only a header"),
        case("binary junk", b"\x7fELF\x02\x01\x01\x00\x00\x00junk".to_vec(), "bad.csv:1: ", "binary data"),
        case("unparsable number", with_header("2020-01-02,1,4.x4,0.5,1.5,10\n"), "bad.csv:3:3: ", "'4.x4' is not a number (column 'high')"),
        case("empty value", with_header("2020-01-02,1,2,,1.5,10\n"), "bad.csv:3:4: ", "empty value (column 'low')"),
        case("NaN price", with_header("2020-01-02,NaN,2,0.5,1.5,10\n"), "bad.csv:3:2: ", "open is NaN, not a finite number"),
        case("infinite volume", with_header("2020-01-02,1,2,0.5,1.5,inf\n"), "bad.csv:3:6: ", "volume is inf, not a finite number"),
        case("zero price", with_header("2020-01-02,1,2,0,1.5,10\n"), "bad.csv:3:4: ", "low is 0; prices must be > 0"),
        case("negative price", with_header("2020-01-02,1,2,0.5,-1.5,10\n"), "bad.csv:3:5: ", "close is -1.5; prices must be > 0"),
        case("negative volume", with_header("2020-01-02,1,2,0.5,1.5,-3\n"), "bad.csv:3:6: ", "volume is -3; must be >= 0"),
        case("high below body", with_header("2020-01-02,1,1.2,0.5,1.5,10\n"), "bad.csv:3:3: ", "high 1.2 is below max(open, close) = 1.5"),
        case("low above body", with_header("2020-01-02,1,2,1.1,1.5,10\n"), "bad.csv:3:4: ", "low 1.1 is above min(open, close) = 1"),
        case("duplicate timestamp", with_header("2020-01-01,1,2,0.5,1.6,10\n"), "bad.csv:3:1: ", "duplicate timestamp 2020-01-01T00:00:00Z (also on line 2) with different values"),
        case("exact duplicate row", with_header("2020-01-01,1,2,0.5,1.5,10\n"), "bad.csv:3:1: ", "--repair dedupe drops it"),
        case("unsorted rows", with_header("2020-01-03,1,2,0.5,1.5,10\n2020-01-02,1,2,0.5,1.5,10\n"), "bad.csv:4:1: ", "rows out of time order: 2020-01-02T00:00:00Z comes after 2020-01-03T00:00:00Z on line 3"),
        case("truncated row", with_header("2020-01-02,1,2,0.5"), "bad.csv:3: ", "4 field(s), expected 6"),
        case("extra field", with_header("2020-01-02,1,2,0.5,1.5,10,7\n"), "bad.csv:3: ", "7 field(s), expected 6"),
        case("missing column", "timestamp,open,high,low,volume\n2020-01-01,1,2,0.5,10\n", "bad.csv:1: ", "no close column among ['timestamp', 'open', 'high', 'low', 'volume']"),
        case("ambiguous columns", "date,open,high,low,close,last\n2020-01-01,1,2,0.5,1,1\n", "bad.csv:1: ", "both look like close"),
        case("unparsable date", "t,o,h,l,c\nyesterday,1,2,0.5,1.5\n", "bad.csv:2:1: ", "unrecognised timestamp 'yesterday'"),
        case("impossible date", with_header("2020-02-30,1,2,0.5,1.5,10\n"), "bad.csv:3:1: ", "bad timestamp '2020-02-30': no such date"),
        case("mixed date formats", with_header("01/02/2020,1,2,0.5,1.5,10\n"), "bad.csv:3:1: ", "mixed date formats: '01/02/2020' looks like D/M/YYYY or M/D/YYYY [time], but line 2 was YYYY-MM-DD [time]"),
        case("mixed zone and naive", with_header("2020-01-02T00:00:00Z,1,2,0.5,1.5,10\n"), "bad.csv:3:1: ", "mixed date formats: this timestamp is with a zone"),
        case("ambiguous day/month", "date,o,h,l,c\n01/02/2020,1,2,0.5,1.5\n03/04/2020,1,2,0.5,1.5\n", "bad.csv:2:1: ", "ambiguous dates"),
        case("day-first and month-first mixed", "date,o,h,l,c\n13/01/2020,1,2,0.5,1.5\n01/14/2020,1,2,0.5,1.5\n", "bad.csv:3:1: ", "month-first here but day-first on line 2"),
        case("no delimiter", "t o h l c\n2020-01-01 1 2 0.5 1.5\n", "bad.csv:1: ", "cannot split lines into columns"),
        case("10,000-column header", wide_header, "bad.csv:1: ", "10000 columns; at most 1024"),
        case("10,000-column row", with_header(&wide_row), "bad.csv:3: ", "10000 field(s), expected 6"),
        case("10 MB line", long_line, "bad.csv:3: ", "line is longer than 1 MiB"),
        case("invalid UTF-8 number", with_header("2020-01-02,1,\u{FFFD}2,0.5,1.5,10\n").replace('\u{FFFD}', "\u{1}").into_bytes().into_iter().map(|b| if b == 1 { 0xFF } else { b }).collect::<Vec<u8>>(), "bad.csv:3:3: ", "is not a number"),
        case("headerless, 7 columns", "20200101,1,2,0.5,1.5,10,3\n", "bad.csv:1: ", "name them with --columns"),
        case("empty symbol", "timestamp,symbol,open,high,low,close\n2020-01-01,,1,2,0.5,1.5\n", "bad.csv:2:2: ", "empty symbol (column 'symbol')"),
        case("duplicate within one symbol", "timestamp,symbol,open,high,low,close\n2020-01-01,A,1,2,0.5,1.5\n2020-01-01,B,1,2,0.5,1.5\n2020-01-01,A,1,2,0.5,1.7\n", "bad.csv:4:1: ", "A: duplicate timestamp"),
        case("epoch of the wrong size", "t,o,h,l,c\n12345,1,2,0.5,1.5\n", "bad.csv:2:1: ", "unrecognised timestamp '12345'"),
    ];
    let mut forced = case(
        "wrong delimiter given",
        with_header(""),
        "bad.csv:1: ",
        "with delimiter ';' lines have only 1 field(s)",
    );
    forced.opts.delimiter = Some(b';');
    v.push(forced);
    let mut dst = case(
        "local time skipped by DST",
        "t,o,h,l,c\n2020-03-08 02:30,1,2,0.5,1.5\n",
        "bad.csv:2:1: ",
        "does not exist in America/New_York",
    );
    dst.opts.tz = Some(chrono_tz::Tz::America__New_York);
    v.push(dst);
    v
}

#[test]
fn every_bad_input_is_refused_with_its_location() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for c in cases {
        let got = std::panic::catch_unwind(|| read_bytes("bad.csv", &c.input, &c.opts));
        let msg = match got {
            Err(_) => format!("{}: PANICKED", c.name),
            Ok(Ok(ds)) => format!("{}: accepted ({} rows)", c.name, ds.panel.rows()),
            Ok(Err(DataError::Invalid { problems, .. })) => {
                let first = problems
                    .first()
                    .map(|p| p.display_in("bad.csv"))
                    .unwrap_or_default();
                if first.starts_with(c.at) && first.contains(c.says) {
                    continue;
                }
                format!(
                    "{}:\n  expected {:?} ... {:?}\n  got      {first:?}",
                    c.name, c.at, c.says
                )
            }
            Ok(Err(e)) => format!("{}: unexpected error kind: {e}", c.name),
        };
        failures.push(msg);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn problems_are_capped_and_counted() {
    let rows: String = (2..100)
        .map(|d| format!("2020-01-01 00:{:02}:{:02},x,2,0.5,1.5,1\n", d / 60, d % 60))
        .collect();
    let Err(DataError::Invalid {
        problems, total, ..
    }) = read_bytes(
        "bad.csv",
        with_header(&rows).as_bytes(),
        &ReadOptions::default(),
    )
    else {
        panic!("accepted")
    };
    assert_eq!((problems.len(), total), (20, 98));
}

#[test]
fn columns_flag_must_match_the_file() {
    let opts = ReadOptions {
        columns: Some(vec!["timestamp"
            .parse()
            .map_err(|e: String| e)
            .unwrap_or(candlecast_data::Role::Skip)]),
        ..ReadOptions::default()
    };
    let got = read_bytes("bad.csv", with_header("").as_bytes(), &opts);
    assert!(
        matches!(got, Err(DataError::Usage(m)) if m.contains("--columns names 1 column(s) but the file has 6"))
    );
}
