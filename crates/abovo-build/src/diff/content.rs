//! Comparing the bytes of two regular files: equal, text (a unified diff of
//! lines), or binary (byte ranges and a hex view). Small files are read
//! whole; larger ones are streamed, and only the windows the hex view shows
//! are read back.

use super::binary::{byte_ranges, hex_view, read_window, slice};
use super::report::{ContentDiff, escape_controls};
use super::{DiffError, io_err};
use std::fs;
use std::io;
use std::path::Path;

/// Files larger than this are compared as binary without loading them whole.
pub const TEXT_LIMIT: u64 = 4 << 20;

/// Opens `path`, which was a regular file when it was listed, without
/// following a symlink and without blocking: if it became a FIFO since, the
/// open does not wait for a writer, and it is refused instead of read.
fn open_regular(path: &Path) -> Result<fs::File, DiffError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .map_err(io_err(path, "open"))?;
    let meta = file.metadata().map_err(io_err(path, "stat"))?;
    if !meta.is_file() {
        return Err(
            io_err(path, "read")(io::Error::other("it is no longer a regular file")).into(),
        );
    }
    Ok(file)
}

fn read_regular(path: &Path) -> Result<Vec<u8>, DiffError> {
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut open_regular(path)?, &mut bytes).map_err(io_err(path, "read"))?;
    Ok(bytes)
}

/// `bytes` as text: valid UTF-8 without NUL bytes.
fn as_text(bytes: &[u8]) -> Option<&str> {
    if bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// Two files' bytes already in memory (at most [`TEXT_LIMIT`] each, as a
/// caller streaming archives keeps them): `None` when equal, else a
/// unified diff for text and byte ranges with a hex view for binary data,
/// exactly as [`super::diff_trees`] shows them. `rel` names the file.
pub fn compare_bytes(a: &[u8], b: &[u8], rel: &str) -> Option<ContentDiff> {
    if a == b {
        return None;
    }
    if let (Some(ta), Some(tb)) = (as_text(a), as_text(b)) {
        let name = escape_controls(if rel.is_empty() { "." } else { rel });
        let unified = super::unified::unified_diff(ta, tb, &name);
        return Some(ContentDiff::Text { unified });
    }
    let (size_a, size_b) = (a.len() as u64, b.len() as u64);
    // Reading from memory cannot fail.
    let (ranges, more) = byte_ranges(&mut &a[..], &mut &b[..], size_a, size_b).ok()?;
    let hex = hex_view(&ranges, &mut |start, end| {
        Ok((slice(a, start, end).to_vec(), slice(b, start, end).to_vec()))
    })
    .ok()?;
    Some(ContentDiff::Binary { ranges, more, hex })
}

pub(super) fn compare_files(
    old: &Path,
    new: &Path,
    size_a: u64,
    size_b: u64,
    rel: &str,
) -> Result<Option<ContentDiff>, DiffError> {
    if size_a <= TEXT_LIMIT && size_b <= TEXT_LIMIT {
        let a = read_regular(old)?;
        let b = read_regular(new)?;
        return Ok(compare_bytes(&a, &b, rel));
    }
    // Too large to hold: stream for the ranges, then read back only the
    // windows the hex view shows.
    let mut fa = open_regular(old)?;
    let mut fb = open_regular(new)?;
    let (ranges, more) = byte_ranges(
        &mut io::BufReader::new(&mut fa),
        &mut io::BufReader::new(&mut fb),
        size_a,
        size_b,
    )
    .map_err(io_err(old, "read"))?;
    if ranges.is_empty() {
        return Ok(None);
    }
    let hex = hex_view(&ranges, &mut |start, end| {
        Ok((
            read_window(&mut fa, start, end)?,
            read_window(&mut fb, start, end)?,
        ))
    })
    .map_err(io_err(old, "read"))?;
    Ok(Some(ContentDiff::Binary { ranges, more, hex }))
}
