//! Reading OHLCV CSV files into validated series.
//!
//! One streaming pass with the `csv` crate over the file after a dialect sniff of
//! its first lines. The csv crate gives the exact line of every record, which is
//! what makes "line 4, column 3" errors possible; values go straight into column
//! vectors that become the [`Series`] without another copy. Large quote-free files
//! are read on several threads with the same result (see [`parallel`]).

mod columns;
mod compressed;
mod json;
mod parallel;
#[cfg(feature = "parquet")]
mod parquet;
mod sniff;
mod time;

pub use columns::Role;
pub use sniff::{MAX_COLUMNS, MAX_LINE_BYTES};
pub use time::{DateFormat, DateOrder};

use crate::bar::{check_input_values, BarField, BarViolation, Timestamp};
use crate::error::{ColumnRef, DataError, Problem};
use crate::series::{Panel, Series, SourceZone};
use columns::{Layout, TsSource};
use sniff::Dialect;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use time::{Shape, Stamp};

/// The file names a directory given as input is read for (case ignored): plain
/// text, JSON candles, each compressed with gzip or zstd, and (feature `parquet`)
/// Parquet and Arrow IPC. Files themselves are recognised by content, whatever
/// their name.
pub const INPUT_EXTENSIONS: &[&str] = &[
    ".csv",
    ".tsv",
    ".txt",
    ".json",
    ".csv.gz",
    ".tsv.gz",
    ".txt.gz",
    ".json.gz",
    ".csv.zst",
    ".tsv.zst",
    ".txt.zst",
    ".json.zst",
    #[cfg(feature = "parquet")]
    ".parquet",
    #[cfg(feature = "parquet")]
    ".arrow",
    #[cfg(feature = "parquet")]
    ".ipc",
    #[cfg(feature = "parquet")]
    ".feather",
];

/// Whether a directory listing should include `path` (see [`INPUT_EXTENSIONS`]).
pub fn is_input_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    INPUT_EXTENSIONS.iter().any(|e| name.ends_with(e))
}

/// Bytes read up front for sniffing.
const PREFIX_BYTES: usize = 2 << 20;

/// Safe fixes a user may ask for; each row touched is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repair {
    /// Sort rows by time (stable), per symbol.
    pub sort: bool,
    /// Drop a row identical in every field to the row before it at the same time.
    pub dedupe: bool,
    /// Widen high and low to contain open and close: a few bars of real vendor
    /// files have a low a tick above the open (a 2,800-bar ETF file had 2).
    pub ohlc: bool,
    /// Of rows at the same time with different values, keep the one later in the
    /// file (appended exports put corrections last); exact copies are dropped too.
    pub keep_last: bool,
}

impl std::str::FromStr for Repair {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut r = Repair::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "sort" => r.sort = true,
                "dedupe" => r.dedupe = true,
                "ohlc" => r.ohlc = true,
                "keep-last" => r.keep_last = true,
                other => {
                    return Err(format!(
                        "unknown repair '{other}': use sort, dedupe, keep-last, ohlc, or several joined by commas (sort,dedupe)"
                    ))
                }
            }
        }
        Ok(r)
    }
}

/// How to read a file; every field has a default that suits clean exports.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Field delimiter; sniffed among `,` `;` tab `|` when `None`.
    pub delimiter: Option<u8>,
    /// Column roles in file order, for headerless files or to override a header.
    pub columns: Option<Vec<Role>>,
    pub date_format: Option<DateFormat>,
    /// Zone of naive timestamps; `None` reads them as UTC (and says so).
    pub tz: Option<chrono_tz::Tz>,
    pub repair: Repair,
    /// Problems listed before the rest are only counted.
    pub max_problems: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            delimiter: None,
            columns: None,
            date_format: None,
            tz: None,
            repair: Repair::default(),
            max_problems: 20,
        }
    }
}

/// A row changed by `--repair`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RepairDone {
    pub line: u64,
    pub symbol: Option<String>,
    pub action: RepairAction,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RepairAction {
    /// Moved into time order.
    Sorted,
    /// Dropped as an exact copy of the row on `of_line`.
    DroppedDuplicate { of_line: u64 },
    /// Dropped for the row at the same time with other values on `kept_line`.
    DroppedConflict { kept_line: u64 },
    /// High and/or low widened to contain open and close: `[before, after]`.
    Widened {
        high: Option<[f64; 2]>,
        low: Option<[f64; 2]>,
    },
}

/// A file read successfully: its series and what was assumed or repaired.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: String,
    pub panel: Panel,
    /// Assumptions and recognised layouts (preamble, newest-first, zone), in words.
    pub notes: Vec<String>,
    pub repairs: Vec<RepairDone>,
}

/// Reads a CSV, JSON candle or (feature `parquet`) Parquet / Arrow IPC file, told
/// apart by content. Large CSV files are parsed on several threads (see
/// [`parallel`]); the result, problems and line numbers are those of one pass.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<Dataset, DataError> {
    read_path_split(path, opts, &parallel::Split::auto())
}

