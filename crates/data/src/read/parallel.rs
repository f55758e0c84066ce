//! Reading a large file on several threads, with the result of one pass.
//!
//! The data part is cut into byte ranges at line starts; each thread opens the
//! file, streams its own range through the same [`Scanner`] as the one-pass reader
//! (so memory stays the columns plus a read buffer per thread) and the parts are
//! joined in order. What makes the join exact:
//!
//! - Records are lines: this path is only taken when the data holds no `"` (a
//!   quoted field may hold a newline or a delimiter). The sniffed prefix is checked
//!   first and every part watches its bytes; one quote anywhere abandons the
//!   parallel read for the one-pass reader.
//! - Line numbers: each later part counts its lines from 1 and is renumbered after
//!   the join by the line ends of the parts before it.
//! - State that crosses rows: the timestamp shape and kind are fixed by the first
//!   row that decides them and never change after, so a probe over the first rows
//!   finds the state every later part starts from. When the deciding row is not in
//!   the first part (no row of the first part decides), the file is read in one
//!   pass. The first zone offset is taken from the first part that has one; symbol
//!   ids are renumbered into one table.
//! - Problems: the first `max` in line order are kept and all are counted; a part
//!   that ends the read (a runaway line) drops the parts after it, and an I/O error
//!   is reported from the first part that has one, as the one pass would.

use super::columns::Layout;
use super::rows::{LineMap, Problems, Record, Rows, ScanEnd, Scanned, Sink, StampKind};
use super::scanner::Scanner;
use super::serial::{csv_reader, expected_rows};
use super::sniff::{too_long, Dialect, MAX_LINE_BYTES};
use super::time::Shape;
use super::ReadOptions;
use crate::error::DataError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Files with less data than this are read in one pass.
const MIN_BYTES: u64 = 4 << 20;
/// Each part gets at least this much data.
const MIN_PART_BYTES: u64 = 1 << 20;
/// Read size of a part.
const READ_BYTES: usize = 256 << 10;
/// How far past a cut point a line end is looked for.
const CUT_WINDOW: u64 = 64 << 10;

/// When and how finely to cut a file.
#[derive(Debug, Clone)]
pub(super) struct Split {
    /// Data bytes below which the file is read in one pass.
    pub min_bytes: u64,
    /// Data bytes each part gets at least.
    pub min_part_bytes: u64,
    /// Most parts (threads).
    pub parts: usize,
}

