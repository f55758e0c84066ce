//! Parquet and Arrow IPC (Feather v2) files, through polars' lazy scan (feature
//! `parquet`).
//!
//! polars rather than a reader of our own: Parquet is a large format (page
//! encodings, dictionary and RLE/bit-packed levels, five compression codecs,
//! nested schemas, logical types) whose decoders are most of the work and most of
//! the risk, and the design already names polars. The lazy scan takes only the
//! columns the layout uses (projection pushdown), so a wide file costs what its
//! six columns cost.
//!
//! The columns are mapped by name exactly like a CSV header (same synonyms, same
//! `--columns`), and every row goes through the CSV reader's row check and
//! `finish` unchanged, so validation, `--repair` and messages are the same; typed
//! timestamps and numbers are handed over as values instead of being printed and
//! parsed again. A problem is placed as `row N, column 'x'` (1-based data row),
//! since a binary file has no lines.

use super::columns::{Layout, Role, TsSource};
use super::finish::finish;
use super::rows::{Problems, Record, Rows};
use super::scanner::Scanner;
use super::sniff::Dialect;
use super::time::Stamp;
use super::ReadOptions;
use crate::error::{DataError, Problem};
use crate::read::Dataset;
use polars::prelude::*;
use std::sync::Arc;

/// The two binary table formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Parquet,
    Ipc,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::Ipc => "Arrow IPC",
        }
    }
}

/// The format of a file that starts with `prefix`, by magic bytes (`PAR1`,
/// `ARROW1`), whatever the file is called.
pub(crate) fn format_of(prefix: &[u8]) -> Option<Format> {
    if prefix.starts_with(b"PAR1") {
        Some(Format::Parquet)
    } else if prefix.starts_with(b"ARROW1") {
        Some(Format::Ipc)
    } else {
        None
    }
}

/// Reads an open file. The whole file is read into memory first: its footer and
/// headers are checked ([`super::parquet_check`], [`super::ipc_check`]) before
/// polars sees it, and polars then scans the same bytes instead of reading the
/// file again.
pub(crate) fn read_file(
    name: &str,
    mut file: std::fs::File,
    format: Format,
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|err| DataError::Io {
        path: name.to_string(),
        err,
    })?;
    read_owned(name, bytes, format, opts)
}

/// Reads a file held in memory.
pub(crate) fn read_buffer(
    name: &str,
    bytes: &[u8],
    format: Format,
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    read_owned(name, bytes.to_vec(), format, opts)
}

fn read_owned(
    name: &str,
    bytes: Vec<u8>,
    format: Format,
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    let checked = match format {
        Format::Parquet => super::parquet_check::check(&bytes),
        Format::Ipc => super::ipc_check::check(&bytes),
    };
    if let Err(m) = checked {
        let msg = format!("not a readable {} file: {m}", format.name());
        return Err(DataError::one(name, Problem::file(msg)));
    }
    let buf = polars_buffer::Buffer::from(bytes);
    read(name, ScanSources::Buffers(Arc::from([buf])), format, opts)
}

/// One column as the row check sees it.
enum Col {
    /// Not read (a column the layout ignores).
    Absent,
    /// Text, checked and parsed like a CSV field.
    Text(StringChunked),
    /// Numbers (any integer or float type), handed over as values.
    Num(Float64Chunked),
    /// A typed timestamp column, converted to stamps up front.
    Stamp(Vec<Option<Stamp>>),
    /// A date column printed as `YYYY-MM-DD`, for a separate date + time layout.
    Owned(Vec<Option<String>>),
}

struct Row<'c> {
    cols: &'c [Col],
    ts: Option<usize>,
    i: usize,
}