fn read_path_split(
    path: &Path,
    opts: &ReadOptions,
    split: &parallel::Split,
) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let io = |err| DataError::Io {
        path: name.clone(),
        err,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_or(0, |m| m.len());
    // Sized up front: growing by doubling touched twice the prefix, and the
    // freed blocks stay resident under an allocator that keeps them.
    let mut prefix =
        Vec::with_capacity(usize::try_from(file_len).map_or(PREFIX_BYTES, |n| n.min(PREFIX_BYTES)));
    (&mut file)
        .take(PREFIX_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(io)?;
    #[cfg(feature = "parquet")]
    if let Some(format) = parquet::format_of(&prefix) {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        return parquet::read_file(&name, file, format, opts);
    }
    if let Some(codec) = compressed::codec(&prefix).map_err(|p| DataError::one(&name, p))? {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let input = compressed::decoder(codec, file).map_err(io)?;
        // A guess for sizing only: text OHLCV compresses about 4:1.
        let hint = usize::try_from(file_len).map_or(usize::MAX, |n| n.saturating_mul(4));
        return read_stream(&name, codec, input, opts, hint);
    }
    if json::looks_like_json(&prefix) {
        file.read_to_end(&mut prefix).map_err(io)?;
        return json::read(&name, &prefix, opts);
    }
    let whole = prefix.len() < PREFIX_BYTES;
    let dialect =
        sniff::sniff(&prefix, whole, opts.delimiter).map_err(|p| DataError::one(&name, p))?;
    let (layout, notes) = prepare(&name, &dialect, opts)?;
    let ctx = parallel::Ctx {
        name: &name,
        path,
        dialect: &dialect,
        layout: &layout,
        opts,
    };
    let scanned = match parallel::scan_file(&ctx, &file, prefix, file_len, split)? {
        Some(scanned) => scanned,
        None => {
            file.seek(SeekFrom::Start(dialect.data_offset as u64))
                .map_err(io)?;
            let remaining = (file_len as usize).saturating_sub(dialect.data_offset);
            scan_all(
                &name,
                std::io::BufReader::with_capacity(256 << 10, file),
                &dialect,
                &layout,
                opts,
                remaining,
            )?
        }
    };
    finish(&name, &dialect, opts, &layout, notes, scanned)
}

/// Decompressed CSV or JSON, as one stream: the sniff sees its first bytes, the
/// scan reads on from there (no temporary file, no whole copy in memory for CSV).
fn read_stream(
    name: &str,
    codec: compressed::Codec,
    mut input: impl Read,
    opts: &ReadOptions,
    size_hint: usize,
) -> Result<Dataset, DataError> {
    let io = |err: std::io::Error| DataError::Io {
        path: name.to_string(),
        err: std::io::Error::new(
            err.kind(),
            format!("{} data is corrupt or truncated: {err}", codec.name()),
        ),
    };
    let mut prefix = Vec::new();
    (&mut input)
        .take(PREFIX_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(io)?;
    if json::looks_like_json(&prefix) {
        input.read_to_end(&mut prefix).map_err(io)?;
        return json::read(name, &prefix, opts);
    }
    let whole = prefix.len() < PREFIX_BYTES;
    let dialect =
        sniff::sniff(&prefix, whole, opts.delimiter).map_err(|p| DataError::one(name, p))?;
    let (layout, notes) = prepare(name, &dialect, opts)?;
    let rest = prefix.get(dialect.data_offset..).unwrap_or_default();
    let scanned = scan_all(name, rest.chain(input), &dialect, &layout, opts, size_hint).map_err(
        |e| match e {
            DataError::Io { err, .. } => io(err),
            e => e,
        },
    )?;
    finish(name, &dialect, opts, &layout, notes, scanned)
}

/// Reads CSV or JSON text (or, feature `parquet`, a Parquet / Arrow IPC file) held
/// in memory; `name` stands for the path in messages.
pub fn read_bytes(name: &str, bytes: &[u8], opts: &ReadOptions) -> Result<Dataset, DataError> {
    #[cfg(feature = "parquet")]
    if let Some(format) = parquet::format_of(bytes) {
        return parquet::read_buffer(name, bytes, format, opts);
    }
    if json::looks_like_json(bytes) {
        return json::read(name, bytes, opts);
    }
    let whole = bytes.len() <= PREFIX_BYTES;
    let dialect = sniff::sniff(
        &bytes[..bytes.len().min(PREFIX_BYTES)],
        whole,
        opts.delimiter,
    )
    .map_err(|p| DataError::one(name, p))?;
    let (layout, notes) = prepare(name, &dialect, opts)?;
    let rest = bytes.get(dialect.data_offset..).unwrap_or_default();
    let scanned = scan_all(name, rest, &dialect, &layout, opts, rest.len())?;
    finish(name, &dialect, opts, &layout, notes, scanned)
}

/// Problems found so far: the first `max` kept, all counted.
struct Problems {
    list: Vec<Problem>,
    total: usize,
    max: usize,
}

impl Problems {
    fn new(max: usize) -> Problems {
        Problems {
            list: Vec::new(),
            total: 0,
            max: max.max(1),
        }
    }

    fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.list.len() < self.max {
            self.list.push(p);
        }
    }
}

/// Everything parsed from the data rows, column by column, before ordering.
#[derive(Default)]
struct Rows {
    /// Raw stamps: UTC or naive milliseconds, or packed `a/b/YYYY` parts.
    ts: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    symbol: Vec<u32>,
    /// The line of each row, as runs of consecutive lines.
    line: LineMap,
}

/// Row index to line number, stored as the rows where the line does not follow
/// the row before (the first row, and rows after blank lines or refused rows)
/// with their lines: a clean file needs one entry, not one per row.
#[derive(Default)]
struct LineMap {
    runs: Vec<(usize, u64)>,
}

impl LineMap {
    /// Row `row` (the next one) is on `line`.
    fn push(&mut self, row: usize, line: u64) {
        match self.runs.last() {
            Some(&(r0, l0)) if l0 + (row - r0) as u64 == line => {}
            _ => self.runs.push((row, line)),
        }
    }

    fn get(&self, row: usize) -> u64 {
        let i = self.runs.partition_point(|&(r0, _)| r0 <= row);
        match i.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some(&(r0, l0)) => l0 + (row - r0) as u64,
            None => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StampKind {
    Naive,
    Aware,
    YearLast,
}

/// The fields of one record.
trait Record {
    fn len(&self) -> usize;
    /// Field `i`, empty when there is none.
    fn field(&self, i: usize) -> &[u8];
    /// The timestamp, when the source has it typed (a Parquet datetime column):
    /// used instead of parsing the text, which a typed value does not have.
    fn stamp(&self) -> Option<Stamp> {
        None
    }
    /// Field `i` as a number, when the source has it typed; `None` parses the text
    /// (an empty field, as a null gives, is refused as an empty value).
    fn number(&self, _i: usize) -> Option<f64> {
        None
    }
}

impl Record for csv::ByteRecord {
    fn len(&self) -> usize {
        csv::ByteRecord::len(self)
    }
    fn field(&self, i: usize) -> &[u8] {
        self.get(i).unwrap_or_default()
    }
}

/// Where the scan puts good rows.
trait Sink {
    fn push(&mut self, ts: i64, v: [f64; 5], symbol: Option<u32>, line: u64);
}

impl Sink for Rows {
    fn push(&mut self, ts: i64, v: [f64; 5], symbol: Option<u32>, line: u64) {
        self.line.push(self.ts.len(), line);
        self.ts.push(ts);
        self.open.push(v[0]);
        self.high.push(v[1]);
        self.low.push(v[2]);
        self.close.push(v[3]);
        self.volume.push(v[4]);
        if let Some(s) = symbol {
            self.symbol.push(s);
        }
    }
}

impl Rows {
    /// `n` rows of zeros (the parallel parts fill them in place).
    fn zeroed(n: usize, symbols: bool) -> Rows {
        Rows {
            ts: vec![0; n],
            open: vec![0.0; n],
            high: vec![0.0; n],
            low: vec![0.0; n],
            close: vec![0.0; n],
            volume: vec![0.0; n],
            symbol: vec![0; if symbols { n } else { 0 }],
            line: LineMap::default(),
        }
    }

    fn with_capacity(n: usize, symbols: bool) -> Rows {
        Rows {
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
            symbol: Vec::with_capacity(if symbols { n } else { 0 }),
            line: LineMap::default(),
        }
    }
}

fn pack_year_last(a: u8, b: u8, year: i32, tod_ms: i64) -> i64 {
    ((year as i64) << 37) | ((a as i64) << 32) | ((b as i64) << 27) | tod_ms
}

fn unpack_year_last(v: i64) -> (u8, u8, i32, i64) {
    (
        (v >> 32 & 31) as u8,
        (v >> 27 & 31) as u8,
        (v >> 37) as i32,
        v & ((1 << 27) - 1),
    )
}

/// Stops a runaway line before the csv crate buffers it whole; counts lines.
struct LineGuard<R> {
    inner: R,
    run: usize,
    /// Line number of the next byte.
    line: u64,
    /// The line that ran over [`MAX_LINE_BYTES`].
    tripped: Option<u64>,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut last = 0;
        for p in memchr::memchr_iter(b'\n', &buf[..n]) {
            if self.run + (p - last) > MAX_LINE_BYTES {
                break;
            }
            self.run = 0;
            self.line += 1;
            last = p + 1;
        }
        self.run += n - last;
        if self.run > MAX_LINE_BYTES {
            self.tripped = Some(self.line);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "line too long",
            ));
        }
        Ok(n)
    }
}

