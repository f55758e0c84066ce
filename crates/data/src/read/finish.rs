//! From scanned rows to a dataset, the same for every format: stamps to UTC,
//! `--repair ohlc`, rows grouped by symbol and put in time order.

use super::columns::Layout;
use super::rows::{unpack_year_last, Problems, Rows, Scanned, StampKind};
use super::scanner::{column, ts_column};
use super::sniff::Dialect;
use super::time::{self, DateFormat, DateOrder};
use super::{Dataset, ReadOptions, Repair, RepairAction, RepairDone};
use crate::bar::Timestamp;
use crate::error::{ColumnRef, DataError, Problem};
use crate::series::{Panel, Series, SourceZone};
use std::collections::{BTreeMap, HashMap};

/// One symbol's rows (`None`: the file has no symbol column) as row indices.
type Group = (Option<String>, Vec<usize>);

/// From the scanned rows to the dataset: stamps to UTC, symbols grouped, each
/// group put in time order, or the problems found.
pub(super) fn finish(
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
    let col = column(layout, ts_column(layout));
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
        &col,
    );
    if problems.total > 0 {
        return Err(DataError::invalid(name, problems.list, problems.total));
    }

    // Group by symbol (in name order), put each group in time order.
    let names = sorted_names(symbols);
    let mut repairs = Vec::new();
    if opts.repair.ohlc {
        widen_high_low(&mut rows, &names, layout.symbol.is_some(), &mut repairs);
    }
    let mut groups = group_rows(&rows, &names, layout.symbol.is_some());
    for (symbol, idx) in &mut groups {
        let mut out = Outcome {
            problems: &mut problems,
            repairs: &mut repairs,
            notes: &mut notes,
            col: &col,
        };
        order_group(symbol, idx, &rows, opts.repair, &mut out);
    }
    if problems.total > 0 {
        return Err(DataError::invalid(name, problems.list, problems.total));
    }
    let series = into_series(rows, groups, zone);
    repairs.sort_by_key(|r| r.line);
    Ok(Dataset {
        path: name.to_string(),
        panel: Panel { series },
        notes,
        repairs,
    })
}

/// The symbol table as (name, id), in name order: the order of the series.
fn sorted_names(symbols: HashMap<Vec<u8>, u32>) -> Vec<(String, u32)> {
    let mut names: Vec<(String, u32)> = symbols
        .into_iter()
        .map(|(k, id)| (String::from_utf8_lossy(&k).into_owned(), id))
        .collect();
    names.sort();
    names
}

/// The rows of each symbol, in file order (all rows when there is no symbol
/// column).
fn group_rows(rows: &Rows, names: &[(String, u32)], panel: bool) -> Vec<Group> {
    if !panel {
        return vec![(None, (0..rows.ts.len()).collect())];
    }
    let mut by_id: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (r, &s) in rows.symbol.iter().enumerate() {
        by_id.entry(s).or_default().push(r);
    }
    names
        .iter()
        .map(|(n, id)| (Some(n.clone()), by_id.remove(id).unwrap_or_default()))
        .collect()
}

/// The groups as series. One group holding every row in place (the usual single
/// series already in order) takes the columns as they are, without a copy.
fn into_series(rows: Rows, mut groups: Vec<Group>, zone: SourceZone) -> Vec<Series> {
    let single_in_place = groups.len() == 1 && groups[0].1.iter().enumerate().all(|(i, &r)| i == r);
    if single_in_place {
        let symbol = groups.pop().and_then(|g| g.0);
        return vec![Series::from_columns_unchecked(
            symbol,
            zone,
            rows.ts.into_iter().map(Timestamp).collect(),
            rows.open,
            rows.high,
            rows.low,
            rows.close,
            rows.volume,
        )];
    }
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
            _ => match year_last_order(rows, problems, notes, col) {
                Some(o) => o,
                None => return SourceZone::AssumedUtc,
            },
        };
        resolve_year_last(rows, order, problems, col);
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

/// Day-first or month-first for `a/b/YYYY` dates, from the first row with a
/// number above 12; `None`, with the problem pushed, when the rows disagree or
/// none decides.
fn year_last_order(
    rows: &Rows,
    problems: &mut Problems,
    notes: &mut Vec<String>,
    col: &Option<ColumnRef>,
) -> Option<DateOrder> {
    let day_first = rows.ts.iter().position(|&v| unpack_year_last(v).0 > 12);
    let month_first = rows.ts.iter().position(|&v| unpack_year_last(v).1 > 12);
    match (day_first, month_first) {
        (Some(d), None) => {
            notes.push(format!(
                "dates read day-first: line {} has a first number above 12",
                rows.line.get(d)
            ));
            Some(DateOrder::DayFirst)
        }
        (None, Some(m)) => {
            notes.push(format!(
                "dates read month-first: line {} has a second number above 12",
                rows.line.get(m)
            ));
            Some(DateOrder::MonthFirst)
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
            None
        }
        (None, None) => {
            problems.push(Problem::at(
                rows.line.get(0),
                col.clone(),
                "ambiguous dates: day and month are both 12 or less on every row; pass --date-format dmy or --date-format mdy",
            ));
            None
        }
    }
}

