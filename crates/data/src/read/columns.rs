//! Column roles and the header synonyms real exports use.

use std::fmt;

/// What a column of the input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Timestamp,
    /// A date-only column, joined with a [`Role::Time`] column (MetaTrader-style).
    Date,
    Time,
    Open,
    High,
    Low,
    Close,
    Volume,
    Symbol,
    /// Present in the file, not used.
    Skip,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Timestamp => "timestamp",
            Role::Date => "date",
            Role::Time => "time",
            Role::Open => "open",
            Role::High => "high",
            Role::Low => "low",
            Role::Close => "close",
            Role::Volume => "volume",
            Role::Symbol => "symbol",
            Role::Skip => "skip",
        })
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    /// `--columns` accepts the same synonyms as a header, plus `skip`/`-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = normalize(s);
        if n.is_empty() || n == "skip" || n == "ignore" || s.trim() == "-" {
            return Ok(Role::Skip);
        }
        role_of(&n).ok_or_else(|| {
            format!(
                "unknown column '{s}': use timestamp, date, time, open, high, low, close, volume, symbol or skip"
            )
        })
    }
}

/// Lower case, letters and digits only: `<DATE>`, `Date`, `date ` all become `date`.
pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The role a normalised header name stands for, if any.
pub(crate) fn role_of(n: &str) -> Option<Role> {
    Some(match n {
        "timestamp" | "timestamps" | "t" | "datetime" | "datetimes" | "dt" | "ts" | "gmttime"
        | "localtime" | "opentime" | "timeutc" | "datetimeutc" | "timestamputc" | "unix"
        | "unixtime" | "epoch" => Role::Timestamp,
        "date" | "day" | "tradedate" | "tradingday" | "dateutc" => Role::Date,
        "time" => Role::Time,
        "open" | "o" | "openprice" | "first" => Role::Open,
        "high" | "h" | "highprice" | "max" => Role::High,
        "low" | "l" | "lowprice" | "min" => Role::Low,
        "close" | "c" | "closeprice" | "last" | "lastprice" => Role::Close,
        "volume" | "vol" | "v" | "tickvolume" | "tickvol" | "realvolume" | "volumes" => {
            Role::Volume
        }
        "symbol" | "ticker" | "instrument" | "pair" | "asset" | "sym" | "secid" | "code"
        | "tickersymbol" => Role::Symbol,
        _ => return None,
    })
}

/// Where the timestamp of a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsSource {
    Single(usize),
    /// Date and time columns joined with a space.
    Split {
        date: usize,
        time: usize,
    },
}

/// The resolved column layout of one file (0-based indices).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub ncols: usize,
    pub ts: TsSource,
    pub open: usize,
    pub high: usize,
    pub low: usize,
    pub close: usize,
    pub volume: Option<usize>,
    pub symbol: Option<usize>,
    /// Display name per column: the header text, or the role for headerless files.
    pub names: Vec<String>,
    /// Columns present but not used, by name, for the report.
    pub ignored: Vec<String>,
    /// Assumptions made while mapping, for the report.
    pub notes: Vec<String>,
}

/// The column of each role (indexed by `Role as usize`); a role claimed by two
/// columns is refused, naming both.
fn role_columns(roles: &[Option<Role>], names: &[String]) -> Result<[Option<usize>; 10], String> {
    let mut slot: [Option<usize>; 10] = [None; 10];
    let idx = |r: Role| r as usize;
    for (i, r) in roles.iter().enumerate() {
        let Some(r) = *r else { continue };
        if r == Role::Skip {
            continue;
        }
        match slot[idx(r)] {
            None => slot[idx(r)] = Some(i),
            Some(first) => {
                return Err(format!(
                    "columns {} ('{}') and {} ('{}') both look like {r}; name one with --columns",
                    first + 1,
                    names.get(first).map_or("", String::as_str),
                    i + 1,
                    names.get(i).map_or("", String::as_str),
                ))
            }
        }
    }
    Ok(slot)
}

/// Where the timestamp comes from, given the timestamp, date and time columns.
fn ts_source(
    (stamp, date, time): (Option<usize>, Option<usize>, Option<usize>),
    names: &[String],
    notes: &mut Vec<String>,
) -> Result<TsSource, String> {
    Ok(match (stamp, date, time) {
        (Some(t), _, _) => TsSource::Single(t),
        (None, Some(d), Some(t)) => TsSource::Split { date: d, time: t },
        (None, Some(d), None) | (None, None, Some(d)) => TsSource::Single(d),
        (None, None, None) => {
            // An unnamed first column is a pandas index: the timestamps. Of
            // several unnamed leading columns, the last: the ones before it are
            // empty cells the rows start with.
            match names.iter().take_while(|n| n.trim().is_empty()).count() {
                0 => return Err(missing("timestamp", names)),
                k => {
                    notes.push(format!("the unnamed column {k} was read as the timestamp"));
                    TsSource::Single(k - 1)
                }
            }
        }
    })
}