/// The csv reader every scan uses.
fn csv_reader<R: Read>(delimiter: u8, input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        // `\n` only: with CRLF the csv crate numbers lines one short after the
        // first record; the `\r` left in the last field is trimmed as white space.
        // Fields are trimmed here, not by the csv crate, whose trimming allocates a
        // record per row (a fifth of the read time).
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(256 << 10)
        .from_reader(input)
}

/// Column `i` (0-based) as messages name it.
fn column(layout: &Layout, i: usize) -> Option<ColumnRef> {
    Some(ColumnRef {
        index: i + 1,
        name: layout.name(i),
    })
}

fn ts_column(layout: &Layout) -> usize {
    match layout.ts {
        TsSource::Single(i) | TsSource::Split { date: i, .. } => i,
    }
}

/// Column vector capacity for `bytes` of data, from the sampled line length.
fn expected_rows(bytes: usize, dialect: &Dialect) -> usize {
    (bytes / dialect.line_bytes.max(8) + 16).min(1 << 24)
}

/// The column layout (from `--columns`, the header or the default order) and the
/// notes it brings.
fn prepare(
    name: &str,
    dialect: &Dialect,
    opts: &ReadOptions,
) -> Result<(Layout, Vec<String>), DataError> {
    let mut notes = Vec::new();
    if let Some(DateFormat::Strftime(p)) = &opts.date_format {
        time::check_pattern(p).map_err(DataError::Usage)?;
    }
    let layout = match (&opts.columns, &dialect.header) {
        (Some(roles), header) => {
            if roles.len() != dialect.ncols {
                return Err(DataError::Usage(format!(
                    "{name}: --columns names {} column(s) but the file has {}",
                    roles.len(),
                    dialect.ncols
                )));
            }
            let names = header
                .clone()
                .unwrap_or_else(|| roles.iter().map(Role::to_string).collect());
            Layout::from_roles(&roles.iter().map(|&r| Some(r)).collect::<Vec<_>>(), names)
        }
        (None, Some(header)) => Layout::from_header(header),
        (None, None) => Layout::default_for(dialect.ncols),
    }
    .map_err(|m| {
        let line = dialect.data_line - u64::from(dialect.header.is_some());
        DataError::one(name, Problem::at(line, None, m))
    })?;
    if dialect.preamble_lines > 0 {
        notes.push(format!(
            "skipped {} preamble line(s) before the table",
            dialect.preamble_lines
        ));
    }
    notes.extend(layout.notes.iter().cloned());
    if !layout.ignored.is_empty() {
        notes.push(format!("ignored column(s): {}", layout.ignored.join(", ")));
    }
    Ok((layout, notes))
}