impl Split {
    /// One part per core, for files of at least [`MIN_BYTES`] of data.
    pub fn auto() -> Split {
        Split {
            min_bytes: MIN_BYTES,
            min_part_bytes: MIN_PART_BYTES,
            parts: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What every part needs to know.
pub(super) struct Ctx<'a> {
    pub name: &'a str,
    pub path: &'a Path,
    pub dialect: &'a Dialect,
    pub layout: &'a Layout,
    pub opts: &'a ReadOptions,
}

/// The cross-row state a later part starts from.
#[derive(Clone)]
struct Seed {
    shape: Option<(Shape, u64)>,
    kind: Option<(StampKind, u64)>,
}

/// Scans the data of `file` (`file_len` bytes; `prefix` holds its start) on
/// several threads. `Ok(None)`: not worth it or not possible exactly; read the
/// file in one pass instead.
pub(super) fn scan_file(
    ctx: &Ctx<'_>,
    file: &File,
    prefix: Vec<u8>,
    file_len: u64,
    split: &Split,
) -> Result<Option<Scanned>, DataError> {
    let Some((seed, ranges)) = plan(ctx, file, prefix, file_len, split)? else {
        return Ok(None);
    };
    // One set of columns for the whole file, a share of it per part: the parts
    // write their rows in place and the join only moves them down, so memory is
    // that of the one-pass reader.
    let caps: Vec<usize> = ranges
        .iter()
        .map(|&(lo, hi)| expected_rows(usize::try_from(hi - lo).unwrap_or(usize::MAX), ctx.dialect))
        .collect();
    let total: usize = caps.iter().sum();
    let symbols = ctx.layout.symbol.is_some();
    let mut cols = Rows::zeroed(total, symbols);
    let Some(slots) = Slots::carve(&mut cols, &caps, symbols) else {
        return Ok(None);
    };
    let results = run_parts(ctx, &ranges, slots, &seed);
    let Some(parts) = in_file_order(ctx, results, &caps)? else {
        return Ok(None);
    };
    let merged = join(cols, parts);
    mark_used();
    Ok(Some(merged))
}

/// The state later parts start from and the byte range of each part.
type Plan = (Seed, Vec<(u64, u64)>);

/// The [`Plan`] of a parallel read, or `None`
/// when the file is read in one pass: too small, an odd delimiter, a quote in
/// the prefix, or no row of the first part decides the state.
fn plan(
    ctx: &Ctx<'_>,
    file: &File,
    prefix: Vec<u8>,
    file_len: u64,
    split: &Split,
) -> Result<Option<Plan>, DataError> {
    let start = ctx.dialect.data_offset as u64;
    let data_len = file_len.saturating_sub(start);
    let parts = split
        .parts
        .min(usize::try_from(data_len / split.min_part_bytes.max(1)).unwrap_or(usize::MAX));
    // Lines and fields are cut at these bytes; the csv crate would read such
    // delimiters differently.
    let odd_delimiter = matches!(ctx.dialect.delimiter, b'\n' | b'\r' | b'"');
    if data_len < split.min_bytes || parts < 2 || odd_delimiter {
        return Ok(None);
    }
    // Whole lines of the prefix's data part: no quotes, and the probe.
    let data = prefix.get(ctx.dialect.data_offset..).unwrap_or_default();
    let data = &data[..memchr::memrchr(b'\n', data).map_or(0, |p| p + 1)];
    if memchr::memchr(b'"', data).is_some() {
        return Ok(None);
    }
    let Some((seed, decided_at)) = probe(ctx, data) else {
        return Ok(None);
    };
    drop(prefix);
    let io = |err| DataError::Io {
        path: ctx.name.to_string(),
        err,
    };
    let Some(bounds) = cut_points(file, start, file_len, parts).map_err(io)? else {
        return Ok(None);
    };
    if bounds.len() < 3 || bounds.get(1).is_none_or(|&b| start + decided_at >= b) {
        return Ok(None);
    }
    let ranges = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    Ok(Some((seed, ranges)))
}

/// What each part's scan gave, in file order; `None` where its thread died.
type PartResults = Vec<Option<Result<(Part, ScanEnd), DataError>>>;

/// Scans each range into its slots: the first on this thread (it starts from no
/// seed and numbers lines as in the file), the others on threads of their own.
fn run_parts(
    ctx: &Ctx<'_>,
    ranges: &[(u64, u64)],
    slots: Vec<Slots<'_>>,
    seed: &Seed,
) -> PartResults {
    let abort = AtomicBool::new(false);
    let last = ranges.len() - 1;
    std::thread::scope(|s| {
        let abort = &abort;
        let mut jobs = ranges.iter().zip(slots).enumerate();
        let first = jobs.next();
        let handles: Vec<_> = jobs
            .map(|(i, (&(lo, hi), slots))| {
                s.spawn(move || scan_part(ctx, lo, hi, i == last, Some(seed), slots, abort))
            })
            .collect();
        let mut out = Vec::with_capacity(ranges.len());
        if let Some((_, (&(lo, hi), slots))) = first {
            out.push(Some(scan_part(ctx, lo, hi, false, None, slots, abort)));
        }
        out.extend(handles.into_iter().map(|h| h.join().ok()));
        out
    })
}

/// The parts in file order with their line numbers made the file's, up to the
/// first that ended the read; the first I/O error; or `None` (a part's thread
/// died or met a quote: the one pass reads the file).
fn in_file_order(
    ctx: &Ctx<'_>,
    results: PartResults,
    caps: &[usize],
) -> Result<Option<Vec<Part>>, DataError> {
    let mut parts: Vec<Part> = Vec::with_capacity(results.len());
    let mut line_offset = ctx.dialect.data_line - 1;
    for (i, result) in results.into_iter().enumerate() {
        let Some(result) = result else {
            return Ok(None); // a part's thread died: leave it to the one pass
        };
        let (mut part, end) = result?;
        if end == ScanEnd::Aborted {
            return Ok(None);
        }
        if i > 0 {
            for p in &mut part.problems.list {
                if let Some(l) = &mut p.line {
                    *l += line_offset;
                }
            }
        }
        part.line_offset = if i == 0 { 0 } else { line_offset };
        part.start = caps.iter().take(i).sum();
        parts.push(part);
        match end {
            ScanEnd::Done { newlines } => {
                line_offset = if i == 0 {
                    ctx.dialect.data_line - 1 + newlines
                } else {
                    line_offset + newlines
                };
            }
            ScanEnd::Stopped | ScanEnd::Aborted => break,
        }
    }
    Ok(Some(parts))
}

/// Tells the tests the parallel path ran; nothing outside them.
#[cfg(not(test))]
fn mark_used() {}

/// A line cut at every delimiter (no quoting).
struct Fields<'a> {
    text: &'a [u8],
    /// Where each field ends (the delimiter's offset, or the line's length).
    ends: &'a [usize],
}

impl Record for Fields<'_> {
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn field(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(j) => self.ends.get(j).map_or(self.text.len(), |&e| e + 1),
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }
}