impl Record for Row<'_> {
    fn len(&self) -> usize {
        self.cols.len()
    }
    fn field(&self, c: usize) -> &[u8] {
        match self.cols.get(c) {
            Some(Col::Text(s)) => s.get(self.i).map(str::as_bytes).unwrap_or_default(),
            Some(Col::Owned(v)) => v
                .get(self.i)
                .and_then(|s| s.as_deref())
                .map(str::as_bytes)
                .unwrap_or_default(),
            // A null number or stamp: the empty field gives "empty value".
            _ => b"",
        }
    }
    fn stamp(&self) -> Option<Stamp> {
        match self.cols.get(self.ts?) {
            Some(Col::Stamp(v)) => v.get(self.i).copied().flatten(),
            _ => None,
        }
    }
    fn number(&self, c: usize) -> Option<f64> {
        match self.cols.get(c) {
            Some(Col::Num(v)) => v.get(self.i),
            _ => None,
        }
    }
}

/// Epoch milliseconds of an integer epoch, its unit told by magnitude as for the
/// CSV reader's epoch numbers (seconds up to 1e11, i.e. year 5138; then
/// milliseconds, microseconds, nanoseconds).
fn epoch_ms(v: i64) -> Option<i64> {
    let a = v.unsigned_abs();
    if a < 100_000_000_000 {
        v.checked_mul(1000)
    } else if a < 100_000_000_000_000 {
        Some(v)
    } else if a < 100_000_000_000_000_000 {
        Some(v.div_euclid(1000))
    } else {
        Some(v.div_euclid(1_000_000))
    }
}

/// A polars error as a whole-file problem.
fn unreadable(name: &str, format: Format, e: PolarsError) -> DataError {
    DataError::one(
        name,
        Problem::file(format!("not a readable {} file: {e}", format.name())),
    )
}

/// "line 12" in a message of the shared row check becomes "row 12".
fn lines_to_rows(msg: &str) -> String {
    msg.replace(" line ", " row ")
}

/// Problems placed by row rather than line: `row N, column 'x': message`.
fn by_row(e: DataError) -> DataError {
    match e {
        DataError::Invalid {
            path,
            problems,
            total,
        } => DataError::Invalid {
            path,
            problems: problems
                .into_iter()
                .map(|p| {
                    let msg = lines_to_rows(&p.message);
                    let at = match (p.line, &p.column) {
                        (Some(r), Some(c)) => format!("row {r}, column '{}': ", c.name),
                        (Some(r), None) => format!("row {r}: "),
                        (None, Some(c)) => format!("column '{}': ", c.name),
                        (None, None) => String::new(),
                    };
                    Problem::file(format!("{at}{msg}"))
                })
                .collect(),
            total,
        },
        e => e,
    }
}

fn read(
    name: &str,
    sources: ScanSources,
    format: Format,
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    // polars can panic on a corrupt file where it should return an error; the
    // reader is reached from user input, so a panic is turned into a refusal.
    let opts_c = opts.clone();
    let name_c = name.to_string();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        read_inner(&name_c, sources, format, &opts_c)
    })) {
        Ok(r) => r.map_err(by_row),
        Err(_) => Err(DataError::one(
            name,
            Problem::file(format!(
                "not a readable {} file: the decoder failed on it (corrupt or truncated?)",
                format.name()
            )),
        )),
    }
}

fn read_inner(
    name: &str,
    sources: ScanSources,
    format: Format,
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    let err = |e| unreadable(name, format, e);
    let mut lf = scan(sources, format).map_err(err)?;
    let schema = lf.collect_schema().map_err(err)?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let dtypes: Vec<DataType> = schema.iter_values().cloned().collect();
    let layout = layout_of(name, &names, opts)?;
    let mut notes = layout.notes.clone();
    if !layout.ignored.is_empty() {
        notes.push(format!("ignored column(s): {}", layout.ignored.join(", ")));
    }

    // The columns the layout uses: only these are read.
    let used = used_columns(&layout);
    let exprs: Vec<Expr> = used
        .iter()
        .filter_map(|&i| names.get(i).map(|n| col(n.as_str())))
        .collect();
    let df = lf.select(exprs).collect().map_err(err)?;

    let ts_single = match layout.ts {
        TsSource::Single(i) => Some(i),
        TsSource::Split { .. } => None,
    };
    let mut cols: Vec<Col> = (0..names.len()).map(|_| Col::Absent).collect();
    for &i in &used {
        let (Some(n), Some(dt)) = (names.get(i), dtypes.get(i)) else {
            continue;
        };
        let s = df
            .column(n.as_str())
            .map_err(err)?
            .as_materialized_series()
            .rechunk();
        let role = if ts_single == Some(i) {
            Role::Timestamp
        } else if layout.symbol == Some(i) {
            Role::Symbol
        } else {
            Role::Open
        };
        let c = to_col(&s, dt, role, &mut notes).map_err(|e| match e {
            ColError::Polars(e) => err(e),
            ColError::Kind(what) => DataError::one(
                name,
                Problem::file(format!("column '{n}': {what}, of type {dt}")),
            ),
        })?;
        if let Some(slot) = cols.get_mut(i) {
            *slot = c;
        }
    }
    let mut ds = scan_rows(name, opts, &layout, notes, &cols, ts_single, df.height())?;
    ds.notes.push(format!(
        "{} file: {} of {} column(s) read; problems and repairs are numbered by data row",
        format.name(),
        used.len(),
        names.len()
    ));
    Ok(ds)
}