impl Layout {
    /// Maps roles (from a header or `--columns`) to indices, or says what is missing.
    pub(crate) fn from_roles(roles: &[Option<Role>], names: Vec<String>) -> Result<Layout, String> {
        let ncols = roles.len();
        let slot = role_columns(roles, &names)?;
        let get = |r: Role| slot[r as usize];
        let mut notes = Vec::new();
        let ts = ts_source(
            (get(Role::Timestamp), get(Role::Date), get(Role::Time)),
            &names,
            &mut notes,
        )?;
        let need = |r: Role| get(r).ok_or_else(|| missing(&r.to_string(), &names));
        let (open, high, low, close) = (
            need(Role::Open)?,
            need(Role::High)?,
            need(Role::Low)?,
            need(Role::Close)?,
        );
        let mut volume = get(Role::Volume);
        if volume.is_none() {
            // `Volume BTC`, `Volume USD`: take the first, and say so.
            volume = names
                .iter()
                .position(|n| normalize(n).starts_with("volume"));
            match volume {
                Some(v) => notes.push(format!("column '{}' was read as the volume", names[v])),
                None => notes.push("no volume column: volume set to 0".into()),
            }
        }
        let used = |i: usize| {
            let in_ts = match ts {
                TsSource::Single(t) => t == i,
                TsSource::Split { date, time } => date == i || time == i,
            };
            in_ts
                || [open, high, low, close].contains(&i)
                || volume == Some(i)
                || get(Role::Symbol) == Some(i)
        };
        let ignored = (0..ncols)
            .filter(|&i| !used(i))
            .map(|i| match names.get(i) {
                Some(n) if !n.trim().is_empty() => n.clone(),
                _ => format!("#{} (unnamed)", i + 1),
            })
            .collect();
        Ok(Layout {
            ncols,
            ts,
            open,
            high,
            low,
            close,
            volume,
            symbol: get(Role::Symbol),
            names,
            ignored,
            notes,
        })
    }

    /// The layout of a header line.
    pub(crate) fn from_header(header: &[String]) -> Result<Layout, String> {
        let roles: Vec<Option<Role>> = header.iter().map(|h| role_of(&normalize(h))).collect();
        Layout::from_roles(&roles, header.to_vec())
    }

    /// The default layout of a headerless file: `timestamp,open,high,low,close[,volume]`.
    pub(crate) fn default_for(ncols: usize) -> Result<Layout, String> {
        const ORDER: [Role; 6] = [
            Role::Timestamp,
            Role::Open,
            Role::High,
            Role::Low,
            Role::Close,
            Role::Volume,
        ];
        if ncols != 5 && ncols != 6 {
            return Err(format!(
                "no header and {ncols} columns: the default order timestamp,open,high,low,close[,volume] needs 5 or 6; name them with --columns"
            ));
        }
        let roles: Vec<Option<Role>> = ORDER[..ncols].iter().map(|&r| Some(r)).collect();
        let names = ORDER[..ncols].iter().map(Role::to_string).collect();
        let mut l = Layout::from_roles(&roles, names)?;
        l.notes
            .push("no header: columns read as timestamp,open,high,low,close[,volume]".into());
        Ok(l)
    }

    pub(crate) fn name(&self, i: usize) -> String {
        self.names.get(i).cloned().unwrap_or_default()
    }
}

fn missing(what: &str, names: &[String]) -> String {
    format!(
        "no {what} column among [{}]; name the columns with --columns",
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn synonyms_in_any_case_and_order() -> Result<(), String> {
        let l = Layout::from_header(&h(&[
            "Date",
            "Open",
            "Close",
            "High",
            "Low",
            "Adj Close",
            "Vol",
        ]))?;
        assert_eq!(
            (l.open, l.close, l.high, l.low, l.volume),
            (1, 2, 3, 4, Some(6))
        );
        assert_eq!(l.ts, TsSource::Single(0));
        assert_eq!(l.ignored, vec!["Adj Close".to_string()]);
        let l = Layout::from_header(&h(&[
            "<TICKER>", "<DATE>", "<TIME>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>",
        ]))?;
        assert_eq!(l.ts, TsSource::Split { date: 1, time: 2 });
        assert_eq!(l.symbol, Some(0));
        assert_eq!(l.volume, None);
        Ok(())
    }

    #[test]
    fn unnamed_index_column_is_the_timestamp() -> Result<(), String> {
        let l = Layout::from_header(&h(&["", "Open", "High", "Low", "Close", "Volume"]))?;
        assert_eq!(l.ts, TsSource::Single(0));
        Ok(())
    }

    #[test]
    fn missing_and_ambiguous_columns_are_errors() {
        let e = Layout::from_header(&h(&["time", "open", "high", "close"]));
        assert!(matches!(e, Err(m) if m.contains("no low column")));
        let e = Layout::from_header(&h(&["time", "open", "high", "low", "close", "last"]));
        assert!(matches!(e, Err(m) if m.contains("both look like close")));
        assert!(Layout::default_for(7).is_err());
    }

    #[test]
    fn column_flag_values() {
        assert_eq!("Timestamp".parse(), Ok(Role::Timestamp));
        assert_eq!("-".parse(), Ok(Role::Skip));
        assert!("price".parse::<Role>().is_err());
    }
}
