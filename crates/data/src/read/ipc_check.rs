//! An Arrow IPC file's blocks, buffers and counts checked before polars reads it.
//!
//! polars-arrow allocates from the numbers in a file before it reads the bytes
//! they describe: `Vec::with_capacity(buffer length)`, and for a compressed buffer
//! the uncompressed length in its first eight bytes. A mutated file that claims a
//! 64 GB buffer made the allocator abort the whole process (fuzzing found it; an
//! abort cannot be caught like a panic). So every block, buffer and count is checked
//! here first against the file's own length and against limits that no price series
//! comes near. Only the footer and the message headers are read, not the data.

use polars_arrow_format::ipc::planus::ReadAsRoot;
use polars_arrow_format::ipc::{
    BlockRef, FieldRef, FooterRef, MessageHeaderRef, MessageRef, RecordBatchRef,
};

/// Rows (and values of one column) a batch may hold: a billion bars.
const MAX_ROWS: i64 = 1 << 30;
/// Bytes one buffer may take once decompressed.
const MAX_BUFFER_BYTES: i64 = 1 << 30;
/// Nesting of the schema's fields: price columns are flat, and polars walks the tree
/// recursively, so a deep one is refused before it can exhaust the stack.
const MAX_DEPTH: usize = 32;

/// `Err(message)` when a block, buffer or count of the file is negative, lies
/// outside the file, or exceeds the limits above.
pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    let footer = footer(bytes)?;
    let e = |what: &'static str| move |err| format!("{what}: {err}");
    let schema = footer.schema().map_err(e("schema"))?.ok_or("no schema")?;
    if let Some(fields) = schema.fields().map_err(e("schema"))? {
        for f in fields.iter() {
            check_field(f.map_err(e("schema"))?, 1)?;
        }
    }
    let batches = footer.record_batches().map_err(e("footer"))?;
    let dicts = footer.dictionaries().map_err(e("footer"))?;
    for (kind, blocks) in [("record batch", batches), ("dictionary", dicts)] {
        for (i, b) in blocks.into_iter().flatten().enumerate() {
            check_block(bytes, b).map_err(|m| format!("{kind} {i}: {m}"))?;
        }
    }
    Ok(())
}

/// The footer: `... <footer> <i32 LE length> ARROW1`.
fn footer(bytes: &[u8]) -> Result<FooterRef<'_>, String> {
    let n = bytes.len();
    if n < 16 || !bytes.ends_with(b"ARROW1") {
        return Err("no Arrow IPC footer (truncated?)".into());
    }
    let len = i32_at(bytes, n - 10).unwrap_or(-1);
    let start = usize::try_from(len)
        .ok()
        .and_then(|l| (n - 10).checked_sub(l))
        .filter(|&s| s >= 8)
        .ok_or_else(|| format!("the footer claims {len} bytes, more than the file holds"))?;
    FooterRef::read_as_root(&bytes[start..n - 10]).map_err(|e| format!("footer: {e}"))
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn check_field(f: FieldRef<'_>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("schema nested deeper than {MAX_DEPTH} levels"));
    }
    let children = f.children().map_err(|e| format!("schema: {e}"))?;
    for c in children.into_iter().flatten() {
        check_field(c.map_err(|e| format!("schema: {e}"))?, depth + 1)?;
    }
    Ok(())
}

/// One block: where the footer says it is (inside the file), its message header
/// (its own length prefix inside the block), and the batch in it.
fn check_block(bytes: &[u8], b: BlockRef<'_>) -> Result<(), String> {
    let (offset, meta, body) = (b.offset(), i64::from(b.meta_data_length()), b.body_length());
    let end = offset.checked_add(meta).and_then(|x| x.checked_add(body));
    if offset < 0 || meta < 0 || body < 0 || end.is_none_or(|e| e > bytes.len() as i64) {
        return Err(format!(
            "the block at {offset} ({meta} + {body} bytes) lies outside the file of {} bytes",
            bytes.len()
        ));
    }
    let (mut at, body_start) = (offset as usize, (offset + meta) as usize);
    let mut len = i32_at(bytes, at).unwrap_or(-2);
    if len == -1 {
        // The continuation marker of the format since 0.15.
        at += 4;
        len = i32_at(bytes, at).unwrap_or(-2);
    }
    at += 4;
    let message = usize::try_from(len)
        .ok()
        .and_then(|l| bytes.get(at..at.checked_add(l)?))
        .ok_or_else(|| format!("a message header of {len} bytes"))?;
    let message = MessageRef::read_as_root(message).map_err(|e| format!("message: {e}"))?;
    let body = &bytes[body_start..body_start + body as usize];
    let header = message.header().map_err(|e| format!("message: {e}"))?;
    match header {
        Some(MessageHeaderRef::RecordBatch(rb)) => check_batch(rb, body),
        Some(MessageHeaderRef::DictionaryBatch(d)) => {
            match d.data().map_err(|e| format!("dictionary: {e}"))? {
                Some(rb) => check_batch(rb, body),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// One batch: its row and null counts, and each buffer inside the block's body;
/// a compressed buffer's declared uncompressed length within the limit.
fn check_batch(rb: RecordBatchRef<'_>, body: &[u8]) -> Result<(), String> {
    let e = |err| format!("record batch: {err}");
    let rows = rb.length().map_err(e)?;
    if !(0..=MAX_ROWS).contains(&rows) {
        return Err(format!("a batch of {rows} rows"));
    }
    for node in rb.nodes().map_err(e)?.into_iter().flatten() {
        let (len, nulls) = (node.length(), node.null_count());
        if !(0..=MAX_ROWS).contains(&len) || !(0..=len).contains(&nulls) {
            return Err(format!("a column of {len} values with {nulls} nulls"));
        }
    }
    let buffers = rb.buffers().map_err(e)?;
    if let Some(counts) = rb.variadic_buffer_counts().map_err(e)? {
        let total = buffers.map_or(0, |b| b.len()) as i64;
        if counts.iter().any(|c| !(0..=total).contains(&c)) {
            return Err("variadic buffer counts beyond the buffers".into());
        }
    }
    let compressed = rb.compression().map_err(e)?.is_some();
    for buf in buffers.into_iter().flatten() {
        let (off, len) = (buf.offset(), buf.length());
        let inside =
            off >= 0 && len >= 0 && off.checked_add(len).is_some_and(|x| x <= body.len() as i64);
        if !inside {
            return Err(format!(
                "a buffer at {off} of {len} bytes outside the block's {} bytes",
                body.len()
            ));
        }
        if compressed && len > 0 {
            let head = body
                .get(off as usize..off as usize + 8)
                .filter(|_| len >= 8)
                .ok_or("a compressed buffer shorter than its length prefix")?;
            let mut raw = [0u8; 8];
            raw.copy_from_slice(head);
            let raw = i64::from_le_bytes(raw);
            if raw != -1 && !(0..=MAX_BUFFER_BYTES).contains(&raw) {
                return Err(format!("a compressed buffer that claims {raw} bytes"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_footer_is_refused() {
        assert!(check(b"ARROW1").is_err());
        let mut huge = b"ARROW1\0\0".to_vec();
        huge.extend_from_slice(&[0; 8]);
        huge.extend_from_slice(&i32::MAX.to_le_bytes());
        huge.extend_from_slice(b"ARROW1");
        assert!(check(&huge)
            .unwrap_err()
            .contains("more than the file holds"));
    }
}