/// polars' lazy scan of one file (never a dataset: no hive partitions, which
/// polars refuses for in-memory buffers, and no globbing of the name).
fn scan(sources: ScanSources, format: Format) -> PolarsResult<LazyFrame> {
    let hive = HiveOptions {
        enabled: Some(false),
        ..HiveOptions::default()
    };
    match format {
        Format::Parquet => LazyFrame::scan_parquet_sources(
            sources,
            ScanArgsParquet {
                hive_options: hive,
                glob: false,
                ..ScanArgsParquet::default()
            },
        ),
        Format::Ipc => LazyFrame::scan_ipc_sources(
            sources,
            IpcScanOptions::default(),
            UnifiedScanArgs {
                hive_options: hive,
                glob: false,
                ..UnifiedScanArgs::default()
            },
        ),
    }
}

/// The columns' roles, from `--columns` or from the names as for a CSV header.
fn layout_of(name: &str, names: &[String], opts: &ReadOptions) -> Result<Layout, DataError> {
    match &opts.columns {
        Some(roles) if roles.len() != names.len() => {
            return Err(DataError::Usage(format!(
                "{name}: --columns names {} column(s) but the file has {}",
                roles.len(),
                names.len()
            )))
        }
        Some(roles) => Layout::from_roles(
            &roles.iter().map(|&r| Some(r)).collect::<Vec<_>>(),
            names.to_vec(),
        ),
        None => Layout::from_header(names),
    }
    .map_err(|m| DataError::one(name, Problem::file(m)))
}

/// Indices of the columns the layout reads, ascending.
fn used_columns(layout: &Layout) -> Vec<usize> {
    let mut used: Vec<usize> = match layout.ts {
        TsSource::Single(i) => vec![i],
        TsSource::Split { date, time } => vec![date, time],
    };
    used.extend([layout.open, layout.high, layout.low, layout.close]);
    used.extend(layout.volume);
    used.extend(layout.symbol);
    used.sort_unstable();
    used.dedup();
    used
}

