//! A result's JSON as the `results` table keeps it (migration 12): LZ4
//! blocks in `result_lz4`, with the text's length in front, and
//! `result_json` left empty; rows stored before keep their text in
//! `result_json` and no `result_lz4`.

use scenarios::wire::RunResult;

use crate::store::StoreError;

/// No stored result is longer than this (a batch is at most a few MB).
const MAX_LEN: usize = 64 << 20;

/// The compressed form of `json`, for `result_lz4`.
pub(super) fn compress(json: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(json.as_bytes())
}

/// The result a row holds, from its `result_json` and `result_lz4`.
///
/// # Errors
/// [`StoreError::Corrupt`] when the bytes do not decompress or do not
/// parse as a result.
pub(super) fn parse(text: &str, lz4: Option<&[u8]>) -> Result<RunResult, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("stored result: {e}"));
    match lz4 {
        None => serde_json::from_str(text).map_err(|e| corrupt(&e)),
        Some(bytes) => {
            // A damaged length must not make us allocate gigabytes.
            let len = bytes
                .first_chunk::<4>()
                .map_or(0, |n| u32::from_le_bytes(*n) as usize);
            if len > MAX_LEN {
                return Err(corrupt(&format_args!(
                    "{len} bytes of JSON, more than a result has"
                )));
            }
            let json =
                lz4_flex::block::decompress_size_prepended(bytes).map_err(|e| corrupt(&e))?;
            serde_json::from_slice(&json).map_err(|e| corrupt(&e))
        }
    }
}

/// A row's `result_json` and `result_lz4` columns, read as they are.
pub(super) fn columns(
    row: &rusqlite::Row<'_>,
    first: usize,
) -> rusqlite::Result<(String, Option<Vec<u8>>)> {
    Ok((row.get(first)?, row.get(first + 1)?))
}
