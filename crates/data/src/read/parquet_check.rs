//! A Parquet file's counts and sizes checked before polars reads it.
//!
//! polars trusts the counts in a file's footer and page headers: a page header
//! that claims -201 values is cast to a huge `usize` and the allocation that
//! follows aborts the whole process (fuzzing found it; an abort cannot be caught
//! like a panic). A file reaches the reader from user input, so every count and
//! size that polars allocates from is checked here first, against the file's own
//! length and against limits no price series comes near. The walk reads only the
//! footer and the page headers (a few bytes a page), not the data.

use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
use polars_parquet_format::{ColumnMetaData, FileMetaData, PageHeader, PageType};

/// Rows a file may hold: a billion bars, far beyond any one price series.
const MAX_ROWS: i64 = 1 << 30;
/// Bytes one page (compressed or not) may take; writers use about 1 MiB.
const MAX_PAGE_BYTES: i64 = 1 << 30;
/// Bytes the thrift decoder may allocate for the footer or one page header.
const MAX_THRIFT_BYTES: usize = 64 << 20;

/// `Err(message)` when the file's footer or page headers hold a count or size
/// that is negative, inconsistent, beyond the file, or beyond the limits above.
pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    let meta = footer(bytes)?;
    if !(0..=MAX_ROWS).contains(&meta.num_rows) {
        return Err(format!("the footer claims {} rows", meta.num_rows));
    }
    check_schema(&meta)?;
    let mut rows = 0i64;
    for (g, group) in meta.row_groups.iter().enumerate() {
        if !(0..=MAX_ROWS).contains(&group.num_rows) {
            return Err(format!("row group {g} claims {} rows", group.num_rows));
        }
        rows += group.num_rows;
        for (c, chunk) in group.columns.iter().enumerate() {
            let Some(cm) = &chunk.meta_data else {
                return Err(format!("row group {g}, column {c}: no column metadata"));
            };
            check_chunk(bytes, cm, group.num_rows)
                .map_err(|m| format!("row group {g}, column {c}: {m}"))?;
        }
    }
    if rows != meta.num_rows {
        return Err(format!(
            "the row groups hold {rows} rows but the footer claims {}",
            meta.num_rows
        ));
    }
    Ok(())
}

/// The footer: `... <metadata> <u32 LE length> PAR1`.
fn footer(bytes: &[u8]) -> Result<FileMetaData, String> {
    let n = bytes.len();
    if n < 12 || !bytes.ends_with(b"PAR1") {
        return Err("no Parquet footer (truncated?)".into());
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[n - 8..n - 4]);
    let len = u32::from_le_bytes(len) as usize;
    let start = (n - 8)
        .checked_sub(len)
        .filter(|&s| s >= 4)
        .ok_or_else(|| format!("the footer claims {len} bytes, more than the file holds"))?;
    let mut prot = TCompactInputProtocol::new(&bytes[start..n - 8], MAX_THRIFT_BYTES);
    FileMetaData::read_from_in_protocol(&mut prot).map_err(|e| format!("footer: {e}"))
}

/// Child counts and fixed lengths of the schema, which size the column tree.
fn check_schema(meta: &FileMetaData) -> Result<(), String> {
    let n = meta.schema.len();
    for el in &meta.schema {
        if let Some(k) = el.num_children {
            if k < 0 || k as usize > n {
                return Err(format!("schema element '{}' claims {k} children", el.name));
            }
        }
        if let Some(l) = el.type_length {
            if !(0..=MAX_PAGE_BYTES).contains(&i64::from(l)) {
                return Err(format!("schema element '{}' has length {l}", el.name));
            }
        }
    }
    Ok(())
}

