//! Dialect sniffing: delimiter, preamble lines and header, from the first lines.

use crate::error::Problem;

/// Longest line accepted. Real OHLCV rows are under 1 KiB; the limit turns a
/// hostile or corrupt file into a clear error instead of an unbounded buffer.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Widest file accepted.
pub const MAX_COLUMNS: usize = 1024;
/// How many lines the sniffer looks at.
const SAMPLE_LINES: usize = 64;
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// What the sniffer found out about a file's layout.
#[derive(Debug, Clone)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    pub ncols: usize,
    /// Header fields, if the first table line is a header.
    pub header: Option<Vec<String>>,
    /// Byte offset and 1-based line number of the first data line.
    pub data_offset: usize,
    pub data_line: u64,
    pub preamble_lines: u64,
    /// Mean length of the sampled data lines (with the newline), to size buffers.
    pub line_bytes: usize,
}

struct Line<'a> {
    number: u64,
    offset: usize,
    text: &'a [u8],
}

/// Sniffs the dialect from `prefix` (the start of the file; `whole` if it is all
/// of it). `forced` is a delimiter the user gave.
pub(crate) fn sniff(prefix: &[u8], whole: bool, forced: Option<u8>) -> Result<Dialect, Problem> {
    let bom = if prefix.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    if let Some(nul) = memchr::memchr(0, prefix) {
        let line = 1 + memchr::memchr_iter(b'\n', &prefix[..nul]).count() as u64;
        return Err(Problem::at(
            line,
            None,
            "binary data (a NUL byte): this is not a text CSV file",
        ));
    }
    let lines = sample_lines(prefix, bom, whole)?;
    let Some(first) = lines.first() else {
        return Err(Problem::file("the file is empty: no lines with data"));
    };
    let (delimiter, ncols) = delimiter_and_width(&lines, forced);
    check_width(first, forced, ncols)?;
    // Lines before the first one with the table's width are a preamble (titles,
    // source URLs, disclaimers that some exporters write above the header).
    let Some(mut start) = lines
        .iter()
        .position(|l| count_fields(l.text, delimiter) == ncols)
    else {
        return Err(Problem::file("no line has the table's column count"));
    };
    let table = &lines[start];
    let fields = split_fields(table.text, delimiter);
    let numeric = fields
        .iter()
        .filter(|f| f.trim().parse::<f64>().is_ok())
        .count();
    let (header, data) = if numeric >= 4 {
        match index_padded_header(&lines, start, delimiter, ncols) {
            Some(h) => {
                start -= 1;
                (Some(h), table)
            }
            None => (None, table),
        }
    } else {
        match lines.get(start + 1) {
            Some(next) => (Some(fields), next),
            None if whole => {
                return Err(Problem::at(
                    table.number,
                    None,
                    "only a header: no data rows after it",
                ));
            }
            None => {
                return Err(Problem::at(
                    table.number,
                    None,
                    "no data rows in the first lines after the header",
                ))
            }
        }
    };
    let data_idx = lines
        .iter()
        .position(|l| l.number == data.number)
        .unwrap_or(start);
    let sample = &lines[data_idx..];
    let line_bytes = sample.iter().map(|l| l.text.len() + 1).sum::<usize>() / sample.len().max(1);
    Ok(Dialect {
        line_bytes,
        delimiter,
        ncols,
        header,
        data_offset: data.offset,
        data_line: data.number,
        preamble_lines: start as u64,
    })
}