/// Why a column could not be taken: polars failed, or its type does not fit its
/// role (the text says what was expected).
enum ColError {
    Polars(PolarsError),
    Kind(&'static str),
}

impl From<PolarsError> for ColError {
    fn from(e: PolarsError) -> ColError {
        ColError::Polars(e)
    }
}

/// One column as the row check reads it: text stays text, numbers become f64,
/// typed timestamps become stamps (a note when they carry a zone).
fn to_col(s: &Series, dt: &DataType, role: Role, notes: &mut Vec<String>) -> Result<Col, ColError> {
    Ok(match (dt, role) {
        (DataType::String, _) => Col::Text(s.str()?.clone()),
        (_, Role::Symbol) => {
            let t = s.cast(&DataType::String)?;
            Col::Text(t.str()?.clone())
        }
        (DataType::Datetime(unit, tz), Role::Timestamp) => {
            if let Some(tz) = tz {
                notes.push(format!(
                    "timestamps in zone {tz} read as their UTC instants"
                ));
            }
            datetime_col(s, *unit, tz.is_some())?
        }
        (DataType::Date, Role::Timestamp) => {
            let phys = s.to_physical_repr();
            Col::Stamp(
                phys.i32()?
                    .iter()
                    .map(|d| d.map(|d| Stamp::Naive(i64::from(d) * 86_400_000)))
                    .collect(),
            )
        }
        (dt, Role::Timestamp) if dt.is_integer() => {
            let t = s.cast(&DataType::Int64)?;
            Col::Stamp(
                t.i64()?
                    .iter()
                    .map(|x| {
                        x.and_then(epoch_ms).map(|utc_ms| Stamp::Aware {
                            utc_ms,
                            offset_secs: 0,
                        })
                    })
                    .collect(),
            )
        }
        (DataType::Date, _) => {
            // One half of a date + time pair: printed, joined and parsed as text.
            let phys = s.to_physical_repr();
            Col::Owned(
                phys.i32()?
                    .iter()
                    .map(|d| {
                        d.and_then(|d| {
                            chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0)
                                .map(|t| t.format("%Y-%m-%d").to_string())
                        })
                    })
                    .collect(),
            )
        }
        (_, Role::Timestamp) => {
            return Err(ColError::Kind(
                "not a timestamp (expected a datetime, date, integer epoch or text column)",
            ))
        }
        (dt, _) if dt.is_primitive_numeric() => {
            let t = s.cast(&DataType::Float64)?;
            Col::Num(t.f64()?.clone())
        }
        _ => return Err(ColError::Kind("not numbers")),
    })
}

/// A datetime column as stamps in milliseconds: UTC instants when it has a zone,
/// naive wall-clock times (placed by `--tz`) when not.
fn datetime_col(s: &Series, unit: TimeUnit, zoned: bool) -> PolarsResult<Col> {
    let div = match unit {
        TimeUnit::Milliseconds => 1,
        TimeUnit::Microseconds => 1_000,
        TimeUnit::Nanoseconds => 1_000_000,
    };
    let phys = s.to_physical_repr();
    let stamp = |x: i64| {
        let ms = x.div_euclid(div);
        if zoned {
            Stamp::Aware {
                utc_ms: ms,
                offset_secs: 0,
            }
        } else {
            Stamp::Naive(ms)
        }
    };
    Ok(Col::Stamp(
        phys.i64()?.iter().map(|x| x.map(stamp)).collect(),
    ))
}