/// The row-by-row parse shared by every reader, with the state that crosses rows.
/// `shape` and `kind` are set once, by the first row that decides them, and never
/// change after: a later part of a file can start from them (see [`parallel`]).
struct Scanner<'a> {
    layout: &'a Layout,
    ts_col: usize,
    fields: [(usize, BarField); 4],
    /// The timestamp shape and the line of the first row it was recognised on.
    shape: Option<(Shape, u64)>,
    /// Zone or not, and the line of the first timestamp that parsed.
    kind: Option<(StampKind, u64)>,
    /// The offset of the first timestamp with a zone.
    first_offset: Option<i32>,
    symbols: HashMap<Vec<u8>, u32>,
    ts_buf: String,
    days: time::DayCache,
    /// `--repair ohlc`: a high/low that does not contain the body is kept for
    /// [`widen_high_low`] instead of refused.
    widen: bool,
}

/// What a scan found: the rows, the problems and the state the later steps need.
struct Scanned {
    rows: Rows,
    problems: Problems,
    kind: Option<(StampKind, u64)>,
    first_offset: Option<i32>,
    symbols: HashMap<Vec<u8>, u32>,
}

/// How a scan of one stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanEnd {
    /// Read to the end; `newlines` counts the line ends seen.
    Done { newlines: u64 },
    /// Stopped at a problem that ends the read (a runaway line, unreadable CSV).
    Stopped,
    /// A quote in a parallel part: the parts are dropped for one pass.
    Aborted,
}

