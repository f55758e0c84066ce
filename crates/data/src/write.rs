//! Writing series in the normalised layout `timestamp,[symbol,]open,high,low,close,volume`.
//!
//! Numbers are written with Rust's shortest round-trip formatting, so reading a
//! written file gives back the same `f64` values bit for bit.

use crate::series::{Panel, Series};
use std::io::{self, Write};

/// Writes one series with a header.
pub fn write_series<W: Write>(out: W, s: &Series) -> io::Result<()> {
    write_all(out, std::slice::from_ref(s), false)
}

/// Writes a panel in long format with a `symbol` column, symbol by symbol.
pub fn write_panel<W: Write>(out: W, p: &Panel) -> io::Result<()> {
    write_all(out, &p.series, true)
}

fn write_all<W: Write>(out: W, series: &[Series], with_symbol: bool) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    if with_symbol {
        writeln!(w, "timestamp,symbol,open,high,low,close,volume")?;
    } else {
        writeln!(w, "timestamp,open,high,low,close,volume")?;
    }
    for s in series {
        let sym = s.symbol.as_deref().unwrap_or("");
        if with_symbol && (sym.is_empty() || sym.contains([',', '"', '\n', '\r'])) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("symbol {sym:?} cannot be written unquoted"),
            ));
        }
        for b in s.bars() {
            write!(w, "{}", b.ts)?;
            if with_symbol {
                write!(w, ",{sym}")?;
            }
            writeln!(
                w,
                ",{},{},{},{},{}",
                b.open, b.high, b.low, b.close, b.volume
            )?;
        }
    }
    w.flush()
}
