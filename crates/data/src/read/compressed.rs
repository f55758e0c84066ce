//! Compressed and binary containers, told apart by their first bytes rather than
//! the file name (a `.csv` that is really gzip is common after a browser download).
//! Gzip and zstd are decompressed as a stream into the same reader as plain text;
//! the others are refused with what to do, instead of "binary data".

use crate::error::Problem;
use std::io::Read;

/// A compression the reader undoes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Gzip,
    Zstd,
}

impl Codec {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }
}

/// The codec of a file that starts with `prefix`, `None` for text, or a problem
/// naming the container and the fix for those that are not read.
pub(crate) fn codec(prefix: &[u8]) -> Result<Option<Codec>, Problem> {
    let refuse = |what: &str| Err(Problem::file(what.to_string()));
    match prefix {
        [0x1f, 0x8b, ..] => Ok(Some(Codec::Gzip)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Some(Codec::Zstd)),
        [b'P', b'K', 3, 4, ..] => refuse(
            "a zip archive (or an Excel .xlsx workbook): unzip it, or save the sheet as CSV, then read the CSV; gzip (.gz) and zstd (.zst) are read directly",
        ),
        [b'B', b'Z', b'h', ..] => refuse(
            "bzip2-compressed: decompress it first (bunzip2 -k FILE), or recompress with gzip or zstd, which are read directly",
        ),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => refuse(
            "xz-compressed: decompress it first (unxz -k FILE), or recompress with gzip or zstd, which are read directly",
        ),
        // With feature `parquet` these two are read before this check (see
        // `read_path`); a build without it says how to get them read.
        [b'P', b'A', b'R', b'1', ..] => refuse(
            "a Parquet file, which this build does not read: build with `--features parquet`, or convert it to CSV (e.g. python -c \"import polars as pl; pl.read_parquet('IN').write_csv('OUT.csv')\")",
        ),
        [b'A', b'R', b'R', b'O', b'W', b'1', ..] => refuse(
            "an Arrow IPC / Feather file, which this build does not read: build with `--features parquet`, or convert it to CSV (e.g. python -c \"import polars as pl; pl.read_ipc('IN').write_csv('OUT.csv')\")",
        ),
        [b'F', b'E', b'A', b'1', ..] => refuse(
            "a Feather v1 file, which is not read (Arrow IPC / Feather v2 is, with `--features parquet`): convert it to CSV (e.g. python -c \"import pandas as pd; pd.read_feather('IN').to_csv('OUT.csv', index=False)\")",
        ),
        _ => Ok(None),
    }
}

/// A decompressing reader over `input`.
pub(crate) fn decoder<'a, R: Read + 'a>(
    codec: Codec,
    input: R,
) -> std::io::Result<Box<dyn Read + 'a>> {
    Ok(match codec {
        // Multi-member: `cat a.gz b.gz` and bgzip output are one stream.
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            input,
        ))),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_their_first_bytes() {
        assert_eq!(codec(b"\x1f\x8b\x08\0"), Ok(Some(Codec::Gzip)));
        assert_eq!(codec(b"\x28\xb5\x2f\xfd\0"), Ok(Some(Codec::Zstd)));
        assert_eq!(codec(b"timestamp,open"), Ok(None));
        assert_eq!(codec(b""), Ok(None));
        for (bytes, says) in [
            (&b"PK\x03\x04rest"[..], "unzip"),
            (b"BZh91AY", "bunzip2"),
            (b"\xfd7zXZ\0", "unxz"),
            (b"PAR1\x15\x04", "Parquet"),
            (b"ARROW1\0\0", "Arrow"),
        ] {
            match codec(bytes) {
                Err(p) => assert!(p.message.contains(says), "{}", p.message),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn gzip_and_zstd_round_trip() -> std::io::Result<()> {
        use std::io::Write;
        let text = b"timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text)?;
        let gz = gz.finish()?;
        let zst = zstd::stream::encode_all(&text[..], 1)?;
        for (bytes, c) in [(gz, Codec::Gzip), (zst, Codec::Zstd)] {
            assert_eq!(codec(&bytes), Ok(Some(c)));
            let mut out = Vec::new();
            decoder(c, &bytes[..])?.read_to_end(&mut out)?;
            assert_eq!(out, text);
        }
        Ok(())
    }
}