/// Packed `a/b/YYYY` stamps to (naive) milliseconds in `order`.
fn resolve_year_last(
    rows: &mut Rows,
    order: DateOrder,
    problems: &mut Problems,
    col: &Option<ColumnRef>,
) {
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

/// Where ordering a group reports: refusals, repairs done, notes.
struct Outcome<'a> {
    problems: &'a mut Problems,
    repairs: &'a mut Vec<RepairDone>,
    notes: &'a mut Vec<String>,
    /// The timestamp column, for refusals.
    col: &'a Option<ColumnRef>,
}

/// Puts one symbol's rows in time order: newest-first files are reversed, other
/// disorder and duplicates are refused unless `repair` allows fixing them.
fn order_group(
    symbol: &Option<String>,
    idx: &mut Vec<usize>,
    rows: &Rows,
    repair: Repair,
    out: &mut Outcome<'_>,
) {
    let ts = &rows.ts;
    if idx.windows(2).all(|w| ts[w[1]] > ts[w[0]]) {
        return;
    }
    let who = symbol.as_ref().map_or(String::new(), |s| format!("{s}: "));
    if !into_time_order(symbol, &who, idx, rows, repair, out) {
        return;
    }
    drop_same_time(symbol, &who, idx, rows, repair, out);
}

/// Reverses a newest-first group, sorts a disordered one under `--repair sort`,
/// or refuses it (`false`: every step back in time is reported).
fn into_time_order(
    symbol: &Option<String>,
    who: &str,
    idx: &mut [usize],
    rows: &Rows,
    repair: Repair,
    out: &mut Outcome<'_>,
) -> bool {
    let ts = &rows.ts;
    let descending = idx.windows(2).all(|w| ts[w[1]] <= ts[w[0]]);
    if descending && idx.windows(2).any(|w| ts[w[1]] < ts[w[0]]) {
        idx.reverse();
        out.notes.push(format!(
            "{who}rows were newest-first: reversed into time order"
        ));
    } else if idx.windows(2).any(|w| ts[w[1]] < ts[w[0]]) {
        if !repair.sort {
            for w in idx.windows(2).filter(|w| ts[w[1]] < ts[w[0]]) {
                out.problems.push(Problem::at(
                    rows.line.get(w[1]),
                    out.col.clone(),
                    format!(
                        "{who}rows out of time order: {} comes after {} on line {}; --repair sort sorts them",
                        Timestamp(ts[w[1]]),
                        Timestamp(ts[w[0]]),
                        rows.line.get(w[0])
                    ),
                ));
            }
            return false;
        }
        let before = idx.to_vec();
        idx.sort_by_key(|&r| ts[r]);
        for (pos, &r) in idx.iter().enumerate() {
            if before[pos] != r {
                out.repairs.push(RepairDone {
                    line: rows.line.get(r),
                    symbol: symbol.clone(),
                    action: RepairAction::Sorted,
                });
            }
        }
        out.repairs.sort_by_key(|r| r.line);
    }
    true
}

/// Rows at the same time as the row before, in a group in time order: dropped
/// under `--repair keep-last` (the later line stays) or `dedupe` (exact copies),
/// else refused.
fn drop_same_time(
    symbol: &Option<String>,
    who: &str,
    idx: &mut Vec<usize>,
    rows: &Rows,
    repair: Repair,
    out: &mut Outcome<'_>,
) {
    let ts = &rows.ts;
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
                out.repairs.push(RepairDone {
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
                    out.repairs.push(RepairDone {
                        line: rows.line.get(r),
                        symbol: symbol.clone(),
                        action: RepairAction::DroppedDuplicate {
                            of_line: rows.line.get(k),
                        },
                    });
                    continue;
                }
                out.problems
                    .push(duplicate(who, rows, k, r, exact, out.col));
            }
            _ => kept.push(r),
        }
    }
    *idx = kept;
}

/// Row `r` at the time of row `k` before it, refused.
fn duplicate(
    who: &str,
    rows: &Rows,
    k: usize,
    r: usize,
    exact: bool,
    col: &Option<ColumnRef>,
) -> Problem {
    let hint = if exact {
        "; an exact copy: --repair dedupe drops it"
    } else {
        " with different values; --repair keep-last keeps the row later in the file"
    };
    Problem::at(
        rows.line.get(r),
        col.clone(),
        format!(
            "{who}duplicate timestamp {} (also on line {}){hint}",
            Timestamp(rows.ts[r]),
            rows.line.get(k)
        ),
    )
}