/// The one-pass scan ([`super::serial`]) for text without quotes: a record is a
/// line, a field what lies between delimiters, as the csv crate reads such text
/// (empty lines skipped, the `\r` of CRLF left in the last field), without its
/// per-byte state machine and record copy. The first line of `input` is line
/// `line_base + 1`. One pass over each buffer finds delimiters and line ends
/// together, eight bytes at a time (a delimiter or line end every eight bytes or
/// so makes memchr's per-match overhead the larger cost).
#[allow(clippy::too_many_arguments)]
fn scan_plain<R: Read, S: Sink>(
    name: &str,
    mut input: R,
    delimiter: u8,
    line_base: u64,
    abort: &AtomicBool,
    sc: &mut Scanner<'_>,
    rows: &mut S,
    problems: &mut Problems,
) -> Result<ScanEnd, DataError> {
    let mut buf = vec![0u8; READ_BYTES];
    let mut ends: Vec<usize> = Vec::with_capacity(64);
    let (mut start, mut end, mut eof) = (0, 0, false);
    let mut line = line_base + 1;
    loop {
        let mut from = start;
        ends.clear();
        macro_rules! hit {
            ($at:expr) => {{
                let at = $at;
                if buf[at] == delimiter {
                    ends.push(at - from);
                } else {
                    let text = &buf[from..at];
                    if text.len() > MAX_LINE_BYTES {
                        problems.push(too_long(line));
                        return Ok(ScanEnd::Stopped);
                    }
                    if !text.is_empty() {
                        ends.push(text.len());
                        sc.row(&Fields { text, ends: &ends }, line, rows, problems);
                    }
                    ends.clear();
                    line += 1;
                    from = at + 1;
                }
            }};
        }
        let (splat_d, splat_n) = (splat(delimiter), splat(b'\n'));
        let mut at = start;
        while at + 8 <= end {
            let w = <[u8; 8]>::try_from(&buf[at..at + 8]).map_or(0, u64::from_le_bytes);
            let mut m = zero_bytes(w ^ splat_d) | zero_bytes(w ^ splat_n);
            while m != 0 {
                hit!(at + (m.trailing_zeros() / 8) as usize);
                m &= m - 1;
            }
            at += 8;
        }
        while at < end {
            if buf[at] == delimiter || buf[at] == b'\n' {
                hit!(at);
            }
            at += 1;
        }
        start = from;
        if end - start > MAX_LINE_BYTES {
            problems.push(too_long(line));
            return Ok(ScanEnd::Stopped);
        }
        if eof {
            let text = &buf[start..end];
            if !text.is_empty() {
                last_row(text, delimiter, &mut ends, line, sc, rows, problems);
            }
            return Ok(ScanEnd::Done {
                newlines: line - (line_base + 1),
            });
        }
        let io = |err| DataError::Io {
            path: name.to_string(),
            err,
        };
        match refill(&mut input, &mut buf, start..end, abort).map_err(io)? {
            None => return Ok(ScanEnd::Aborted),
            Some((new_end, at_eof)) => (start, end, eof) = (0, new_end, at_eof),
        }
    }
}

/// The last line of the input when it has no line end: cut at every delimiter
/// (the bytes are not scanned again, so `memchr` is enough).
fn last_row<S: Sink>(
    text: &[u8],
    delimiter: u8,
    ends: &mut Vec<usize>,
    line: u64,
    sc: &mut Scanner<'_>,
    rows: &mut S,
    problems: &mut Problems,
) {
    ends.clear();
    ends.extend(memchr::memchr_iter(delimiter, text));
    ends.push(text.len());
    sc.row(
        &Fields {
            text,
            ends: &ends[..],
        },
        line,
        rows,
        problems,
    );
}

