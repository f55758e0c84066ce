/*!
OHLCV bars, series and panels for candlecast: reading real-world CSV exports into
validated columnar series, resampling, and writing the normalised layout.

# Brief overview

- [`read_path`] / [`read_bytes`] sniff the dialect (delimiter, preamble, header),
  map columns by name (any case, common synonyms) or by `--columns`, parse the
  timestamp formats real exports use, and validate every row. A refused file gives
  [`DataError::Invalid`] listing the first problems as `path:line:column: message`.
- [`Series`] holds one instrument column by column; [`Panel`] holds many.
- [`resample`] aggregates to a coarser [`Interval`].

# Example

```
use candlecast_data::{read_bytes, ReadOptions};

let csv = "Date,Open,High,Low,Close,Volume\n1/4/1999,1,2,0.5,1.5,10\n1/15/1999,1.5,2,1,1.8,12\n";
let ds = read_bytes("example.csv", csv.as_bytes(), &ReadOptions::default())?;
let s = &ds.panel.series[0];
assert_eq!(s.len(), 2);
assert_eq!(s.first_ts().map(|t| t.to_rfc3339()), Some("1999-01-04T00:00:00Z".into()));
# Ok::<(), candlecast_data::DataError>(())
```
*/

mod bar;
mod clock;
mod error;
mod read;
mod resample;
mod series;
mod write;

pub use bar::{
    check_input_values, check_values, Bar, BarField, BarViolation, Timestamp, MAX_PRICE,
    MAX_VOLUME, MIN_PRICE,
};
pub use clock::WallClock;
pub use error::{ColumnRef, DataError, Problem};
pub use read::{
    is_input_file, read_bytes, read_path, Dataset, DateFormat, DateOrder, ReadOptions, Repair,
    RepairAction, RepairDone, Role, INPUT_EXTENSIONS, MAX_COLUMNS, MAX_LINE_BYTES,
};
pub use resample::{resample, Interval, ResampleError};
pub use series::{Panel, Series, SeriesError, SourceZone};
pub use write::{write_panel, write_series};
