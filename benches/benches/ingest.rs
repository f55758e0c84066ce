//! Ingest benchmark (issue 3): `candlecast_data::read_path` (read + full validation)
//! against a bare polars CSV read (no schema, no date parsing, no validation) of the
//! same file, the EURUSD 1-minute HistData export for 2017 H1 (186,348 rows).
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench ingest`. When the shared data
//! file is missing the bench prints a note and measures nothing.

use candlecast_data::{read_path, ReadOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use polars::prelude::{CsvReadOptions, DataFrame, PolarsResult, SerReader};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/eurusd_1m_histdata_2017h1.csv"
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
    #[cfg(feature = "parquet")]
    parquet::bench(&mut group, path, &opts);
    group.finish();
}

/// The same file as Parquet (feature `parquet`): `read_path` (lazy scan of the six
/// columns + the CSV reader's validation) against a bare polars lazy scan of it.
/// The Parquet copy is written by polars at bench time under target/ (the data is
/// not ours to commit).
#[cfg(feature = "parquet")]
mod parquet {
    use super::*;
    use criterion::{measurement::WallTime, BenchmarkGroup};
    use polars::prelude::*;

    fn convert(csv: &Path) -> PolarsResult<PathBuf> {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("eurusd_1m_2017h1.parquet");
        let mut df = CsvReadOptions::default()
            .with_has_header(true)
            .with_parse_options(CsvParseOptions::default().with_try_parse_dates(true))
            .try_into_reader_with_file_path(Some(PathBuf::from(csv)))?
            .finish()?;
        let mut f = std::fs::File::create(&out)?;
        ParquetWriter::new(&mut f).finish(&mut df)?;
        Ok(out)
    }

    fn polars_scan(path: &Path) -> PolarsResult<DataFrame> {
        LazyFrame::scan_parquet(
            PlRefPath::new(path.to_string_lossy().as_ref()),
            ScanArgsParquet::default(),
        )?
        .collect()
    }

    pub(super) fn bench(group: &mut BenchmarkGroup<'_, WallTime>, csv: &Path, opts: &ReadOptions) {
        let pq = match convert(csv) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("ingest bench: writing the Parquet copy failed: {e}");
                return;
            }
        };
        if let Err(e) = read_path(&pq, opts) {
            eprintln!("ingest bench: read_path of the Parquet copy failed: {e}");
            return;
        }
        group.bench_function("candlecast_read_path_parquet", |b| {
            b.iter(|| black_box(read_path(black_box(&pq), opts)))
        });
        group.bench_function("polars_bare_scan_parquet", |b| {
            b.iter(|| black_box(polars_scan(black_box(&pq))))
        });
    }
}

criterion_group!(benches, ingest);
criterion_main!(benches);