/// One column chunk: its byte range inside the file, then every page header in
/// it, whose value counts must add up to the chunk's.
fn check_chunk(bytes: &[u8], cm: &ColumnMetaData, rows: i64) -> Result<(), String> {
    if !(0..=MAX_ROWS).contains(&cm.num_values) {
        return Err(format!("the chunk claims {} values", cm.num_values));
    }
    let start = match cm.dictionary_page_offset {
        Some(d) if d > 0 && d < cm.data_page_offset => d,
        _ => cm.data_page_offset,
    };
    let size = cm.total_compressed_size;
    let end = start.checked_add(size).unwrap_or(-1);
    if start < 4 || size < 0 || end > bytes.len() as i64 {
        return Err(format!(
            "the chunk's bytes {start}..{end} lie outside the file of {} bytes",
            bytes.len()
        ));
    }
    let (mut at, end) = (start as usize, end as usize);
    let mut seen = 0i64;
    while seen < cm.num_values {
        if at >= end {
            return Err(format!(
                "the pages hold {seen} values but the chunk claims {}",
                cm.num_values
            ));
        }
        let mut cursor = std::io::Cursor::new(&bytes[at..end]);
        let mut prot = TCompactInputProtocol::new(&mut cursor, MAX_THRIFT_BYTES);
        let header = PageHeader::read_from_in_protocol(&mut prot)
            .map_err(|e| format!("page header: {e}"))?;
        let body = at + cursor.position() as usize;
        let values = check_page(&header, rows, end - body)?;
        if header.type_ != PageType::DICTIONARY_PAGE {
            seen += values;
        }
        at = body + header.compressed_page_size as usize;
    }
    Ok(())
}

/// One page header: its sizes fit in what is left of the chunk and in the limit,
/// its counts are non-negative and within the row group. Returns its values.
fn check_page(h: &PageHeader, rows: i64, left: usize) -> Result<i64, String> {
    let compressed = i64::from(h.compressed_page_size);
    if compressed < 0 || compressed > left as i64 {
        return Err(format!(
            "a page claims {compressed} bytes where {left} are left in the chunk"
        ));
    }
    let uncompressed = i64::from(h.uncompressed_page_size);
    if !(0..=MAX_PAGE_BYTES).contains(&uncompressed) {
        return Err(format!("a page claims {uncompressed} bytes uncompressed"));
    }
    let counted = |what: &str, v: i32, max: i64| {
        let v = i64::from(v);
        if (0..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("a page with {v} {what}"))
        }
    };
    if let Some(d) = &h.dictionary_page_header {
        counted("dictionary values", d.num_values, MAX_ROWS)?;
    }
    // Flat columns (the only ones read) hold at most one value a row.
    let mut values = 0;
    if let Some(d) = &h.data_page_header {
        values = counted("values", d.num_values, rows)?;
    }
    if let Some(d) = &h.data_page_header_v2 {
        values = counted("values", d.num_values, rows)?;
        counted("nulls", d.num_nulls, values)?;
        counted("rows", d.num_rows, rows)?;
        let def = counted(
            "definition-level bytes",
            d.definition_levels_byte_length,
            compressed,
        )?;
        let rep = counted(
            "repetition-level bytes",
            d.repetition_levels_byte_length,
            compressed,
        )?;
        if def + rep > compressed {
            return Err(format!(
                "a page's levels take {} bytes of its {compressed}",
                def + rep
            ));
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_footer_is_refused() {
        assert!(check(b"PAR1").is_err());
        assert!(check(b"PAR1\0\0\0\0\0\0\0\0PAR1").is_err());
        let mut huge = b"PAR1".to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(b"PAR1");
        assert!(check(&huge)
            .unwrap_err()
            .contains("more than the file holds"));
    }

    #[test]
    fn page_counts_are_checked() {
        let mut h = PageHeader {
            type_: PageType::DATA_PAGE,
            uncompressed_page_size: 10,
            compressed_page_size: 10,
            crc: None,
            data_page_header: None,
            index_page_header: None,
            dictionary_page_header: None,
            data_page_header_v2: None,
        };
        assert_eq!(check_page(&h, 5, 10), Ok(0));
        h.compressed_page_size = 11;
        assert!(check_page(&h, 5, 10).is_err());
        h.compressed_page_size = -1;
        assert!(check_page(&h, 5, 10).is_err());
        h.compressed_page_size = 10;
        h.uncompressed_page_size = -7;
        assert!(check_page(&h, 5, 10).is_err());
        h.uncompressed_page_size = 10;
        h.data_page_header = Some(polars_parquet_format::DataPageHeader {
            num_values: -201,
            encoding: polars_parquet_format::Encoding::PLAIN,
            definition_level_encoding: polars_parquet_format::Encoding::RLE,
            repetition_level_encoding: polars_parquet_format::Encoding::RLE,
            statistics: None,
        });
        assert_eq!(
            check_page(&h, 5, 10).unwrap_err(),
            "a page with -201 values"
        );
    }
}