/// Keeps the partial line `buf[part]`, moved to the front (the buffer doubles
/// when the line fills it), and reads on after it. The new end of the data and
/// whether the input ended; `None` when a quote was read here or another part
/// saw one, which abandons the parallel read.
fn refill<R: Read>(
    input: &mut R,
    buf: &mut Vec<u8>,
    part: std::ops::Range<usize>,
    abort: &AtomicBool,
) -> std::io::Result<Option<(usize, bool)>> {
    let end = part.end - part.start;
    buf.copy_within(part, 0);
    if end == buf.len() {
        buf.resize(buf.len() * 2, 0);
    }
    let n = loop {
        match input.read(&mut buf[end..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    };
    if memchr::memchr(b'"', &buf[end..end + n]).is_some() {
        abort.store(true, Ordering::Relaxed);
    }
    if abort.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some((end + n, n == 0)))
}

/// `b` in every byte.
fn splat(b: u8) -> u64 {
    u64::from(b) * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `x` that is zero, and no other bit.
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// Finds the state the first rows decide: the shape and kind of the timestamps,
/// and the offset (in `data`) of the row that decided the last of them.
fn probe(ctx: &Ctx<'_>, data: &[u8]) -> Option<(Seed, u64)> {
    let mut sc = Scanner::new(ctx.layout, ctx.opts);
    let mut rdr = csv_reader(ctx.dialect.delimiter, data);
    let mut rec = csv::ByteRecord::new();
    let mut rows = Rows::default();
    let mut problems = Problems::new(1);
    while let Ok(true) = rdr.read_byte_record(&mut rec) {
        let pos = rec.position()?;
        sc.row(
            &rec,
            ctx.dialect.data_line - 1 + pos.line(),
            &mut rows,
            &mut problems,
        );
        if sc.shape.is_some() && sc.kind.is_some() {
            let seed = Seed {
                shape: sc.shape,
                kind: sc.kind,
            };
            return Some((seed, pos.byte()));
        }
        rows = Rows::default();
        problems = Problems::new(1);
    }
    None
}

/// Part boundaries: `start`, a line start near each `k/parts` of the data, and
/// `end`. `None` when no line end is near a cut point (a line far longer than
/// any OHLCV row: the one pass reports it).
fn cut_points(
    file: &File,
    start: u64,
    end: u64,
    parts: usize,
) -> std::io::Result<Option<Vec<u64>>> {
    let mut f = file;
    let mut bounds = vec![start];
    let mut buf = Vec::with_capacity(CUT_WINDOW as usize);
    let len = end - start;
    for k in 1..parts as u64 {
        let prev = bounds.last().copied().unwrap_or(start);
        let from = (start + len / parts as u64 * k).saturating_sub(1).max(prev);
        f.seek(SeekFrom::Start(from))?;
        buf.clear();
        (&mut f).take(CUT_WINDOW).read_to_end(&mut buf)?;
        let Some(p) = memchr::memchr(b'\n', &buf) else {
            return Ok(None);
        };
        let cut = from + p as u64 + 1;
        if cut > prev && cut < end {
            bounds.push(cut);
        }
    }
    bounds.push(end);
    Ok(Some(bounds))
}

/// A part's share of the columns: rows go to the slices while they have room,
/// then to `spill`.
struct Slots<'a> {
    ts: &'a mut [i64],
    open: &'a mut [f64],
    high: &'a mut [f64],
    low: &'a mut [f64],
    close: &'a mut [f64],
    volume: &'a mut [f64],
    /// Empty when the file has no symbol column.
    symbol: &'a mut [u32],
    n: usize,
    line: LineMap,
    spill: Rows,
}

impl<'a> Slots<'a> {
    /// Cuts `cols` into consecutive shares of `caps` rows.
    fn carve(cols: &'a mut Rows, caps: &[usize], symbols: bool) -> Option<Vec<Slots<'a>>> {
        fn cut<'a, T>(mut v: &'a mut [T], caps: &[usize], on: bool) -> Option<Vec<&'a mut [T]>> {
            let mut out = Vec::with_capacity(caps.len());
            for &c in caps {
                let (head, rest) = v.split_at_mut_checked(if on { c } else { 0 })?;
                out.push(head);
                v = rest;
            }
            Some(out)
        }
        let mut ts = cut(&mut cols.ts, caps, true)?.into_iter();
        let mut open = cut(&mut cols.open, caps, true)?.into_iter();
        let mut high = cut(&mut cols.high, caps, true)?.into_iter();
        let mut low = cut(&mut cols.low, caps, true)?.into_iter();
        let mut close = cut(&mut cols.close, caps, true)?.into_iter();
        let mut volume = cut(&mut cols.volume, caps, true)?.into_iter();
        let mut symbol = cut(&mut cols.symbol, caps, symbols)?.into_iter();
        let mut out = Vec::with_capacity(caps.len());
        for _ in caps {
            out.push(Slots {
                ts: ts.next()?,
                open: open.next()?,
                high: high.next()?,
                low: low.next()?,
                close: close.next()?,
                volume: volume.next()?,
                symbol: symbol.next()?,
                n: 0,
                line: LineMap::default(),
                spill: Rows::default(),
            });
        }
        Some(out)
    }
}