impl<'a> Scanner<'a> {
    fn new(layout: &'a Layout, opts: &ReadOptions) -> Scanner<'a> {
        Scanner {
            layout,
            ts_col: ts_column(layout),
            fields: [
                (layout.open, BarField::Open),
                (layout.high, BarField::High),
                (layout.low, BarField::Low),
                (layout.close, BarField::Close),
            ],
            shape: match &opts.date_format {
                Some(DateFormat::Strftime(p)) => Some((Shape::Strftime(p.clone()), 0)),
                _ => None,
            },
            kind: None,
            first_offset: None,
            symbols: HashMap::new(),
            ts_buf: String::new(),
            days: time::DayCache::default(),
            widen: opts.repair.ohlc,
        }
    }

    fn into_scanned(self, rows: Rows, problems: Problems) -> Scanned {
        Scanned {
            rows,
            problems,
            kind: self.kind,
            first_offset: self.first_offset,
            symbols: self.symbols,
        }
    }

    /// Parses and checks one record found on `line`: a good row goes to `rows`, a
    /// bad one only to `problems`.
    fn row<S: Sink>(
        &mut self,
        rec: &impl Record,
        line: u64,
        rows: &mut S,
        problems: &mut Problems,
    ) {
        let layout = self.layout;
        let col = |i: usize| column(layout, i);
        let fields = &self.fields;
        if rec.len() == 1 && rec.field(0).trim_ascii().is_empty() {
            return; // a blank line (`\r` only, in CRLF files)
        }
        if rec.len() != layout.ncols {
            problems.push(Problem::at(
                line,
                None,
                format!(
                    "{} field(s), expected {} like the header",
                    rec.len(),
                    layout.ncols
                ),
            ));
            return;
        }
        let before = problems.total;

        // A typed timestamp, or the text (date and time columns are joined).
        let typed = rec.stamp();
        let text = match layout.ts {
            _ if typed.is_some() => Some(""),
            TsSource::Single(i) => std::str::from_utf8(rec.field(i).trim_ascii()).ok(),
            TsSource::Split { date, time } => {
                self.ts_buf.clear();
                match (
                    std::str::from_utf8(rec.field(date).trim_ascii()),
                    std::str::from_utf8(rec.field(time).trim_ascii()),
                ) {
                    (Ok(d), Ok(t)) => {
                        self.ts_buf.push_str(d);
                        self.ts_buf.push(' ');
                        self.ts_buf.push_str(t);
                        Some(self.ts_buf.as_str())
                    }
                    _ => None,
                }
            }
        };
        let stamp = match text {
            _ if typed.is_some() => typed.ok_or_else(String::new),
            None => Err("not valid UTF-8".to_string()),
            Some("") => Err("empty timestamp".to_string()),
            Some(t) => {
                if self.shape.is_none() {
                    self.shape = time::detect(t).map(|s| (s, line));
                }
                match &self.shape {
                    None => Err(format!(
                        "unrecognised timestamp '{t}': accepted are ISO 8601, M/D/YYYY, DD.MM.YYYY, YYYYMMDD HHMMSS and epoch seconds/milliseconds, or give --date-format"
                    )),
                    Some((s, first_line)) => time::parse_with(s, t, &mut self.days).map_err(|why| match time::detect(t) {
                        Some(other) if &other != s => format!(
                            "mixed date formats: '{t}' looks like {other}, but line {first_line} was {s}"
                        ),
                        _ if matches!(s, Shape::Strftime(_)) => format!("bad timestamp '{t}': {why}"),
                        _ => format!(
                            "bad timestamp '{t}': {why}; for another layout give --date-format with a strftime pattern (e.g. '%Y-%m-%d %I-%p' for '2020-01-01 09-PM')"
                        ),
                    }),
                }
            }
        };
        let raw_ts = match stamp {
            Ok(st) => {
                let (k, v) = match st {
                    Stamp::Naive(v) => (StampKind::Naive, v),
                    Stamp::Aware {
                        utc_ms,
                        offset_secs,
                    } => {
                        self.first_offset.get_or_insert(offset_secs);
                        (StampKind::Aware, utc_ms)
                    }
                    Stamp::YearLast { a, b, year, tod_ms } => {
                        (StampKind::YearLast, pack_year_last(a, b, year, tod_ms))
                    }
                };
                match self.kind {
                    None => self.kind = Some((k, line)),
                    Some((k0, l0)) if k0 != k => {
                        let what = |k| {
                            if k == StampKind::Aware {
                                "with a zone"
                            } else {
                                "without a zone"
                            }
                        };
                        problems.push(Problem::at(
                            line,
                            col(self.ts_col),
                            format!(
                                "mixed date formats: this timestamp is {}, line {l0}'s is {}",
                                what(k),
                                what(k0)
                            ),
                        ));
                    }
                    Some(_) => {}
                }
                v
            }
            Err(msg) => {
                problems.push(Problem::at(line, col(self.ts_col), msg));
                0
            }
        };

        // Prices and volume.
        let mut v = [0.0f64; 5];
        for (slot, &(i, _)) in v.iter_mut().zip(fields.iter()) {
            match rec
                .number(i)
                .map_or_else(|| parse_number(rec.field(i).trim_ascii()), Ok)
            {
                Ok(x) => *slot = x,
                Err(msg) => problems.push(Problem::at(line, col(i), msg)),
            }
        }
        if let Some(i) = layout.volume {
            match rec
                .number(i)
                .map_or_else(|| parse_number(rec.field(i).trim_ascii()), Ok)
            {
                Ok(x) => v[4] = x,
                Err(msg) => problems.push(Problem::at(line, col(i), msg)),
            }
        }
        if problems.total == before {
            if let Err(violation) = check_input_values(v[0], v[1], v[2], v[3], v[4]) {
                let i = match violation.field() {
                    BarField::Volume => layout.volume.unwrap_or(layout.close),
                    f => fields
                        .iter()
                        .find(|(_, g)| *g == f)
                        .map_or(layout.close, |(i, _)| *i),
                };
                match violation {
                    BarViolation::HighBelowBody { .. } | BarViolation::LowAboveBody { .. } => {
                        if !self.widen {
                            problems.push(Problem::at(
                                line,
                                col(i),
                                format!("{violation}; --repair ohlc widens high/low to contain open and close"),
                            ));
                        }
                    }
                    _ => problems.push(Problem::at(line, col(i), violation.to_string())),
                }
            }
        }
        let sym = match layout.symbol {
            None => 0,
            Some(i) => {
                let s = rec.field(i).trim_ascii();
                if s.is_empty() {
                    problems.push(Problem::at(line, col(i), "empty symbol"));
                    0
                } else if let Some(&id) = self.symbols.get(s) {
                    id
                } else {
                    let id = self.symbols.len() as u32;
                    self.symbols.insert(s.to_vec(), id);
                    id
                }
            }
        };
        if problems.total > before {
            return;
        }
        rows.push(raw_ts, v, layout.symbol.map(|_| sym), line);
    }
}

/// Reads every record of `input` through `sc`. The first line of `input` is line
/// `line_base + 1`.
fn scan<R: Read, S: Sink>(
    name: &str,
    input: R,
    delimiter: u8,
    line_base: u64,
    sc: &mut Scanner<'_>,
    rows: &mut S,
    problems: &mut Problems,
) -> Result<ScanEnd, DataError> {
    let guard = LineGuard {
        inner: input,
        run: 0,
        line: line_base + 1,
        tripped: None,
    };
    let mut rdr = csv_reader(delimiter, guard);
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let guard = rdr.get_ref();
                if let Some(line) = guard.tripped {
                    problems.push(sniff::too_long(line));
                    return Ok(ScanEnd::Stopped);
                }
                match e.into_kind() {
                    csv::ErrorKind::Io(err) => {
                        return Err(DataError::Io {
                            path: name.to_string(),
                            err,
                        })
                    }
                    other => {
                        problems.push(Problem::file(format!("unreadable CSV: {other:?}")));
                        return Ok(ScanEnd::Stopped);
                    }
                }
            }
        }
        let line = line_base + rec.position().map_or(0, |p| p.line());
        sc.row(&rec, line, rows, problems);
    }
    Ok(ScanEnd::Done {
        newlines: rdr.get_ref().line - (line_base + 1),
    })
}

/// One pass over all the data rows. `remaining_bytes` (the data after the header)
/// sizes the column vectors up front, so they do not regrow and copy.
fn scan_all<R: Read>(
    name: &str,
    input: R,
    dialect: &Dialect,
    layout: &Layout,
    opts: &ReadOptions,
    remaining_bytes: usize,
) -> Result<Scanned, DataError> {
    let mut sc = Scanner::new(layout, opts);
    let mut rows = Rows::with_capacity(
        expected_rows(remaining_bytes, dialect),
        layout.symbol.is_some(),
    );
    let mut problems = Problems::new(opts.max_problems);
    scan(
        name,
        input,
        dialect.delimiter,
        dialect.data_line - 1,
        &mut sc,
        &mut rows,
        &mut problems,
    )?;
    Ok(sc.into_scanned(rows, problems))
}