/// The delimiter (`forced`, or the candidate that splits the sampled lines most
/// consistently into 5 or more fields; ties go to the earlier candidate) and the
/// column count it gives.
fn delimiter_and_width(lines: &[Line<'_>], forced: Option<u8>) -> (u8, usize) {
    let (delimiter, (ncols, _)) = match forced {
        Some(d) => (d, modal_count(lines, d)),
        None => CANDIDATES
            .iter()
            .map(|&d| (d, modal_count(lines, d)))
            .filter(|&(_, (n, _))| n >= 5)
            .max_by_key(|&(d, (_, score))| {
                (
                    score,
                    std::cmp::Reverse(CANDIDATES.iter().position(|&c| c == d)),
                )
            })
            .map_or((0, (0, 0)), |x| x),
    };
    (delimiter, ncols)
}

/// Refuses a table too narrow for OHLC (naming the delimiter tried, if given) or
/// wider than we read.
fn check_width(first: &Line<'_>, forced: Option<u8>, ncols: usize) -> Result<(), Problem> {
    if ncols < 5 {
        let shown = String::from_utf8_lossy(&first.text[..first.text.len().min(80)]).into_owned();
        let msg = match forced {
            Some(d) => format!(
                "with delimiter {} lines have only {ncols} field(s), at least 5 are needed (timestamp, open, high, low, close): is the delimiter right? line {}: '{shown}'",
                show_delim(d), first.number
            ),
            None => format!(
                "cannot split lines into columns: no delimiter among , ; tab | gives the 5 or more fields needed (timestamp, open, high, low, close); line {}: '{shown}'",
                first.number
            ),
        };
        return Err(Problem::at(first.number, None, msg));
    }
    if ncols > MAX_COLUMNS {
        return Err(Problem::at(
            first.number,
            None,
            format!("{ncols} columns; at most {MAX_COLUMNS} are supported"),
        ));
    }
    Ok(())
}

/// The header of a file whose rows start with `k` empty cells the header does not
/// name (an exported unnamed index column left empty): the line before the first
/// full-width row, when it is text, `k` fields short, and every sampled row from
/// there has its first `k` cells empty. Its fields, padded with `k` unnamed ones.
fn index_padded_header(
    lines: &[Line<'_>],
    start: usize,
    delimiter: u8,
    ncols: usize,
) -> Option<Vec<String>> {
    let prev = lines.get(start.checked_sub(1)?)?;
    let fields = split_fields(prev.text, delimiter);
    let k = ncols.checked_sub(fields.len())?;
    let numeric = fields
        .iter()
        .filter(|f| f.trim().parse::<f64>().is_ok())
        .count();
    if k == 0 || fields.len() < 5 || numeric > 0 {
        return None;
    }
    let rows_padded = lines[start..].iter().all(|l| {
        let cells = split_fields(l.text, delimiter);
        cells.len() == ncols && cells.iter().take(k).all(|c| c.trim().is_empty())
    });
    rows_padded.then(|| {
        std::iter::repeat_n(String::new(), k)
            .chain(fields)
            .collect()
    })
}

fn show_delim(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        d => format!("'{}'", d as char),
    }
}

/// The first non-blank lines of the prefix, `\r` stripped.
fn sample_lines(prefix: &[u8], start: usize, whole: bool) -> Result<Vec<Line<'_>>, Problem> {
    let mut out = Vec::new();
    let mut pos = start;
    let mut number = 0u64;
    while pos < prefix.len() && out.len() < SAMPLE_LINES {
        number += 1;
        let end = match memchr::memchr(b'\n', &prefix[pos..]) {
            Some(e) => pos + e,
            None if whole => prefix.len(),
            None => {
                if prefix.len() - pos > MAX_LINE_BYTES {
                    return Err(too_long(number));
                }
                break; // a partial last line: the sample ends before it
            }
        };
        if end - pos > MAX_LINE_BYTES {
            return Err(too_long(number));
        }
        let mut text = &prefix[pos..end];
        if let Some(t) = text.strip_suffix(b"\r") {
            text = t;
        }
        if !text.iter().all(u8::is_ascii_whitespace) {
            out.push(Line {
                number,
                offset: pos,
                text,
            });
        }
        pos = end + 1;
    }
    Ok(out)
}

pub(crate) fn too_long(line: u64) -> Problem {
    Problem::at(
        line,
        None,
        format!(
            "line is longer than {} MiB: not an OHLCV file",
            MAX_LINE_BYTES >> 20
        ),
    )
}

/// Most common field count over the sample (ties go to the larger), and how many
/// lines have it.
fn modal_count(lines: &[Line<'_>], d: u8) -> (usize, usize) {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for l in lines {
        let n = count_fields(l.text, d);
        match counts.iter_mut().find(|(c, _)| *c == n) {
            Some((_, k)) => *k += 1,
            None => counts.push((n, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(n, k)| (k, n))
        .map_or((0, 0), |(n, k)| (n, k))
}

/// Fields in one line, honouring double quotes.
fn count_fields(line: &[u8], d: u8) -> usize {
    let mut n = 1;
    let mut quoted = false;
    for &c in line {
        if c == b'"' {
            quoted = !quoted;
        } else if c == d && !quoted {
            n += 1;
        }
    }
    n
}

fn split_fields(line: &[u8], d: u8) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(d)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(line);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => rec.iter().map(str::to_string).collect(),
        _ => String::from_utf8_lossy(line)
            .split(d as char)
            .map(|s| s.trim().to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_delimiter_preamble_and_header() -> Result<(), Problem> {
        let text = b"https://www.CryptoDataDownload.com\r\nDate;Symbol;Open;High;Low;Close;Volume\r\n2019-10-17 09-AM;BTCUSD;1;2;0.5;1.5;10\r\n";
        let d = sniff(text, true, None)?;
        assert_eq!(d.delimiter, b';');
        assert_eq!(d.ncols, 7);
        assert_eq!(d.preamble_lines, 1);
        assert_eq!(d.data_line, 3);
        assert_eq!(d.header.map(|h| h[0].clone()), Some("Date".to_string()));
        assert_eq!(&text[d.data_offset..d.data_offset + 4], b"2019");
        Ok(())
    }

    #[test]
    fn headerless_files_start_at_line_one() -> Result<(), Problem> {
        let d = sniff(b"20170102 020000;1.05;1.06;1.04;1.05;0\n", true, None)?;
        assert!(d.header.is_none());
        assert_eq!((d.data_line, d.data_offset, d.ncols), (1, 0, 6));
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_a_table() {
        let e = |b: &[u8]| sniff(b, true, None).map(|_| ()).map_err(|p| p.message);
        assert!(matches!(e(b""), Err(m) if m.contains("empty")));
        assert!(matches!(e(b"a b c d e\n1 2 3 4 5\n"), Err(m) if m.contains("cannot split")));
        assert!(matches!(e(b"\x00\x01\x02"), Err(m) if m.contains("binary")));
        assert!(matches!(e(b"t,o,h,l,c\n"), Err(m) if m.contains("only a header")));
        let forced = sniff(b"t,o,h,l,c\n1,2,3,4,5\n", true, Some(b';'));
        assert!(matches!(forced, Err(p) if p.message.contains("is the delimiter right")));
    }
}