impl Sink for Slots<'_> {
    fn push(&mut self, ts: i64, v: [f64; 5], symbol: Option<u32>, line: u64) {
        self.line.push(self.n + self.spill.ts.len(), line);
        let i = self.n;
        // All the slices but an absent symbol column have the same length.
        if i < self.ts.len() {
            self.ts[i] = ts;
            self.open[i] = v[0];
            self.high[i] = v[1];
            self.low[i] = v[2];
            self.close[i] = v[3];
            self.volume[i] = v[4];
            if let (Some(s), Some(slot)) = (symbol, self.symbol.get_mut(i)) {
                *slot = s;
            }
            self.n += 1;
        } else {
            self.spill.push(ts, v, symbol, line);
        }
    }
}

/// What a part found, its rows held as a count of slots filled plus a spill.
struct Part {
    n: usize,
    spill: Rows,
    line: LineMap,
    problems: Problems,
    kind: Option<(StampKind, u64)>,
    first_offset: Option<i32>,
    symbols: HashMap<Vec<u8>, u32>,
    /// Where the part's share of the columns starts.
    start: usize,
    /// Added to the part's line numbers.
    line_offset: u64,
}

/// Scans bytes `lo..hi` of the file (`lo..` to the end for the last part) in a
/// handle of its own. The first part numbers lines as in the file; later parts
/// from 1, starting from `seed`.
fn scan_part(
    ctx: &Ctx<'_>,
    lo: u64,
    hi: u64,
    to_end: bool,
    seed: Option<&Seed>,
    mut slots: Slots<'_>,
    abort: &AtomicBool,
) -> Result<(Part, ScanEnd), DataError> {
    let io = |err| DataError::Io {
        path: ctx.name.to_string(),
        err,
    };
    let mut file = File::open(ctx.path).map_err(io)?;
    file.seek(SeekFrom::Start(lo)).map_err(io)?;
    let input = file.take(if to_end { u64::MAX } else { hi - lo });
    let mut sc = Scanner::new(ctx.layout, ctx.opts);
    let line_base = match seed {
        None => ctx.dialect.data_line - 1,
        Some(seed) => {
            sc.shape = seed.shape.clone();
            sc.kind = seed.kind;
            0
        }
    };
    let mut problems = Problems::new(ctx.opts.max_problems);
    let end = scan_plain(
        ctx.name,
        input,
        ctx.dialect.delimiter,
        line_base,
        abort,
        &mut sc,
        &mut slots,
        &mut problems,
    )?;
    Ok((
        Part {
            n: slots.n,
            spill: slots.spill,
            line: slots.line,
            problems,
            kind: sc.kind,
            first_offset: sc.first_offset,
            symbols: sc.symbols,
            start: 0,
            line_offset: 0,
        },
        end,
    ))
}

/// The parts' rows, in order, as one set of columns, with the rest of their findings.
fn join(mut cols: Rows, parts: Vec<Part>) -> Scanned {
    let mut problems: Option<Problems> = None;
    let mut kind = None;
    let mut first_offset = None;
    let mut symbols: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut line = LineMap::default();
    let mut base = 0;
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(parts.len());
    for p in &parts {
        match &mut problems {
            None => {
                problems = Some(Problems {
                    list: p.problems.list.clone(),
                    total: p.problems.total,
                    max: p.problems.max,
                })
            }
            Some(all) => {
                all.total += p.problems.total;
                let room = all.max.saturating_sub(all.list.len());
                all.list.extend(p.problems.list.iter().take(room).cloned());
            }
        }
        kind = kind.or(p.kind);
        first_offset = first_offset.or(p.first_offset);
        for &(r0, l0) in &p.line.runs {
            line.push(base + r0, l0 + p.line_offset);
        }
        base += p.n + p.spill.ts.len();
        ids.push(renumber(&mut symbols, &p.symbols));
    }

    // Rows in place when only the last part ran past its share (the usual case),
    // else copied into new columns.
    let shares: Vec<(usize, usize)> = parts.iter().map(|p| (p.start, p.n)).collect();
    let in_place = parts.iter().rev().skip(1).all(|p| p.spill.ts.is_empty());
    let tail = parts.last().map(|p| &p.spill);
    let spills: Vec<&Rows> = parts.iter().map(|p| &p.spill).collect();
    macro_rules! gather {
        ($c:ident) => {
            if in_place {
                compact(&mut cols.$c, &shares, tail.map_or(&[][..], |t| &t.$c[..]));
            } else {
                cols.$c = concat(&cols.$c, &shares, spills.iter().map(|s| &s.$c[..]));
            }
        };
    }
    gather!(ts);
    gather!(open);
    gather!(high);
    gather!(low);
    gather!(close);
    gather!(volume);
    if !cols.symbol.is_empty() {
        gather!(symbol);
        let mut at = 0;
        for (p, map) in parts.iter().zip(&ids) {
            let n = p.n + p.spill.ts.len();
            for s in cols.symbol.iter_mut().skip(at).take(n) {
                *s = map.get(*s as usize).copied().unwrap_or(*s);
            }
            at += n;
        }
    }
    cols.line = line;
    Scanned {
        rows: cols,
        problems: problems.unwrap_or_else(|| Problems::new(1)),
        kind,
        first_offset,
        symbols,
    }
}