/// From the scanned rows to the dataset: stamps to UTC, symbols grouped, each
/// group put in time order, or the problems found.
fn finish(
    name: &str,
    dialect: &Dialect,
    opts: &ReadOptions,
    layout: &Layout,
    mut notes: Vec<String>,
    scanned: Scanned,
) -> Result<Dataset, DataError> {
    let Scanned {
        mut rows,
        mut problems,
        kind,
        first_offset,
        symbols,
    } = scanned;
    let col = |i: usize| column(layout, i);
    let ts_col = ts_column(layout);
    if problems.total > 0 {
        return Err(DataError::invalid(name, problems.list, problems.total));
    }
    if rows.ts.is_empty() {
        return Err(DataError::one(
            name,
            Problem::at(dialect.data_line, None, "no data rows"),
        ));
    }

    // Timestamps to UTC.
    let zone = resolve_stamps(
        &mut rows,
        kind.map(|k| k.0),
        first_offset,
        opts,
        &mut problems,
        &mut notes,
        &col(ts_col),
    );
    if problems.total > 0 {
        return Err(DataError::invalid(name, problems.list, problems.total));
    }

    // Group by symbol (in name order), put each group in time order.
    let mut names: Vec<(String, u32)> = symbols
        .into_iter()
        .map(|(k, id)| (String::from_utf8_lossy(&k).into_owned(), id))
        .collect();
    names.sort();
    let mut repairs = Vec::new();
    if opts.repair.ohlc {
        widen_high_low(&mut rows, &names, layout.symbol.is_some(), &mut repairs);
    }
    let mut groups: Vec<(Option<String>, Vec<usize>)> = if layout.symbol.is_none() {
        vec![(None, (0..rows.ts.len()).collect())]
    } else {
        let mut by_id: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (r, &s) in rows.symbol.iter().enumerate() {
            by_id.entry(s).or_default().push(r);
        }
        names
            .iter()
            .map(|(n, id)| (Some(n.clone()), by_id.remove(id).unwrap_or_default()))
            .collect()
    };
    for (symbol, idx) in &mut groups {
        order_group(
            symbol,
            idx,
            &rows,
            opts.repair,
            &mut problems,
            &mut repairs,
            &mut notes,
            &col(ts_col),
        );
    }
    if problems.total > 0 {
        return Err(DataError::invalid(name, problems.list, problems.total));
    }

    let single_in_place = groups.len() == 1 && groups[0].1.iter().enumerate().all(|(i, &r)| i == r);
    let series = if single_in_place {
        let symbol = groups.pop().and_then(|g| g.0);
        vec![Series::from_columns_unchecked(
            symbol,
            zone,
            rows.ts.into_iter().map(Timestamp).collect(),
            rows.open,
            rows.high,
            rows.low,
            rows.close,
            rows.volume,
        )]
    } else {
        let pick = |v: &[f64], idx: &[usize]| idx.iter().map(|&r| v[r]).collect::<Vec<f64>>();
        groups
            .into_iter()
            .map(|(symbol, idx)| {
                Series::from_columns_unchecked(
                    symbol,
                    zone.clone(),
                    idx.iter().map(|&r| Timestamp(rows.ts[r])).collect(),
                    pick(&rows.open, &idx),
                    pick(&rows.high, &idx),
                    pick(&rows.low, &idx),
                    pick(&rows.close, &idx),
                    pick(&rows.volume, &idx),
                )
            })
            .collect()
    };
    repairs.sort_by_key(|r| r.line);
    Ok(Dataset {
        path: name.to_string(),
        panel: Panel { series },
        notes,
        repairs,
    })
}

/// `--repair ohlc`: each row whose high/low does not contain open and close gets
/// them widened to it, and is reported. Done after the scan, so the parallel
/// parts need not carry repairs; the scan already refused every other violation.
fn widen_high_low(
    rows: &mut Rows,
    names: &[(String, u32)],
    panel: bool,
    repairs: &mut Vec<RepairDone>,
) {
    for r in 0..rows.ts.len() {
        let (o, c) = (rows.open[r], rows.close[r]);
        let (h, l) = (rows.high[r], rows.low[r]);
        let (h2, l2) = (h.max(o).max(c), l.min(o).min(c));
        if h2 == h && l2 == l {
            continue;
        }
        rows.high[r] = h2;
        rows.low[r] = l2;
        let symbol = if panel {
            let id = rows.symbol[r];
            names.iter().find(|(_, i)| *i == id).map(|(n, _)| n.clone())
        } else {
            None
        };
        repairs.push(RepairDone {
            line: rows.line.get(r),
            symbol,
            action: RepairAction::Widened {
                high: (h2 != h).then_some([h, h2]),
                low: (l2 != l).then_some([l, l2]),
            },
        });
    }
}

/// A number field: the fast path inline (the five of a row then overlap), the rest
/// out of line.
#[inline(always)]
fn parse_number(b: &[u8]) -> Result<f64, String> {
    match plain_decimal(b) {
        Some(x) => Ok(x),
        None => parse_number_slow(b),
    }
}

