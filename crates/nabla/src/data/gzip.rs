//! Whole-file reading with transparent gzip decompression.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// True when `bytes` starts with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC
}

/// Read `path` into memory; if it is gzip data (by its magic number), decompress it in one go.
/// A name ending in `.gz` whose content is not gzip is an error.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    if is_gzip(&raw) {
        gunzip(&raw, &name)
    } else if name.ends_with(".gz") {
        Err(Error::data(
            name,
            "the name ends in .gz but the file is not gzip data",
        ))
    } else {
        Ok(raw)
    }
}

/// Decompress a whole gzip stream (all members). The size field of the gzip trailer (the
/// uncompressed length modulo 2^32) sizes the output buffer so it is allocated once.
pub(crate) fn gunzip(compressed: &[u8], source_name: &str) -> Result<Vec<u8>> {
    let hint = if compressed.len() >= 18 {
        let t = &compressed[compressed.len() - 4..];
        u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
    } else {
        0
    };
    // Never trust the hint beyond a generous ratio; it only saves reallocations.
    let cap = hint.min(compressed.len().saturating_mul(1100)) + 1;
    let mut out = Vec::with_capacity(cap);
    flate2::read::MultiGzDecoder::new(compressed)
        .read_to_end(&mut out)
        .map_err(|e| Error::data(source_name, format!("corrupt gzip data: {e}")))?;
    Ok(out)
}
