//! The package metadata of an in-place snapshot (version 5 and later) as arrays
//! (sections 28 to 30, see the [format](super)): its strings' ends and
//! text, and a row of eight `u32`s per package (flags, then the seven
//! text fields' string ids). `abovo show hello` then reads one row and
//! the strings it names, where version 4 decoded the whole table (30,574
//! rows and 8 MB of text for Guix 1.5.0) into owned strings first.

use super::SnapshotError;
use super::inplace::Sections;
use crate::column::Col;
use crate::package_meta::{MetaRow, PackageMeta};
use crate::strings::Strings;

/// The first of the three sections.
pub(super) const FIRST: usize = 28;

fn invalid(msg: String) -> SnapshotError {
    SnapshotError::Invalid(msg)
}

/// Section 16 (one byte: whether there is metadata) and sections 28 to 30
/// of `meta`.
pub(super) fn sections(meta: &PackageMeta) -> [Vec<u8>; 4] {
    if meta.is_empty() {
        return [vec![0], Vec::new(), Vec::new(), Vec::new()];
    }
    let (text, ends) = meta.strings.raw_parts();
    [
        vec![1],
        bytemuck::cast_slice(ends).to_vec(),
        text.to_vec(),
        bytemuck::cast_slice(&meta.rows[..]).to_vec(),
    ]
}

/// The metadata of `rows` package table rows, borrowed from sections 28 to
/// 30 once they match their checksums (the text's blocks, in version 7,
/// as strings are read from them), their string ends are ordered and
/// within the text, and every row's flags and ids are in range. The
/// strings are checked as UTF-8 one at a time, when read.
pub(super) fn read(s: &Sections, flag: &[u8], rows: usize) -> Result<PackageMeta, SnapshotError> {
    let count = |i: usize, size: usize| s.table_len(i) / size;
    match flag {
        [0] => {
            if (FIRST..FIRST + 3).any(|i| s.table_len(i) != 0) {
                return Err(invalid("package metadata arrays without metadata".into()));
            }
            return Ok(PackageMeta::default());
        }
        [1] => {}
        _ => return Err(invalid("package metadata flag".into())),
    }
    let ends: Col<u32> = s.col(FIRST, count(FIRST, 4))?;
    if ends.windows(2).any(|w| w[0] > w[1]) {
        return Err(invalid("package metadata string ends out of order".into()));
    }
    let len = s.table_len(FIRST + 1);
    let (text, check) = if s.has(super::block_sums::SECTION) {
        // Checked block by block as strings are read.
        (
            s.mapped(FIRST + 1, len)?,
            Some(super::block_sums::package_meta_text(s)?),
        )
    } else {
        (s.col(FIRST + 1, len)?, None)
    };
    let strings = Strings::mapped(text, ends, check)
        .ok_or_else(|| invalid("package metadata string ends past the text".into()))?;
    let table: Col<MetaRow> = s.col(FIRST + 2, rows)?;
    let known = MetaRow::KNOWN | MetaRow::HIDDEN;
    if let Some(i) = table.iter().position(|r| {
        r.flags & !known != 0 || r.fields.iter().any(|f| f.0 as usize >= strings.len())
    }) {
        return Err(invalid(format!(
            "package metadata row {i}: flags or a string id out of range"
        )));
    }
    Ok(PackageMeta {
        strings,
        rows: table,
    })
}

/// What a checked read adds: every metadata string is UTF-8 (as the
/// compressed form checks its string tables).
pub(super) fn check(meta: &PackageMeta) -> Result<(), SnapshotError> {
    let (text, ends) = meta.strings.raw_parts();
    let mut start = 0usize;
    for (i, &end) in ends.iter().enumerate() {
        let utf8 = text
            .get(start..end as usize)
            .is_some_and(|b| std::str::from_utf8(b).is_ok());
        if !utf8 {
            return Err(invalid(format!("package metadata string {i} is not UTF-8")));
        }
        start = end as usize;
    }
    Ok(())
}