#[inline(never)]
fn parse_number_slow(b: &[u8]) -> Result<f64, String> {
    if b.is_empty() {
        return Err("empty value".into());
    }
    // fast-float2 parses the bytes directly (correctly rounded, like std's parser)
    // and skips the UTF-8 check std's `str::parse` needs: a third of the read time.
    match fast_float2::parse::<f64, _>(b).ok() {
        Some(x) => Ok(x),
        None => Err(format!(
            "'{}' is not a number",
            String::from_utf8_lossy(&b[..b.len().min(40)])
        )),
    }
}

/// Powers of ten that are exact in an `f64`.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Plain decimals (`42`, `1.05155`: digits on both sides of at most one point, 15
/// digits at most) by Clinger's fast path: the digits as an integer below 2^53
/// and 10^k are both exact, so the one division is correctly rounded, the same
/// value as fast-float2's (or std's). Anything else is `None`. Prices are nearly
/// always of this form, and this is several times faster than the general parser.
#[inline(always)]
fn plain_decimal(b: &[u8]) -> Option<f64> {
    let mut m: u64 = 0;
    let mut digits = 0usize;
    let mut point: Option<usize> = None;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            m = m * 10 + u64::from(d);
            digits += 1;
            if digits > 15 {
                return None;
            }
        } else if c == b'.' && point.is_none() {
            point = Some(digits);
        } else {
            return None;
        }
    }
    let k = match point {
        None => 0,
        Some(p) if p > 0 && p < digits => digits - p,
        Some(_) => return None,
    };
    if digits == 0 {
        return None;
    }
    Some(m as f64 / *EXACT_POW10.get(k)?)
}

/// Turns raw stamps into UTC milliseconds in place and returns the source zone.
fn resolve_stamps(
    rows: &mut Rows,
    kind: Option<StampKind>,
    first_offset: Option<i32>,
    opts: &ReadOptions,
    problems: &mut Problems,
    notes: &mut Vec<String>,
    col: &Option<ColumnRef>,
) -> SourceZone {
    let Some(kind) = kind else {
        return SourceZone::AssumedUtc;
    };
    if kind == StampKind::Aware {
        if opts.tz.is_some() {
            notes.push("--tz ignored: the timestamps carry their own zone".into());
        }
        return match first_offset {
            Some(0) | None => SourceZone::Utc,
            Some(o) => SourceZone::Offset(o),
        };
    }
    if kind == StampKind::YearLast {
        let order = match opts.date_format {
            Some(DateFormat::Order(o)) => o,
            _ => {
                let day_first = rows.ts.iter().position(|&v| unpack_year_last(v).0 > 12);
                let month_first = rows.ts.iter().position(|&v| unpack_year_last(v).1 > 12);
                match (day_first, month_first) {
                    (Some(d), None) => {
                        notes.push(format!(
                            "dates read day-first: line {} has a first number above 12",
                            rows.line.get(d)
                        ));
                        DateOrder::DayFirst
                    }
                    (None, Some(m)) => {
                        notes.push(format!(
                            "dates read month-first: line {} has a second number above 12",
                            rows.line.get(m)
                        ));
                        DateOrder::MonthFirst
                    }
                    (Some(d), Some(m)) => {
                        problems.push(Problem::at(
                            rows.line.get(m),
                            col.clone(),
                            format!(
                                "mixed date formats: month-first here but day-first on line {}",
                                rows.line.get(d)
                            ),
                        ));
                        return SourceZone::AssumedUtc;
                    }
                    (None, None) => {
                        problems.push(Problem::at(
                            rows.line.get(0),
                            col.clone(),
                            "ambiguous dates: day and month are both 12 or less on every row; pass --date-format dmy or --date-format mdy",
                        ));
                        return SourceZone::AssumedUtc;
                    }
                }
            }
        };
        for (r, v) in rows.ts.iter_mut().enumerate() {
            let line = rows.line.get(r);
            let (a, b, year, tod) = unpack_year_last(*v);
            match time::resolve_year_last(order, a, b, year, tod) {
                Some(ms) => *v = ms,
                None => problems.push(Problem::at(
                    line,
                    col.clone(),
                    format!("no such date: {a}/{b}/{year} read {order:?}"),
                )),
            }
        }
    }
    match opts.tz {
        None => {
            notes.push("naive timestamps read as UTC; pass --tz ZONE to localise them".into());
            SourceZone::AssumedUtc
        }
        Some(tz) => {
            localise(rows, tz, problems, col);
            SourceZone::Named(tz.name().to_string())
        }
    }
}

/// Local wall-clock times to UTC. In the repeated hour of a DST change the earlier
/// instant is taken, unless that would not move forward from the previous row.
fn localise(rows: &mut Rows, tz: chrono_tz::Tz, problems: &mut Problems, col: &Option<ColumnRef>) {
    use chrono::{LocalResult, TimeZone};
    let mut prev = i64::MIN;
    for (r, v) in rows.ts.iter_mut().enumerate() {
        let line = rows.line.get(r);
        let Some(naive) = chrono::DateTime::from_timestamp_millis(*v).map(|d| d.naive_utc()) else {
            problems.push(Problem::at(line, col.clone(), "timestamp out of range"));
            continue;
        };
        let utc = match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.timestamp_millis(),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.timestamp_millis(), b.timestamp_millis());
                if a > prev {
                    a
                } else {
                    b
                }
            }
            LocalResult::None => {
                problems.push(Problem::at(
                    line,
                    col.clone(),
                    format!(
                        "{naive} does not exist in {} (skipped by a daylight-saving change)",
                        tz.name()
                    ),
                ));
                continue;
            }
        };
        *v = utc;
        prev = utc;
    }
}

