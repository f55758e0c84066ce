//! Reading OHLCV files into validated series: the format is told apart by
//! content and each goes to its reader; all of them end in the same checks
//! ([`mod@finish`]), so problems, repairs and notes read alike whatever the format.
//!
//! - CSV, one pass ([`serial`]): the csv crate over the file after a dialect sniff
//!   of its first lines. It gives the exact line of every record, which is what
//!   makes "line 4, column 3" errors possible; values go straight into column
//!   vectors that become the [`Series`](crate::series::Series) without another copy.
//! - CSV, in parts ([`parallel`]): large quote-free files on several threads, with
//!   the result of one pass.
//! - gzip / zstd ([`compressed`]): decompressed as a stream into the one pass.
//! - JSON candles ([`json`]) and (feature `parquet`) Parquet / Arrow IPC.
//!
//! Every reader turns records into rows through the one [`scanner`], into the
//! types of [`rows`].

mod columns;
mod compressed;
mod finish;
#[cfg(feature = "parquet")]
mod ipc_check;
mod json;
mod options;
mod parallel;
#[cfg(feature = "parquet")]
mod parquet;
#[cfg(feature = "parquet")]
mod parquet_check;
mod rows;
mod scanner;
mod serial;
mod sniff;
mod time;

pub use columns::Role;
pub use options::{Dataset, ReadOptions, Repair, RepairAction, RepairDone};
pub use sniff::{MAX_COLUMNS, MAX_LINE_BYTES};
pub use time::{DateFormat, DateOrder};

use crate::error::DataError;
use finish::finish;
use serial::{prepare, scan_all};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

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
