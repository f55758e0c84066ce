//! The one-pass CSV reader: the csv crate over any stream (a file, decompressed
//! data, bytes in memory), for what the parallel reader does not take (quoted
//! fields, small files) and for compressed input, which cannot be cut into parts.

use super::columns::{Layout, Role};
use super::rows::{Problems, Rows, ScanEnd, Scanned, Sink};
use super::scanner::Scanner;
use super::sniff::{self, Dialect, MAX_LINE_BYTES};
use super::time::{self, DateFormat};
use super::ReadOptions;
use crate::error::{DataError, Problem};
use std::io::Read;

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
pub(super) fn csv_reader<R: Read>(delimiter: u8, input: R) -> csv::Reader<R> {
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

/// Column vector capacity for `bytes` of data, from the sampled line length.
pub(super) fn expected_rows(bytes: usize, dialect: &Dialect) -> usize {
    (bytes / dialect.line_bytes.max(8) + 16).min(1 << 24)
}

/// The column layout (from `--columns`, the header or the default order) and the
/// notes it brings.
pub(super) fn prepare(
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
pub(super) fn scan_all<R: Read>(
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
