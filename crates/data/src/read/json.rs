//! JSON candle files: an array of arrays, `[[time, open, high, low, close, volume,
//! ...], ...]`, the shape exchange APIs (Binance klines, values as strings) and
//! freqtrade's data files (numbers) use. Time is epoch seconds or milliseconds (or
//! any timestamp text the CSV reader accepts); values after the sixth are ignored.
//!
//! A small scanner of its own rather than serde_json: each candle goes through the
//! CSV reader's row check unchanged (so validation, repairs and messages are the
//! same), and a message needs the element index and the line the element starts
//! on, which a parse into a tree does not keep.

use super::columns::{Layout, Role};
use super::finish::finish;
use super::rows::{Problems, Record, Rows};
use super::scanner::Scanner;
use super::sniff::Dialect;
use super::ReadOptions;
use crate::error::{DataError, Problem};
use crate::read::Dataset;

/// Whether a text file is JSON: its first character is `[` or `{`, which no CSV
/// header or data row starts with.
pub(crate) fn looks_like_json(prefix: &[u8]) -> bool {
    let b = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    matches!(
        b.iter().find(|c| !c.is_ascii_whitespace()),
        Some(b'[' | b'{')
    )
}

/// The values of one candle: number text, or a string's contents.
struct Candle<'v, 'a>(&'v [&'a [u8]]);

impl Record for Candle<'_, '_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn field(&self, i: usize) -> &[u8] {
        self.0.get(i).copied().unwrap_or_default()
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    /// 1-based line of `pos`.
    line: u64,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.pos += usize::from(hit);
        hit
    }

    /// One value of a candle: a number's text, a string's contents (escapes left
    /// as written: no timestamp or number needs one), or empty for `null`.
    fn scalar(&mut self) -> Result<&'a [u8], String> {
        let b = self.b;
        match self.peek() {
            Some(b'"') => {
                let start = self.pos + 1;
                let mut i = start;
                loop {
                    match b.get(i) {
                        Some(b'"') => break,
                        Some(b'\\') => i += 2,
                        Some(b'\n') | None => return Err("a string is not closed".into()),
                        Some(_) => i += 1,
                    }
                }
                self.pos = i + 1;
                Ok(b.get(start..i).unwrap_or_default())
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.pos;
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                ) {
                    self.pos += 1;
                }
                Ok(b.get(start..self.pos).unwrap_or_default())
            }
            Some(b'n') if b[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(b"")
            }
            Some(b'[' | b'{') => Err("a nested array or object where a value was expected".into()),
            Some(c) => Err(format!(
                "unexpected {} where a value was expected",
                shown(c)
            )),
            None => Err("the file ends inside a candle".into()),
        }
    }

    /// One candle `[v, v, ...]` into `out`.
    fn candle(&mut self, out: &mut Vec<&'a [u8]>) -> Result<(), String> {
        out.clear();
        match self.peek() {
            Some(b'[') => self.pos += 1,
            Some(b'{') => {
                return Err(
                    "an object; candles are read as arrays [time, open, high, low, close, volume]: convert the objects to arrays or to CSV".into(),
                )
            }
            Some(c) => return Err(format!("{} where a candle [time, open, ...] was expected", shown(c))),
            None => return Err("the file ends where a candle was expected".into()),
        }
        self.ws();
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            out.push(self.scalar()?);
            self.ws();
            if self.eat(b']') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(match self.peek() {
                    Some(c) => format!(
                        "expected ',' or ']' after value {}, found {}",
                        out.len(),
                        shown(c)
                    ),
                    None => "the file ends inside a candle".into(),
                });
            }
            self.ws();
        }
    }
}

