//! Ingest benchmark (issue 3): `candlecast_data::read_path` (read + full validation)
//! against a bare polars CSV read (no schema, no date parsing, no validation) of the
//! same file, the EURUSD 1-minute HistData export for 2017 H1 (186,348 rows).
//!
//! Run with `cargo bench -p candlecast-data --bench ingest`. When the shared data
//! file is missing the bench prints a note and measures nothing.

use candlecast_data::{read_path, ReadOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use polars::prelude::{CsvReadOptions, DataFrame, PolarsResult, SerReader};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/eurusd_1m_histdata_2017h1.csv"
);

/// A bare polars read: header row, column types inferred, timestamp left a String.
fn polars_read(path: &Path) -> PolarsResult<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))?
        .finish()
}

fn ingest(c: &mut Criterion) {
    let path = Path::new(DATA);
    if !path.is_file() {
        eprintln!(
            "ingest bench: {} not found; nothing measured",
            path.display()
        );
        return;
    }
    let opts = ReadOptions::default();

    // One checked read of each first: the timed loops only black-box the results,
    // so a failure has to show up here rather than as a fast error path.
    let rows = match read_path(path, &opts) {
        Ok(ds) => match ds.panel.series.first() {
            Some(s) => s.len(),
            None => {
                eprintln!("ingest bench: read_path returned no series; nothing measured");
                return;
            }
        },
        Err(e) => {
            eprintln!("ingest bench: read_path failed: {e}; nothing measured");
            return;
        }
    };
    match polars_read(path) {
        Ok(df) if df.height() == rows => {}
        Ok(df) => {
            eprintln!(
                "ingest bench: polars read {} rows but read_path {rows}; nothing measured",
                df.height()
            );
            return;
        }
        Err(e) => {
            eprintln!("ingest bench: polars read failed: {e}; nothing measured");
            return;
        }
    }

    let mut group = c.benchmark_group("ingest_eurusd_1m_2017h1");
    group.throughput(Throughput::Elements(rows as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("candlecast_read_path", |b| {
        b.iter(|| black_box(read_path(black_box(path), &opts)))
    });
    group.bench_function("polars_bare_read", |b| {
        b.iter(|| black_box(polars_read(black_box(path))))
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
