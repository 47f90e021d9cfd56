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
pub(super) const TEXT_LIMIT: u64 = 4 << 20;

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

pub(super) fn compare_files(
    old: &Path,
    new: &Path,
    size_a: u64,
    size_b: u64,
    rel: &str,
) -> Result<Option<ContentDiff>, DiffError> {
    if size_a <= TEXT_LIMIT && size_b <= TEXT_LIMIT {
        let a = fs::read(old).map_err(io_err(old, "read"))?;
        let b = fs::read(new).map_err(io_err(new, "read"))?;
        if a == b {
            return Ok(None);
        }
        if is_text(&a) && is_text(&b) {
            let (ta, tb) = (
                std::str::from_utf8(&a).unwrap_or_default(),
                std::str::from_utf8(&b).unwrap_or_default(),
            );
            // The header is one line whatever the name holds.
            let name = escape_controls(if rel.is_empty() { "." } else { rel });
            let unified = similar::TextDiff::from_lines(ta, tb)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string();
            return Ok(Some(ContentDiff::Text { unified }));
        }
        let (ranges, more) =
            byte_ranges(&mut &a[..], &mut &b[..], size_a, size_b).map_err(io_err(old, "read"))?;
        let hex = hex_view(&ranges, &mut |start, end| {
            Ok((
                slice(&a, start, end).to_vec(),
                slice(&b, start, end).to_vec(),
            ))
        })
        .map_err(io_err(old, "read"))?;
        return Ok(Some(ContentDiff::Binary { ranges, more, hex }));
    }
    // Too large to hold: stream for the ranges, then read back only the
    // windows the hex view shows.
    let mut fa = fs::File::open(old).map_err(io_err(old, "open"))?;
    let mut fb = fs::File::open(new).map_err(io_err(new, "open"))?;
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
