#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests may fail loudly
//! Write -> read gives back the same series, bit for bit, in every dialect the
//! reader accepts.

use candlecast_data::{
    read_bytes, write_panel, write_series, Bar, Panel, ReadOptions, Series, SourceZone, Timestamp,
};
use proptest::prelude::*;

fn bars() -> impl Strategy<Value = Vec<Bar>> {
    (
        0i64..4_000_000_000_000,
        prop::collection::vec(
            (
                1i64..86_400_000,
                1e-6f64..1e6,
                0.5f64..2.0,
                0f64..0.1,
                0f64..0.1,
                0f64..1e12,
            ),
            1..120,
        ),
    )
        .prop_map(|(start, steps)| {
            let mut t = start;
            steps
                .into_iter()
                .map(|(dt, open, ratio, up, down, volume)| {
                    t += dt;
                    let close = open * ratio;
                    Bar {
                        ts: Timestamp(t),
                        open,
                        high: open.max(close) * (1.0 + up),
                        low: open.min(close) * (1.0 - down),
                        close,
                        volume,
                    }
                })
                .collect()
        })
}

/// Rewrites normalised CSV text in another dialect the reader must accept.
fn redialect(text: &str, delim: char, crlf: bool, newest_first: bool, header_case: bool) -> String {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.replace(',', &delim.to_string()))
        .collect();
    if header_case {
        lines[0] = lines[0].to_uppercase();
    }
    if newest_first {
        lines[1..].reverse();
    }
    let eol = if crlf { "\r\n" } else { "\n" };
    lines.join(eol) + eol
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn series_round_trips(bars in bars(), delim in prop::sample::select(vec![',', ';', '\t', '|']),
                          crlf: bool, newest_first: bool, header_case: bool) {
        let s = Series::from_bars(None, SourceZone::Utc, &bars).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut buf = Vec::new();
        write_series(&mut buf, &s).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = redialect(&String::from_utf8_lossy(&buf), delim, crlf, newest_first && bars.len() > 1, header_case);
        let ds = read_bytes("rt.csv", text.as_bytes(), &ReadOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ds.panel.series.len(), 1);
        prop_assert_eq!(&ds.panel.series[0], &s);
    }

    #[test]
    fn panel_round_trips(a in bars(), b in bars()) {
        let mk = |sym: &str, bars: &[Bar]| Series::from_bars(Some(sym.to_string()), SourceZone::Utc, bars);
        let p = Panel { series: vec![
            mk("AAA", &a).map_err(|e| TestCaseError::fail(e.to_string()))?,
            mk("BBB/USD", &b).map_err(|e| TestCaseError::fail(e.to_string()))?,
        ] };
        let mut buf = Vec::new();
        write_panel(&mut buf, &p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ds = read_bytes("rt.csv", &buf, &ReadOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ds.panel, p);
    }

    /// Whatever the bytes, reading returns (never panics), and what it accepts is valid.
    #[test]
    fn arbitrary_text_never_panics(text in "[0-9a-zA-Z,;:./ \\-\n\r\"]{0,400}") {
        if let Ok(ds) = read_bytes("any.csv", text.as_bytes(), &ReadOptions::default()) {
            for s in &ds.panel.series {
                prop_assert!(s.bars().all(|b| b.check().is_ok()));
                prop_assert!(s.timestamps().windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}

#[test]
fn repairs_report_every_row_they_touch() -> Result<(), candlecast_data::DataError> {
    let text = "timestamp,open,high,low,close\n\
                2020-01-02,1,2,0.5,1.5\n\
                2020-01-01,1,2,0.5,1.5\n\
                2020-01-03,1,2,0.5,1.5\n\
                2020-01-03,1,2,0.5,1.5\n";
    let opts = ReadOptions {
        repair: "sort,dedupe"
            .parse()
            .map_err(candlecast_data::DataError::Usage)?,
        ..ReadOptions::default()
    };
    let ds = read_bytes("r.csv", text.as_bytes(), &opts)?;
    assert_eq!(ds.panel.series[0].len(), 3);
    let lines: Vec<(u64, String)> = ds
        .repairs
        .iter()
        .map(|r| (r.line, format!("{:?}", r.action)))
        .collect();
    assert_eq!(
        lines,
        vec![
            (2, "Sorted".to_string()),
            (3, "Sorted".to_string()),
            (5, "DroppedDuplicate { of_line: 4 }".to_string())
        ]
    );
    Ok(())
}

#[test]
fn preamble_newest_first_and_split_date_time() -> Result<(), candlecast_data::DataError> {
    let text = "Data from somewhere.com\r\n<DATE>;<TIME>;<OPEN>;<HIGH>;<LOW>;<CLOSE>;<VOL>\r\n\
                2020.01.02;10:00:00;1;2;0.5;1.5;3\r\n2020.01.02;09:00:00;1;2;0.5;1.5;3\r\n";
    let ds = read_bytes("p.csv", text.as_bytes(), &ReadOptions::default())?;
    let s = &ds.panel.series[0];
    assert_eq!(
        s.first_ts().map(|t| t.to_rfc3339()),
        Some("2020-01-02T09:00:00Z".into())
    );
    assert!(ds.notes.iter().any(|n| n.contains("1 preamble line")));
    assert!(ds.notes.iter().any(|n| n.contains("newest-first")));
    Ok(())
}