/// Puts one symbol's rows in time order: newest-first files are reversed, other
/// disorder and duplicates are refused unless `repair` allows fixing them.
#[allow(clippy::too_many_arguments)]
fn order_group(
    symbol: &Option<String>,
    idx: &mut Vec<usize>,
    rows: &Rows,
    repair: Repair,
    problems: &mut Problems,
    repairs: &mut Vec<RepairDone>,
    notes: &mut Vec<String>,
    col: &Option<ColumnRef>,
) {
    let ts = &rows.ts;
    let who = symbol.as_ref().map_or(String::new(), |s| format!("{s}: "));
    if idx.windows(2).all(|w| ts[w[1]] > ts[w[0]]) {
        return;
    }
    let descending = idx.windows(2).all(|w| ts[w[1]] <= ts[w[0]]);
    if descending && idx.windows(2).any(|w| ts[w[1]] < ts[w[0]]) {
        idx.reverse();
        notes.push(format!(
            "{who}rows were newest-first: reversed into time order"
        ));
    } else if idx.windows(2).any(|w| ts[w[1]] < ts[w[0]]) {
        if repair.sort {
            let before = idx.clone();
            idx.sort_by_key(|&r| ts[r]);
            for (pos, &r) in idx.iter().enumerate() {
                if before[pos] != r {
                    repairs.push(RepairDone {
                        line: rows.line.get(r),
                        symbol: symbol.clone(),
                        action: RepairAction::Sorted,
                    });
                }
            }
            repairs.sort_by_key(|r| r.line);
        } else {
            for w in idx.windows(2).filter(|w| ts[w[1]] < ts[w[0]]) {
                problems.push(Problem::at(
                    rows.line.get(w[1]),
                    col.clone(),
                    format!(
                        "{who}rows out of time order: {} comes after {} on line {}; --repair sort sorts them",
                        Timestamp(ts[w[1]]),
                        Timestamp(ts[w[0]]),
                        rows.line.get(w[0])
                    ),
                ));
            }
            return;
        }
    }
    let same = |a: usize, b: usize| {
        rows.open[a] == rows.open[b]
            && rows.high[a] == rows.high[b]
            && rows.low[a] == rows.low[b]
            && rows.close[a] == rows.close[b]
            && rows.volume[a] == rows.volume[b]
    };
    let mut kept: Vec<usize> = Vec::with_capacity(idx.len());
    for &r in idx.iter() {
        match kept.last_mut() {
            Some(k) if ts[*k] == ts[r] && repair.keep_last => {
                // The row later in the file stays, whichever way the file ran.
                let (drop, keep) = if rows.line.get(r) > rows.line.get(*k) {
                    (*k, r)
                } else {
                    (r, *k)
                };
                let kept_line = rows.line.get(keep);
                repairs.push(RepairDone {
                    line: rows.line.get(drop),
                    symbol: symbol.clone(),
                    action: if same(drop, keep) {
                        RepairAction::DroppedDuplicate { of_line: kept_line }
                    } else {
                        RepairAction::DroppedConflict { kept_line }
                    },
                });
                *k = keep;
            }
            Some(&mut k) if ts[k] == ts[r] => {
                let exact = same(k, r);
                if exact && repair.dedupe {
                    repairs.push(RepairDone {
                        line: rows.line.get(r),
                        symbol: symbol.clone(),
                        action: RepairAction::DroppedDuplicate {
                            of_line: rows.line.get(k),
                        },
                    });
                    continue;
                }
                let hint = if exact {
                    "; an exact copy: --repair dedupe drops it"
                } else {
                    " with different values; --repair keep-last keeps the row later in the file"
                };
                problems.push(Problem::at(
                    rows.line.get(r),
                    col.clone(),
                    format!(
                        "{who}duplicate timestamp {} (also on line {}){hint}",
                        Timestamp(ts[r]),
                        rows.line.get(k)
                    ),
                ));
            }
            _ => kept.push(r),
        }
    }
    *idx = kept;
}

#[cfg(test)]
mod tests {
    use super::{parse_number, plain_decimal};

    /// The fast path gives std's value, bit for bit, and declines what it does not cover.
    #[test]
    fn plain_decimals_match_std() {
        let same = |s: &str| {
            let want = s.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(
                parse_number(s.as_bytes()).ok().map(f64::to_bits),
                want,
                "{s}"
            );
            if let Some(x) = plain_decimal(s.as_bytes()) {
                assert_eq!(Some(x.to_bits()), want, "{s}");
            }
        };
        for s in [
            "0",
            "00.5",
            "1.05155",
            "999999999999999",
            "99999999999999.9",
            "0.000000000000001",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "1.",
            ".5",
            "1.2.3",
            "-1.5",
            "+2",
            "1e5",
            "inf",
            "NaN",
            "",
            "0.1",
            "0.3",
            "2.675",
            "1.0000000000000002",
        ] {
            same(s);
        }
        assert_eq!(plain_decimal(b"1."), None);
        assert_eq!(plain_decimal(b".5"), None);
        assert_eq!(plain_decimal(b"1234567890123456"), None);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 15 + 1) as usize;
            let point = (x >> 8) as usize % (digits + 1);
            let mut s: String = (0..digits)
                .map(|i| char::from(b'0' + ((x >> (i * 4 % 60)) % 10) as u8))
                .collect();
            if point > 0 && point < digits {
                s.insert(point, '.');
            }
            same(&s);
        }
    }
}
