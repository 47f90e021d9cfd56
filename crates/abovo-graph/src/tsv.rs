//! Reading the tab-separated tables that come with a corpus (`packages.tsv`,
//! `store-meta.tsv`), plain or zstd-compressed.

use crate::error::LoadError;
use std::io::Read;
use std::path::Path;

/// The zstd frame magic number.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Reads a whole file, decompressing it when it is a zstd frame.
pub(crate) fn read_maybe_zstd(path: &Path) -> Result<Vec<u8>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(&ZSTD_MAGIC) {
        let mut out = Vec::with_capacity(bytes.len() * 6);
        zstd::stream::read::Decoder::new(&bytes[..])
            .and_then(|mut d| d.read_to_end(&mut out))
            .map_err(io)?;
        return Ok(out);
    }
    Ok(bytes)
}

/// Splits a table into rows of fields, checking the header names the
/// expected leading columns. Yields `(line number, fields)`.
pub(crate) fn rows<'a>(
    path: &Path,
    text: &'a str,
    expected: &[&str],
) -> Result<impl Iterator<Item = (usize, Vec<&'a str>)> + 'a, LoadError> {
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    if header.len() < expected.len() || header[..expected.len()] != *expected {
        return Err(LoadError::Table {
            path: path.to_owned(),
            line: 1,
            reason: format!(
                "expected a header starting with `{}`, found `{}`",
                expected.join("\\t"),
                header.join("\\t")
            ),
        });
    }
    Ok(lines
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l.split('\t').collect())))
}

/// A table error at `line`.
pub(crate) fn bad(path: &Path, line: usize, reason: impl Into<String>) -> LoadError {
    LoadError::Table {
        path: path.to_owned(),
        line,
        reason: reason.into(),
    }
}
