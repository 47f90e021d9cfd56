//! The block checksums of an in-place snapshot (section 41, format
//! versions 7 to 9): the largest arrays are checked block by block as
//! queries read them ([`crate::blocks`]), instead of whole when the file
//! is opened, so that a query hashes what it reads and no more.
//!
//! The section holds, as u64 little-endian, the XXH3-64 of each block of
//! [`BLOCK`] bytes (1 KiB; [`BLOCK_V8`], 4 KiB, in versions 7 and 8) of
//! each array of [`ARRAYS`] in turn: the edge targets
//! (section 9), the edge output sets (10), the dependent targets (26),
//! the string text (2), the node hash parts (3), the package metadata
//! text (29) and, in version 8, the derivation facts (6, whose records
//! are then read one at a time) and the fixed outputs' hash parts (43). An array of `len` bytes has
//! `ceil(len / block)` blocks, the last one short.

use super::SnapshotError;
use super::decode::Header;
use super::inplace::Sections;
use crate::blocks::{BLOCK, BLOCK_V8, BlockCheck, Part, checksums};
use crate::column::Col;
use std::sync::Arc;

/// The section's index.
pub(super) const SECTION: usize = 41;

/// The arrays checked block by block: their section and the width of a
/// value in bytes, in the order of their checksums in the section (the
/// first six in version 7).
const ARRAYS: [(usize, usize); 8] = [
    (9, 4),
    (10, 2),
    (26, 4),
    (2, 1),
    (3, 32),
    (29, 1),
    (6, 1),
    (43, 32),
];

/// The arrays a file of the version of `s` checks block by block.
fn arrays(s: &Sections) -> &'static [(usize, usize)] {
    match s.len() > super::inplace::SECTIONS_V7 {
        true => &ARRAYS,
        false => &ARRAYS[..6],
    }
}

/// Bytes per block in a file of the version of `s`.
fn block_size(s: &Sections) -> usize {
    match s.version() > super::sections::VERSION_8 {
        true => BLOCK,
        false => BLOCK_V8,
    }
}

/// The section for the in-place `sections` (indexed as in the file, of
/// the version this build writes).
pub(super) fn section(sections: &[Vec<u8>]) -> Vec<u8> {
    ARRAYS
        .iter()
        .flat_map(|&(i, _)| checksums(sections.get(i).map_or(&[][..], |s| s), BLOCK))
        .flat_map(u64::to_le_bytes)
        .collect()
}

/// Array `k` of [`ARRAYS`] as a part of a check: its bytes, its checksums
/// (once the section's own checksum matched), each value below `bound`.
fn part(
    s: &Sections,
    k: usize,
    name: &'static str,
    bound: Option<u32>,
) -> Result<Part, SnapshotError> {
    let block = block_size(s);
    let blocks = |(i, _): (usize, usize)| s.table_len(i).div_ceil(block);
    let arrays = arrays(s);
    let at: usize = arrays.iter().take(k).copied().map(blocks).sum();
    let total: usize = arrays.iter().copied().map(blocks).sum();
    if k >= arrays.len() {
        return Err(SnapshotError::Invalid(format!(
            "the {name} section has no block checksums in this version"
        )));
    }
    let all: Col<u64> = s.col(SECTION, total)?;
    let (i, width) = ARRAYS[k];
    Ok(Part {
        name,
        bytes: s.mapped(i, s.table_len(i))?,
        width,
        bound,
        // The section's own bytes, not a copy: every query that reads an
        // array opens its part.
        sums: all.range(at..at + blocks(ARRAYS[k])).unwrap_or_default(),
    })
}

/// The check of the edge targets and output sets (sections 9 and 10) of
/// a graph with the counts of `h`.
pub(super) fn edges(s: &Sections, h: &Header) -> Result<Arc<BlockCheck>, SnapshotError> {
    let parts = vec![
        part(s, 0, "edge targets", Some(bound(h.nodes)))?,
        part(s, 1, "edge output sets", Some(bound(h.sets)))?,
    ];
    BlockCheck::new(parts, h.edges, block_size(s), s.on_damage()).map(Arc::new)
}

/// The check of the dependent targets (section 26) of a graph of `n`
/// nodes and `e` edges.
pub(super) fn dependents(
    s: &Sections,
    n: usize,
    e: usize,
) -> Result<Arc<BlockCheck>, SnapshotError> {
    single(s, 2, "dependent targets", Some(bound(n)), e)
}

/// The check of the string text (section 2): bytes, any value.
pub(super) fn string_text(s: &Sections) -> Result<Arc<BlockCheck>, SnapshotError> {
    single(s, 3, "string text", None, s.table_len(2))
}

/// The check of the node hash parts (section 3) of a graph of `n` nodes.
pub(super) fn hash_parts(s: &Sections, n: usize) -> Result<Arc<BlockCheck>, SnapshotError> {
    single(s, 4, "node hash parts", None, n)
}

/// The check of the package metadata text (section 29): bytes, any
/// value.
pub(super) fn package_meta_text(s: &Sections) -> Result<Arc<BlockCheck>, SnapshotError> {
    single(s, 5, "package metadata text", None, s.table_len(29))
}

/// The check of the derivation facts (section 6, version 8): bytes,
/// any value (each record is range-checked as it is decoded).
pub(super) fn derivations(s: &Sections) -> Result<Arc<BlockCheck>, SnapshotError> {
    single(s, 6, "derivations", None, s.table_len(6))
}

/// The check of the fixed outputs' hash parts (section 43, version 8)
/// of a graph of `n` nodes: any value.
pub(super) fn fixed_paths(s: &Sections, n: usize) -> Result<Arc<BlockCheck>, SnapshotError> {
    single(s, 7, "fixed output hash parts", None, n)
}

/// The check of array `k` of [`ARRAYS`] alone, of `values` values, each
/// below `bound`.
fn single(
    s: &Sections,
    k: usize,
    name: &'static str,
    bound: Option<u32>,
    values: usize,
) -> Result<Arc<BlockCheck>, SnapshotError> {
    let part = part(s, k, name, bound)?;
    BlockCheck::new(vec![part], values, block_size(s), s.on_damage()).map(Arc::new)
}

/// A count as the bound of values below it (counts past `u32::MAX` are
/// refused when the header is read; saturate anyway).
fn bound(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}