fn shown(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// The column layout of candles with `n` values: `--columns` if given, else
/// time, open, high, low, close, volume and the rest ignored.
fn layout(n: usize, opts: &ReadOptions) -> Result<(Layout, Vec<String>), String> {
    let mut notes = Vec::new();
    let roles: Vec<Role> = match &opts.columns {
        Some(roles) if roles.len() != n => {
            return Err(format!(
                "--columns names {} column(s) but the first candle has {n} value(s)",
                roles.len()
            ))
        }
        Some(roles) => roles.clone(),
        None => {
            if n < 5 {
                return Err(format!(
                    "the first candle has {n} value(s); at least 5 are needed: [time, open, high, low, close, volume]"
                ));
            }
            const ORDER: [Role; 6] = [
                Role::Timestamp,
                Role::Open,
                Role::High,
                Role::Low,
                Role::Close,
                Role::Volume,
            ];
            notes.push(
                "JSON candles read as [time, open, high, low, close, volume]; give --columns for another order"
                    .into(),
            );
            if n > 6 {
                notes.push(format!(
                    "values 7 to {n} of each candle ignored (Binance-style close time, quote volume, ...)"
                ));
            }
            (0..n)
                .map(|i| ORDER.get(i).copied().unwrap_or(Role::Skip))
                .collect()
        }
    };
    let names = roles
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Role::Skip => format!("#{}", i + 1),
            r => r.to_string(),
        })
        .collect();
    let l = Layout::from_roles(&roles.iter().map(|&r| Some(r)).collect::<Vec<_>>(), names)?;
    notes.extend(l.notes.iter().cloned());
    Ok((l, notes))
}

/// Steps into the candle array, refusing an object, other text or an empty array
/// (with the line to report).
fn open_array(c: &mut Cursor<'_>) -> Result<(), (u64, String)> {
    c.ws();
    match c.peek() {
        Some(b'[') => c.pos += 1,
        Some(b'{') => {
            return Err((
                c.line,
                "a JSON object; candles are read from an array of arrays [[time, open, high, low, close, volume], ...]: take the array out of the object, or convert to CSV".into(),
            ))
        }
        _ => return Err((c.line, "not JSON: expected '[' at the start".into())),
    }
    c.ws();
    if c.eat(b']') {
        return Err((c.line, "an empty array: no candles".into()));
    }
    Ok(())
}