/// A part's symbol ids (index) to ids of `all`, the one table, adding the names it
/// has not seen in the order the part met them (so ids follow first appearance
/// in the file, as in one pass).
fn renumber(all: &mut HashMap<Vec<u8>, u32>, part: &HashMap<Vec<u8>, u32>) -> Vec<u32> {
    let mut map = vec![0u32; part.len()];
    let mut named: Vec<(&Vec<u8>, u32)> = part.iter().map(|(k, &v)| (k, v)).collect();
    named.sort_by_key(|&(_, id)| id);
    for (name, id) in named {
        let next = all.len() as u32;
        let global = *all.entry(name.clone()).or_insert(next);
        if let Some(slot) = map.get_mut(id as usize) {
            *slot = global;
        }
    }
    map
}

/// Moves each share (`start`, `n`) of `col` down to follow the one before, and
/// appends `tail`.
fn compact<T: Copy>(col: &mut Vec<T>, shares: &[(usize, usize)], tail: &[T]) {
    let mut w = 0;
    for &(start, n) in shares {
        col.copy_within(start..start + n, w);
        w += n;
    }
    col.truncate(w);
    col.extend_from_slice(tail);
}

/// Each share of `col` followed by its part's spill, as a new column.
fn concat<'a, T: Copy + 'a>(
    col: &[T],
    shares: &[(usize, usize)],
    spills: impl Iterator<Item = &'a [T]>,
) -> Vec<T> {
    let mut out = Vec::new();
    for (&(start, n), spill) in shares.iter().zip(spills) {
        out.extend_from_slice(col.get(start..start + n).unwrap_or_default());
        out.extend_from_slice(spill);
    }
    out
}

