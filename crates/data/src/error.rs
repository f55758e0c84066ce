//! Typed errors of the data crate. Every problem in an input file carries the line
//! and column a person needs to find it, in the `path:line:column: message` form
//! that editors and terminals turn into links.

use std::fmt;

/// A column of the input file: 1-based position and the name it was read under.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnRef {
    pub index: usize,
    pub name: String,
}

/// One thing wrong with an input file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// 1-based physical line; `None` for whole-file problems (empty file, missing column).
    pub line: Option<u64>,
    pub column: Option<ColumnRef>,
    pub message: String,
}

impl Problem {
    pub fn at(line: u64, column: Option<ColumnRef>, message: impl Into<String>) -> Problem {
        Problem {
            line: Some(line),
            column,
            message: message.into(),
        }
    }

    pub fn file(message: impl Into<String>) -> Problem {
        Problem {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// `path:line:column: message (column 'name')`.
    pub fn display_in(&self, path: &str) -> String {
        let mut s = String::from(path);
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(c) = &self.column {
                s.push_str(&format!(":{}", c.index));
            }
        }
        s.push_str(": ");
        s.push_str(&self.message);
        if let Some(c) = &self.column {
            if !c.name.is_empty() {
                s.push_str(&format!(" (column '{}')", c.name));
            }
        }
        s
    }
}

/// Everything the data crate can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The I/O error is part of the message (not a `source`), so an error chain
    /// printed with `{:#}` does not repeat it.
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    /// The file was read to the end (or as far as it could be) and is refused.
    /// `problems` holds the first few; `total` counts all that were found.
    #[error("{}", InvalidDisplay { path, problems, total: *total })]
    Invalid {
        path: String,
        problems: Vec<Problem>,
        total: usize,
    },
    #[error("{0}")]
    Usage(String),
}

impl DataError {
    pub(crate) fn invalid(path: &str, problems: Vec<Problem>, total: usize) -> DataError {
        DataError::Invalid {
            path: path.to_string(),
            problems,
            total,
        }
    }

    pub(crate) fn one(path: &str, p: Problem) -> DataError {
        DataError::invalid(path, vec![p], 1)
    }
}

struct InvalidDisplay<'a> {
    path: &'a str,
    problems: &'a [Problem],
    total: usize,
}

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(&p.display_in(self.path))?;
        }
        let more = self.total.saturating_sub(self.problems.len());
        if more > 0 {
            write!(f, "\n{}: ... and {more} more problem(s)", self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_print_as_path_line_column() {
        let p = Problem::at(
            4,
            Some(ColumnRef {
                index: 3,
                name: "High".into(),
            }),
            "'4.x4' is not a number",
        );
        assert_eq!(
            p.display_in("a.csv"),
            "a.csv:4:3: '4.x4' is not a number (column 'High')"
        );
        let e = DataError::invalid("a.csv", vec![p, Problem::file("empty")], 5);
        assert_eq!(
            e.to_string(),
            "a.csv:4:3: '4.x4' is not a number (column 'High')\na.csv: empty\na.csv: ... and 3 more problem(s)"
        );
    }
}