/// Every row through the CSV reader's row check and `finish`, so validation,
/// `--repair` and messages are the same as for a CSV file.
fn scan_rows(
    name: &str,
    opts: &ReadOptions,
    layout: &Layout,
    mut notes: Vec<String>,
    cols: &[Col],
    ts: Option<usize>,
    n: usize,
) -> Result<Dataset, DataError> {
    let typed_ts = cols.iter().any(|c| matches!(c, Col::Stamp(_)));
    if typed_ts && opts.date_format.is_some() {
        notes.push("--date-format ignored: the timestamp column is typed".into());
    }
    // A typed timestamp column is not parsed, so --date-format must not set the
    // shape the text parser would use.
    let scan_opts;
    let opts_for_scan = if typed_ts {
        scan_opts = ReadOptions {
            date_format: None,
            ..opts.clone()
        };
        &scan_opts
    } else {
        if let Some(super::DateFormat::Strftime(p)) = &opts.date_format {
            super::time::check_pattern(p).map_err(DataError::Usage)?;
        }
        opts
    };
    let mut sc = Scanner::new(layout, opts_for_scan);
    let mut rows = Rows::with_capacity(n, layout.symbol.is_some());
    let mut problems = Problems::new(opts.max_problems);
    for i in 0..n {
        sc.row(&Row { cols, ts, i }, i as u64 + 1, &mut rows, &mut problems);
    }
    let dialect = Dialect {
        delimiter: b',',
        ncols: layout.ncols,
        header: None,
        data_offset: 0,
        data_line: 1,
        preamble_lines: 0,
        line_bytes: 0,
    };
    let scanned = sc.into_scanned(rows, problems);
    let mut ds = finish(name, &dialect, opts_for_scan, layout, notes, scanned)?;
    for note in &mut ds.notes {
        *note = lines_to_rows(note);
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{read_bytes, read_path};
    use crate::Series;

    const CSV: &str = "timestamp,open,high,low,close,volume\n\
        2020-01-01 00:00:00,1,2,0.5,1.5,10\n\
        2020-01-01 01:00:00,1.5,2,1,1.8,12\n\
        2020-01-01 02:00:00,1.8,2.1,1.7,2,9\n";
    const MS: [i64; 3] = [1_577_836_800_000, 1_577_840_400_000, 1_577_844_000_000];

    /// The CSV above as a polars frame, with an extra column that must not be read.
    fn frame(ts: Column) -> PolarsResult<DataFrame> {
        DataFrame::new_infer_height(vec![
            ts,
            Column::new("Open".into(), [1.0, 1.5, 1.8]),
            Column::new("HIGH".into(), [2.0, 2.0, 2.1]),
            Column::new("low".into(), [0.5, 1.0, 1.7]),
            Column::new("close".into(), [1.5, 1.8, 2.0]),
            Column::new("volume".into(), [10i64, 12, 9]),
            Column::new("comment".into(), ["a", "b", "c"]),
        ])
    }

    fn ms_column(name: &str, unit: TimeUnit, tz: Option<TimeZone>) -> PolarsResult<Column> {
        let k = match unit {
            TimeUnit::Milliseconds => 1,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Nanoseconds => 1_000_000,
        };
        Column::new(name.into(), MS.map(|m| m * k)).cast(&DataType::Datetime(unit, tz))
    }

    fn bytes(df: &mut DataFrame, format: Format) -> PolarsResult<Vec<u8>> {
        let mut out = Vec::new();
        match format {
            Format::Parquet => {
                ParquetWriter::new(&mut out).finish(df)?;
            }
            Format::Ipc => IpcWriter::new(&mut out).finish(df)?,
        }
        Ok(out)
    }

    fn same_bars(a: &Series, b: &Series) {
        assert_eq!(a.len(), b.len());
        for i in 0..a.len() {
            assert_eq!(a.bar(i), b.bar(i), "bar {i}");
        }
    }

    #[test]
    fn parquet_and_ipc_files_read_the_same_bars_as_the_csv(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let csv = read_bytes("a.csv", CSV.as_bytes(), &ReadOptions::default())?;
        let dir = tempfile::tempdir()?;
        for format in [Format::Parquet, Format::Ipc] {
            let mut df = frame(ms_column("Date", TimeUnit::Microseconds, None)?)?;
            let path = dir.path().join("a.bin");
            std::fs::write(&path, bytes(&mut df, format)?)?;
            let ds = read_path(&path, &ReadOptions::default())?;
            same_bars(&ds.panel.series[0], &csv.panel.series[0]);
            assert!(
                ds.notes.iter().any(|n| n.contains("6 of 7 column(s) read")),
                "{:?}",
                ds.notes
            );
        }
        Ok(())
    }

    #[test]
    fn every_timestamp_type_reads_the_same_instants() -> Result<(), Box<dyn std::error::Error>> {
        let tz = TimeZone::opt_try_new(Some("UTC"))?;
        for ts in [
            ms_column("time", TimeUnit::Nanoseconds, None)?,
            ms_column("time", TimeUnit::Milliseconds, tz)?,
            Column::new("time".into(), MS.map(|m| m / 1000)),
            Column::new("time".into(), MS),
            Column::new(
                "time".into(),
                ["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:00"],
            ),
        ] {
            let what = format!("{:?}", ts.dtype());
            let b = bytes(&mut frame(ts)?, Format::Parquet)?;
            let ds = read_bytes("t.parquet", &b, &ReadOptions::default())?;
            let got: Vec<i64> = ds.panel.series[0]
                .timestamps()
                .iter()
                .map(|t| t.0)
                .collect();
            assert_eq!(got, MS, "{what}");
        }
        // A date column: daily bars at midnight.
        let days = Column::new("date".into(), [18262i32, 18263, 18264]).cast(&DataType::Date)?;
        let b = bytes(&mut frame(days)?, Format::Parquet)?;
        let ds = read_bytes("d.parquet", &b, &ReadOptions::default())?;
        assert_eq!(ds.panel.series[0].first_ts().map(|t| t.0), Some(MS[0]));
        Ok(())
    }

    fn problems(df: &mut DataFrame) -> Result<String, Box<dyn std::error::Error>> {
        let b = bytes(df, Format::Parquet)?;
        match read_bytes("f.parquet", &b, &ReadOptions::default()) {
            Err(e) => Ok(e.to_string()),
            Ok(_) => Err("read".into()),
        }
    }

    #[test]
    fn bad_files_are_refused_by_row_and_column() -> Result<(), Box<dyn std::error::Error>> {
        let ts = || ms_column("timestamp", TimeUnit::Milliseconds, None);
        let mut df = frame(ts()?)?.drop("close")?;
        let msg = problems(&mut df)?;
        assert!(msg.contains("close"), "{msg}");

        let mut df = frame(ts()?)?;
        df.replace(
            "HIGH",
            Column::new("HIGH".into(), [Some(2.0), None, Some(2.1)]),
        )?;
        assert_eq!(
            problems(&mut df)?,
            "f.parquet: row 2, column 'HIGH': empty value"
        );

        let mut df = frame(ts()?)?;
        df.replace("low", Column::new("low".into(), ["0.5", "1", "x"]))?;
        assert_eq!(
            problems(&mut df)?,
            "f.parquet: row 3, column 'low': 'x' is not a number"
        );

        let mut df = frame(ts()?)?;
        df.replace("low", Column::new("low".into(), [true, false, true]))?;
        let msg = problems(&mut df)?;
        assert!(msg.contains("column 'low': not numbers"), "{msg}");

        let mut df = frame(Column::new("timestamp".into(), [MS[0], MS[0], MS[2]]))?;
        let msg = problems(&mut df)?;
        assert!(msg.contains("row 2") && msg.contains("row 1"), "{msg}");

        let mut df = frame(ts()?)?;
        df.replace("low", Column::new("low".into(), [0.5, 1.9, 1.7]))?;
        let msg = problems(&mut df)?;
        assert!(
            msg.starts_with("f.parquet: row 2, column 'low': low 1.9 is above"),
            "{msg}"
        );
        let b = bytes(&mut df, Format::Parquet)?;
        let opts = ReadOptions {
            repair: "ohlc".parse()?,
            ..ReadOptions::default()
        };
        let ds = read_bytes("f.parquet", &b, &opts)?;
        assert_eq!(ds.repairs.iter().map(|r| r.line).collect::<Vec<_>>(), [2]);

        for junk in [&b"PAR1"[..], b"PAR1\x15\x04\x15", b"ARROW1\0\0garbage"] {
            match read_bytes("j.parquet", junk, &ReadOptions::default()) {
                Err(e) => assert!(e.to_string().contains("not a readable"), "{e}"),
                Ok(_) => return Err("junk read".into()),
            }
        }
        Ok(())
    }

    #[test]
    fn epoch_units_by_magnitude() {
        let ms = 1_514_764_800_000i64;
        assert_eq!(epoch_ms(ms / 1000), Some(ms));
        assert_eq!(epoch_ms(ms), Some(ms));
        assert_eq!(epoch_ms(ms * 1000), Some(ms));
        assert_eq!(epoch_ms(ms * 1_000_000), Some(ms));
        assert_eq!(epoch_ms(-86_400), Some(-86_400_000));
    }

    #[test]
    fn problems_are_placed_by_row_and_column() {
        let e = DataError::invalid(
            "f.parquet",
            vec![Problem::at(
                3,
                Some(crate::error::ColumnRef {
                    index: 2,
                    name: "high".into(),
                }),
                "empty value",
            )],
            1,
        );
        assert_eq!(
            by_row(e).to_string(),
            "f.parquet: row 3, column 'high': empty value"
        );
    }
}