#[cfg(test)]
use tests::mark_used;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{read_bytes, read_path_split, DateFormat, DateOrder, ReadOptions, Repair};
    use super::Split;
    use std::cell::Cell;
    use std::fmt::Write as _;
    use std::io::Write as _;

    thread_local! {
        /// Whether the last `scan_file` on this thread joined parallel parts.
        pub(super) static USED: Cell<bool> = const { Cell::new(false) };
    }

    /// Called where `scan_file` returns the joined parts.
    pub(super) fn mark_used() {
        USED.with(|u| u.set(true));
    }

    fn split(parts: usize) -> Split {
        Split {
            min_bytes: 0,
            min_part_bytes: 1,
            parts,
        }
    }

    /// Reads `text` through a file with `parts` parts and in one pass from memory;
    /// the two must agree exactly (datasets, or every problem and the count).
    /// Returns whether the parallel join was used, and the one-pass result.
    fn both(text: &[u8], opts: &ReadOptions, parts: usize) -> (bool, String) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text).unwrap();
        f.flush().unwrap();
        let name = f.path().display().to_string();
        USED.with(|u| u.set(false));
        let par = read_path_split(f.path(), opts, &split(parts));
        let used = USED.with(Cell::get);
        let seq = read_bytes(&name, text, opts);
        let show = |r: &Result<super::super::Dataset, crate::DataError>| match r {
            Ok(ds) => format!("{ds:?}"),
            Err(e) => format!("error: {e}"),
        };
        let (p, s) = (show(&par), show(&seq));
        assert_eq!(p, s, "parts {parts}: parallel and one-pass reads differ");
        (used, s)
    }

    fn rows(n: usize, symbols: bool, crlf: bool, bad: impl Fn(usize) -> Option<String>) -> String {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut s = String::new();
        if symbols {
            write!(s, "symbol,timestamp,open,high,low,close,volume{nl}").unwrap();
        } else {
            write!(s, "timestamp,open,high,low,close,volume{nl}").unwrap();
        }
        for i in 0..n {
            if let Some(line) = bad(i) {
                write!(s, "{line}{nl}").unwrap();
                continue;
            }
            let t = 1_483_228_800 + 60 * i as i64;
            let ts = chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ");
            let p = 1.05 + (i % 97) as f64 * 1e-4;
            if symbols {
                // A third symbol only in the second half.
                let sym = ["EURUSD", "GBPUSD", "USDJPY"][i % if i > n / 2 { 3 } else { 2 }];
                write!(s, "{sym},").unwrap();
            }
            write!(
                s,
                "{ts},{p:.5},{:.5},{:.5},{p:.5},{}{nl}",
                p + 2e-4,
                p - 1e-4,
                i % 7
            )
            .unwrap();
        }
        s
    }

    #[test]
    fn clean_file_in_parts_equals_one_pass() {
        let text = rows(5_000, false, false, |_| None);
        for parts in [2, 3, 4, 7] {
            let (used, out) = both(text.as_bytes(), &ReadOptions::default(), parts);
            assert!(used, "parts {parts}: the parallel path was not taken");
            assert!(!out.starts_with("error"), "{out}");
        }
        // No newline after the last row; a last row with a bad number.
        let text = text.trim_end();
        assert!(both(text.as_bytes(), &ReadOptions::default(), 3).0);
        let text = format!("{text}\n2030-01-01T00:00:00Z,1.1,1.2,1.0,x,1");
        let (used, out) = both(text.as_bytes(), &ReadOptions::default(), 2);
        assert!(
            used && out.contains(":5002:5: 'x' is not a number"),
            "{out}"
        );
    }

    #[test]
    fn crlf_and_blank_lines_at_the_cuts() {
        let text = rows(4_000, false, true, |i| {
            (i % 500 == 0 && i > 0).then(String::new)
        });
        for parts in [2, 3, 5] {
            let (used, out) = both(text.as_bytes(), &ReadOptions::default(), parts);
            assert!(used);
            assert!(!out.starts_with("error"), "{out}");
        }
    }

    /// Bad rows everywhere, several on either side of each cut point; with the
    /// default 20 listed problems and with all of them listed.
    #[test]
    fn bad_rows_near_the_cuts_give_the_same_problems() {
        let n = 6_000;
        // Rows within two of each cut point for 2 to 6 parts (lines are of similar
        // length, so the k-th of p cuts falls near row n * k / p).
        let near =
            |i: usize| (2..7).any(|p| (1..p).any(|k| (i as i64 - (n * k / p) as i64).abs() <= 2));
        let bad = |i: usize| {
            if !(near(i) || i % 401 == 7) {
                return None;
            }
            Some(match i % 6 {
                0 => "2017-01-01T00:00:00Z,1.1,x,1.0,1.1,1".to_string(),
                1 => "2017-01-01T00:00:00Z,1.1,1.0,1.2,1.1,1".to_string(),
                2 => "2017-01-01T00:00:00Z,1.1,1.2".to_string(),
                3 => "2017-01-05 00:00:00,1.1,1.2,1.0,1.1,1".to_string(),
                4 => "05/01/2017,1.1,1.2,1.0,1.1,1".to_string(),
                _ => "nonsense,1.1,1.2,1.0,1.1,1".to_string(),
            })
        };
        let text = rows(n, false, false, bad);
        for max in [20, 100_000] {
            let opts = ReadOptions {
                max_problems: max,
                ..ReadOptions::default()
            };
            for parts in [2, 3, 4, 5, 6] {
                let (used, out) = both(text.as_bytes(), &opts, parts);
                assert!(used);
                assert!(out.contains("mixed date formats"), "{out}");
            }
        }
    }

    #[test]
    fn panel_with_a_symbol_first_seen_in_a_later_part() {
        let text = rows(6_000, true, false, |_| None);
        for parts in [2, 3, 4] {
            let (used, out) = both(text.as_bytes(), &ReadOptions::default(), parts);
            assert!(used);
            assert!(out.contains("USDJPY") && !out.starts_with("error"), "{out}");
        }
        // An empty symbol and a duplicate across the cut.
        let text = rows(6_000, true, true, |i| match i {
            2_999 => Some("EURUSD,2017-01-01T00:00:00Z,1.1,1.2,1.0,1.1,1".into()),
            3_001 => Some(",2017-01-01T00:00:00Z,1.1,1.2,1.0,1.1,1".into()),
            _ => None,
        });
        for parts in [2, 3] {
            assert!(both(text.as_bytes(), &ReadOptions::default(), parts).0);
        }
    }

    #[test]
    fn order_problems_and_repairs_across_the_cut() {
        let mut lines: Vec<String> = rows(4_000, false, false, |_| None)
            .lines()
            .map(str::to_string)
            .collect();
        lines.swap(1_999, 2_003);
        lines.insert(2_500, lines[2_500].clone());
        let text = lines.join("\n") + "\n";
        for repair in [
            Repair::default(),
            Repair {
                sort: true,
                dedupe: true,
                ..Repair::default()
            },
        ] {
            let opts = ReadOptions {
                repair,
                ..ReadOptions::default()
            };
            for parts in [2, 3] {
                assert!(both(text.as_bytes(), &opts, parts).0);
            }
        }
        // Newest first.
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.remove(2_501);
        lines[1..].reverse();
        let text = lines.join("\n") + "\n";
        assert!(both(text.as_bytes(), &ReadOptions::default(), 2).0);
    }

    /// Day/month order decided by a row in a later part; zones; split date and time.
    #[test]
    fn cross_row_decisions_match() {
        let mut s = String::from("Title line\n<DATE>;<TIME>;<OPEN>;<HIGH>;<LOW>;<CLOSE>\n");
        for i in 0..5_000 {
            let (d, m) = (1 + (i / 1_440) % 12, 1 + i / 3_000);
            let (h, mi) = ((i / 60) % 24, i % 60);
            writeln!(s, "{d:02}/{m:02}/2017;{h:02}:{mi:02};1.1;1.2;1.0;1.1").unwrap();
        }
        for parts in [2, 4] {
            let (used, out) = both(s.as_bytes(), &ReadOptions::default(), parts);
            assert!(used);
            assert!(
                out.contains("error") || out.contains("day-first") || out.contains("month-first"),
                "{out}"
            );
        }
        let opts = ReadOptions {
            date_format: Some(DateFormat::Order(DateOrder::DayFirst)),
            tz: Some(chrono_tz::Europe::Berlin),
            ..ReadOptions::default()
        };
        assert!(both(s.as_bytes(), &opts, 3).0);
        // Naive stamps first, zoned ones later: the message names the first row's line.
        let text = rows(3_000, false, false, |i| {
            (i < 10).then(|| format!("2016-12-31 00:{i:02}:00,1.1,1.2,1.0,1.1,1"))
        });
        let (used, out) = both(text.as_bytes(), &ReadOptions::default(), 2);
        assert!(used && out.contains("line 2's is without a zone"), "{out}");
    }

    /// What the one pass must decide stays with it: quotes, undecided first part,
    /// a runaway line (its later parts are never read).
    #[test]
    fn fallbacks_and_a_runaway_line() {
        let text = rows(3_000, false, false, |i| {
            (i == 2_500).then(|| "\"2017-01-01T00:00:00Z\",1.1,1.2,1.0,1.1,1".into())
        });
        assert!(!both(text.as_bytes(), &ReadOptions::default(), 2).0);
        let text = rows(3_000, false, false, |i| {
            (i < 2_700).then(|| "junk,1.1,1.2,1.0,1.1,1".into())
        });
        assert!(!both(text.as_bytes(), &ReadOptions::default(), 2).0);
        // Unrecognised first rows decided in the first part: parallel.
        let text = rows(3_000, false, false, |i| {
            (i < 20).then(|| "junk,1.1,1.2,1.0,1.1,1".into())
        });
        assert!(both(text.as_bytes(), &ReadOptions::default(), 2).0);
        let long = format!(
            "2017-01-01T00:00:00Z,1.1,1.2,1.0,{}",
            "1".repeat(super::super::MAX_LINE_BYTES + 10)
        );
        let text = rows(60_000, false, false, |i| match i {
            30_000 => Some(long.clone()),
            45_000 | 55_000 | 100 => Some("2017-01-01T00:00:00Z,1.1,x,1.0,1.1,1".into()),
            _ => None,
        });
        for parts in [2, 3, 4] {
            let (_, out) = both(text.as_bytes(), &ReadOptions::default(), parts);
            assert!(out.contains("longer than"), "{out}");
        }
    }

    /// A file above the real threshold, cut in two as on a two-core machine.
    #[test]
    fn large_file_with_default_thresholds() {
        let text = rows(90_000, false, false, |i| {
            (i == 45_000).then(|| "2017-01-01T00:00:00Z,1.1,1.0,1.2,1.1,1".into())
        });
        assert!(text.len() as u64 > super::MIN_BYTES);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let name = f.path().display().to_string();
        let sp = Split {
            parts: 2,
            ..Split::auto()
        };
        USED.with(|u| u.set(false));
        let par = read_path_split(f.path(), &ReadOptions::default(), &sp)
            .map(|d| format!("{d:?}"))
            .map_err(|e| e.to_string());
        assert!(USED.with(Cell::get));
        let seq = read_bytes(&name, text.as_bytes(), &ReadOptions::default())
            .map(|d| format!("{d:?}"))
            .map_err(|e| e.to_string());
        assert_eq!(par, seq);
        assert!(matches!(&par, Err(e) if e.contains(":45002:")), "{par:?}");
    }
}