/// Reads a JSON candle file held in memory; `name` stands for the path in messages.
pub(crate) fn read(name: &str, bytes: &[u8], opts: &ReadOptions) -> Result<Dataset, DataError> {
    let fail = |line: u64, msg: String| Err(DataError::one(name, Problem::at(line, None, msg)));
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut c = Cursor { b, pos: 0, line: 1 };
    if let Err((line, msg)) = open_array(&mut c) {
        return fail(line, msg);
    }
    let mut fields = Vec::new();
    let mut line = c.line;
    if let Err(why) = c.candle(&mut fields) {
        return fail(line, format!("element 0: {why}"));
    }
    let (layout, notes) = layout(fields.len(), opts).map_err(|m| match &opts.columns {
        Some(_) => DataError::Usage(format!("{name}: {m}")),
        None => DataError::one(name, Problem::at(line, None, format!("element 0: {m}"))),
    })?;
    let mut sc = Scanner::new(&layout, opts);
    let mut rows = Rows::with_capacity(b.len() / 48 + 16, layout.symbol.is_some());
    let mut problems = Problems::new(opts.max_problems);
    let first_line = line;
    let mut i = 0usize;
    loop {
        let before = problems.list.len();
        if fields.len() != layout.ncols {
            problems.push(Problem::at(
                line,
                None,
                format!("{} value(s), element 0 has {}", fields.len(), layout.ncols),
            ));
        } else {
            sc.row(&Candle(&fields), line, &mut rows, &mut problems);
        }
        for p in problems.list.iter_mut().skip(before) {
            p.message = format!("element {i}: {}", p.message);
        }
        c.ws();
        if c.eat(b']') {
            break;
        }
        if !c.eat(b',') {
            let msg = match c.peek() {
                Some(ch) => format!("expected ',' or ']' after element {i}, found {}", shown(ch)),
                None => format!("the file ends after element {i}: the closing ']' is missing"),
            };
            return fail(c.line, msg);
        }
        c.ws();
        i += 1;
        line = c.line;
        if let Err(why) = c.candle(&mut fields) {
            return fail(line, format!("element {i}: {why}"));
        }
    }
    c.ws();
    if c.pos < c.b.len() {
        return fail(
            c.line,
            "text after the closing ']' of the candle array".into(),
        );
    }
    let dialect = Dialect {
        delimiter: b',',
        ncols: layout.ncols,
        header: None,
        data_offset: 0,
        data_line: first_line,
        preamble_lines: 0,
        line_bytes: 0,
    };
    let scanned = sc.into_scanned(rows, problems);
    finish(name, &dialect, opts, &layout, notes, scanned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataError;

    fn problems(text: &str) -> Vec<String> {
        match read("c.json", text.as_bytes(), &ReadOptions::default()) {
            Err(DataError::Invalid { problems, .. }) => {
                problems.iter().map(|p| p.display_in("c.json")).collect()
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn freqtrade_and_binance_shapes() -> Result<(), DataError> {
        let ft = "[[1514764800000,1.0,2.0,0.5,1.5,10.0],\n [1514768400000,1.5,2.5,1.0,2.0,12]]";
        let ds = read("ft.json", ft.as_bytes(), &ReadOptions::default())?;
        let s = &ds.panel.series[0];
        assert_eq!(s.len(), 2);
        assert_eq!(s.first_ts().map(|t| t.0), Some(1_514_764_800_000));
        let bn =
            r#"[[1514764800,"1.0","2.0","0.5","1.5","10.0",1514768399999,"15.0",7,"1","1","0"]]"#;
        let ds = read("bn.json", bn.as_bytes(), &ReadOptions::default())?;
        assert_eq!(
            ds.panel.series[0].first_ts().map(|t| t.0),
            Some(1_514_764_800_000)
        );
        assert!(
            ds.notes.iter().any(|n| n.contains("values 7 to 12")),
            "{:?}",
            ds.notes
        );
        Ok(())
    }

    proptest::proptest! {
        /// Any bytes: an error or a dataset, never a panic (the reader is reached
        /// from user input). cargo-fuzz is not installed here; this and
        /// `examples/fuzz_readers.rs` stand in for it.
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut b = vec![b'['];
            b.extend(bytes);
            let _ = read("f.json", &b, &ReadOptions::default());
        }

        /// JSON-shaped text built from the fragments the scanner branches on.
        #[test]
        fn never_panics_on_json_like_text(parts in proptest::collection::vec(proptest::sample::select(vec![
            "[", "]", ",", "\"", "\\", "{", "null", " ", "\n", "1514764800000", "1514764800",
            "1.5", "-", "e", "1e308", "0", "\u{e9}", "\"2017-01-02\"",
        ]), 0..80)) {
            let text: String = parts.concat();
            let _ = read("f.json", text.as_bytes(), &ReadOptions::default());
        }
    }

    #[test]
    fn messages_name_the_element_and_its_line() {
        let p = problems("[\n[1514764800000,1,2,0.5,1.5,1],\n[1514768400000,1,\"x\",0.5,1.5,1]\n]");
        assert_eq!(
            p,
            ["c.json:3:3: element 1: 'x' is not a number (column 'high')"]
        );
        let p = problems("[[1514764800000,1,2,0.5,1.5,1],[1514768400000,1,2,0.5]]");
        assert_eq!(p, ["c.json:1: element 1: 4 value(s), element 0 has 6"]);
        for (text, says) in [
            ("[[1,2,3", "element 0: the file ends inside a candle"),
            (
                "[[1514764800000,1,2,0.5,1.5,1] [",
                "expected ',' or ']' after element 0",
            ),
            ("[[1514764800000,1,2,0.5,1.5,1]", "closing ']' is missing"),
            ("[{\"t\":1}]", "element 0: an object"),
            ("{\"data\":[]}", "a JSON object"),
            ("[]", "no candles"),
            ("[[1,[2]]]", "nested"),
            ("[[1514764800000,1,2,0.5,1.5,1]] x", "text after"),
            ("[[\"abc]]", "not closed"),
            ("[[1,2,3]]", "at least 5"),
        ] {
            let p = problems(text);
            assert!(p.iter().any(|m| m.contains(says)), "{text}: {p:?}");
        }
    }
}
