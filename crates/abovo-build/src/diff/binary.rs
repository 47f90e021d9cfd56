//! Binary differences: the first differing byte ranges of two streams
//! (a length difference is a final range), and a hex view of both sides
//! around the first few of them.

use super::report::ByteRange;
use std::fs;
use std::io::{self, Read};

/// How many differing byte ranges are listed per binary file.
pub(super) const MAX_RANGES: usize = 8;
/// How many ranges get a hex view.
const MAX_HEX_RANGES: usize = 3;
/// Bytes per hex row.
const HEX_ROW: u64 = 16;

/// `bytes[start..end]`, cut to what exists.
pub(super) fn slice(bytes: &[u8], start: u64, end: u64) -> &[u8] {
    let len = bytes.len() as u64;
    &bytes[start.min(len) as usize..end.min(len) as usize]
}

/// The bytes of `file` from `start` to `end` (fewer at its end).
pub(super) fn read_window(file: &mut fs::File, start: u64, end: u64) -> io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(start))?;
    let mut out = Vec::new();
    file.take(end.saturating_sub(start)).read_to_end(&mut out)?;
    Ok(out)
}

/// The first differing runs of two streams; a length difference counts as
/// a final range from the end of the shorter one.
pub(super) fn byte_ranges(
    a: &mut dyn Read,
    b: &mut dyn Read,
    size_a: u64,
    size_b: u64,
) -> io::Result<(Vec<ByteRange>, bool)> {
    let mut ranges: Vec<ByteRange> = Vec::new();
    let mut more = false;
    let common = size_a.min(size_b);
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    let mut open: Option<ByteRange> = None;
    while offset < common {
        let n = (common - offset).min(ba.len() as u64) as usize;
        a.read_exact(&mut ba[..n])?;
        b.read_exact(&mut bb[..n])?;
        for k in 0..n {
            let pos = offset + k as u64;
            if ba[k] != bb[k] {
                match &mut open {
                    Some(r) => r.len += 1,
                    None => {
                        open = Some(ByteRange {
                            offset: pos,
                            len: 1,
                        })
                    }
                }
            } else if let Some(r) = open.take() {
                if ranges.len() == MAX_RANGES {
                    more = true;
                    return Ok((ranges, more));
                }
                ranges.push(r);
            }
        }
        offset += n as u64;
    }
    if let Some(r) = open.take() {
        if ranges.len() == MAX_RANGES {
            return Ok((ranges, true));
        }
        ranges.push(r);
    }
    if size_a != size_b {
        if ranges.len() == MAX_RANGES {
            more = true;
        } else {
            ranges.push(ByteRange {
                offset: common,
                len: size_a.max(size_b) - common,
            });
        }
    }
    Ok((ranges, more))
}

/// One row of 16 bytes starting at `start`, from `window`, which holds the
/// bytes from `window_start` on.
fn hex_row(window: &[u8], window_start: u64, start: u64) -> String {
    let at = |k: usize| window.get((start - window_start) as usize + k).copied();
    let mut s = format!("{start:08x} ");
    for k in 0..HEX_ROW as usize {
        match at(k) {
            Some(b) => s.push_str(&format!(" {b:02x}")),
            None => s.push_str("   "),
        }
    }
    s.push_str("  |");
    for k in 0..HEX_ROW as usize {
        if let Some(b) = at(k) {
            s.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
    }
    s.push('|');
    s
}

/// Rows of 16 bytes from both sides around the first ranges: `-` lines are
/// the first file, `+` lines the second. `window(start, end)` gives the
/// bytes of both files in that span (fewer where a file ends).
pub(super) fn hex_view(
    ranges: &[ByteRange],
    window: &mut dyn FnMut(u64, u64) -> io::Result<(Vec<u8>, Vec<u8>)>,
) -> io::Result<String> {
    let mut out = String::new();
    for r in ranges.iter().take(MAX_HEX_RANGES) {
        let first = r.offset / HEX_ROW * HEX_ROW;
        let last = (r.offset + r.len.min(4 * HEX_ROW))
            .div_ceil(HEX_ROW)
            .max(first / HEX_ROW + 1)
            * HEX_ROW;
        let (a, b) = window(first, last)?;
        out.push_str(&format!(
            "@@ offset {:#x}, {} @@\n",
            r.offset,
            if r.len == 1 {
                "1 byte differs".to_owned()
            } else {
                format!("{} bytes differ", r.len)
            }
        ));
        let mut row = first;
        while row < last {
            if row - first < a.len() as u64 {
                out.push_str(&format!("-{}\n", hex_row(&a, first, row)));
            }
            if row - first < b.len() as u64 {
                out.push_str(&format!("+{}\n", hex_row(&b, first, row)));
            }
            row += HEX_ROW;
        }
    }
    Ok(out)
}
