//! Arrays of an in-place snapshot checked block by block, on first use.
//!
//! The largest arrays of a whole distribution's snapshot (1.7 million
//! edges: 7 MB of targets, 3.5 MB of output sets, 7 MB of reverse edges;
//! 8 MB of string text) are most of its bytes. Hashing them and
//! range-checking every value when the file is opened cost most of a small
//! query's time, though `closure hello` reads the edges of 401 nodes. So
//! each array is cut into blocks of [`BLOCK`] bytes with a checksum each,
//! stored in the snapshot, and a block is checked (its checksum, then
//! each value against its bound) the first time a query reads a value in
//! it; a bit per block remembers it. A query never reads a value that was
//! not checked, and never hashes a block it does not read.
//!
//! Blocks are small because node ids follow the order of store paths,
//! that is of hashes: the 401 nodes of a closure are strewn over the
//! whole array, and a large block would be touched by nearly every query.
//! Versions 7 and 8 cut pages ([`BLOCK_V8`], 4 KiB), which made the
//! checksums a fifth of `seeds python-pytorch`'s CPU time: to read 2,717
//! seeds it hashed 5,218 blocks, 21 MB, each first read from memory. In
//! blocks of 1 KiB it hashes 9.3 MB (512 bytes would make it 5.5 MB, at
//! twice the checksums, which every query's opening hashes whole).
//!
//! A damaged block is reported once to the snapshot's damage handler (the
//! `abovo` binary removes its cache file and stops before answering) and
//! reads as empty, like a damaged section decoded on first use.

use crate::column::Col;
use crate::snapshot::{OnDamage, SnapshotError};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes per block in the version this build writes (9).
pub(crate) const BLOCK: usize = 1024;

/// Bytes per block in versions 7 and 8: a page.
pub(crate) const BLOCK_V8: usize = 4096;

/// The checksum of a block's bytes (as of a section: XXH3-64).
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The checksums of the blocks of `bytes`, `block` bytes each.
pub(crate) fn checksums(bytes: &[u8], block: usize) -> Vec<u64> {
    bytes.chunks(block).map(checksum).collect()
}

/// One array of a [`BlockCheck`]: its bytes, how wide a value is, what
/// bounds each value, and the checksum of each block.
pub(crate) struct Part {
    /// Its section's name, for the damage report.
    pub(crate) name: &'static str,
    /// The array's bytes, little-endian values.
    pub(crate) bytes: Col<u8>,
    /// Bytes per value: 1, 2, 4 or 32 (a hash part); a power of two no
    /// larger than a block, so that no value straddles two blocks.
    pub(crate) width: usize,
    /// Every value must be below this (ids, of 2 or 4 bytes); `None` for
    /// any value (text, hash parts).
    pub(crate) bound: Option<u32>,
    /// The checksum of each block.
    pub(crate) sums: Col<u64>,
}

impl Part {
    /// What is wrong with block `b` of `block` bytes, if anything.
    fn damage(&self, b: usize, block: usize) -> Option<SnapshotError> {
        let bytes = self
            .bytes
            .get(b * block..((b + 1) * block).min(self.bytes.len()))?;
        let (want, got) = (self.sums.get(b).copied()?, checksum(bytes));
        if want != got {
            return Some(SnapshotError::SectionChecksum {
                section: self.name,
                expected: format!("{want:016x} (block {b})"),
                actual: format!("{got:016x}"),
            });
        }
        let bound = self.bound?;
        // Blocks of a mapped section are aligned and the casts hold (the
        // typed loop is several times faster); bytes elsewhere are read
        // value by value.
        // The largest value first (a loop without an early exit, which the
        // compiler vectorises), the position only when it is out of range.
        let bad = match (self.width, bytemuck::try_cast_slice::<u8, u32>(bytes)) {
            (4, Ok(v)) if v.iter().fold(0, |m, &x| m.max(x)) < bound => None,
            (4, Ok(v)) => v.iter().position(|&x| x >= bound),
            (2, _) => match bytemuck::try_cast_slice::<u8, u16>(bytes) {
                Ok(v) if u32::from(v.iter().fold(0, |m, &x| m.max(x))) < bound => None,
                Ok(v) => v.iter().position(|&x| u32::from(x) >= bound),
                Err(_) => bytes
                    .chunks_exact(2)
                    .position(|c| u32::from(u16::from_le_bytes([c[0], c[1]])) >= bound),
            },
            _ => bytes
                .chunks_exact(4)
                .position(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) >= bound),
        }?;
        Some(SnapshotError::Invalid(format!(
            "{} value {} of block {b} out of range",
            self.name,
            b * block / self.width + bad
        )))
    }
}

/// Parallel arrays of one index space (an edge's target and its output
/// set), checked together, block by block, on first use.
pub(crate) struct BlockCheck {
    /// Each array, with a bit per block: checked and sound.
    parts: Vec<(Part, Box<[AtomicU64]>)>,
    /// How many values each part has.
    len: usize,
    /// Bytes per block ([`BLOCK`], or [`BLOCK_V8`] in an older file).
    block: usize,
    /// Set when a block was found damaged (it is reported once).
    damaged: AtomicBool,
    on_damage: Option<OnDamage>,
}

impl std::fmt::Debug for BlockCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCheck")
            .field(
                "parts",
                &self.parts.iter().map(|p| p.0.name).collect::<Vec<_>>(),
            )
            .field("len", &self.len)
            .finish()
    }
}

impl BlockCheck {
    /// A check of `parts`, each `len` values long with one checksum per
    /// `block` bytes (a power of two); `Err` when a part's size or its
    /// number of checksums does not say so.
    pub(crate) fn new(
        parts: Vec<Part>,
        len: usize,
        block: usize,
        on_damage: Option<OnDamage>,
    ) -> Result<BlockCheck, SnapshotError> {
        let mut checked = Vec::with_capacity(parts.len());
        for p in parts {
            let bytes = len.checked_mul(p.width);
            let blocks = bytes.map(|b| b.div_ceil(block));
            let fits = p.width.is_power_of_two() && block.is_power_of_two() && p.width <= block;
            if !fits || Some(p.bytes.len()) != bytes || Some(p.sums.len()) != blocks {
                return Err(SnapshotError::Invalid(format!(
                    "the {} section has {} bytes and {} block checksums, expected {len} values of {} bytes and a checksum per {block} bytes",
                    p.name,
                    p.bytes.len(),
                    p.sums.len(),
                    p.width
                )));
            }
            let done = (0..p.sums.len().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect();
            checked.push((p, done));
        }
        Ok(BlockCheck {
            parts: checked,
            len,
            block,
            damaged: AtomicBool::new(false),
            on_damage,
        })
    }

    /// Whether the values in `range` are sound, checking the blocks it
    /// spans that were not checked yet; a damaged block is reported (once)
    /// and makes the answer `false`.
    pub(crate) fn ensure(&self, range: Range<usize>) -> bool {
        if range.is_empty() {
            return true;
        }
        if range.end > self.len {
            return false;
        }
        // Widths and blocks are powers of two (see `new`): shifts, not
        // divisions, for a check made for every string a scan reads.
        let shift = self.block.trailing_zeros();
        self.parts.iter().all(|(p, done)| {
            let (first, last) = (
                (range.start * p.width) >> shift,
                (range.end * p.width - 1) >> shift,
            );
            (first..=last).all(|b| self.ensure_block(p, done, b))
        })
    }

    fn ensure_block(&self, p: &Part, done: &[AtomicU64], b: usize) -> bool {
        let (word, bit) = (&done[b / 64], 1u64 << (b % 64));
        if word.load(Ordering::Acquire) & bit != 0 {
            return true;
        }
        // Two threads may check the same block at once: both find the
        // same answer, and setting a bit twice is harmless.
        match p.damage(b, self.block) {
            None => {
                word.fetch_or(bit, Ordering::Release);
                true
            }
            Some(e) => {
                if !self.damaged.swap(true, Ordering::AcqRel) {
                    if let Some(f) = &self.on_damage {
                        f(&SnapshotError::Damaged {
                            section: p.name,
                            source: Box::new(e),
                        });
                    }
                }
                false
            }
        }
    }
}

/// A column read value by value through its [`BlockCheck`] (when it has
/// one): what a graph keeps of an array of an in-place snapshot that is
/// checked block by block.
#[derive(Clone)]
pub(crate) struct Checked<T> {
    col: Col<T>,
    check: Option<Arc<BlockCheck>>,
}

impl<T: bytemuck::Pod> Checked<T> {
    /// `col`, checked by `check` as it is read (or trusted, without one).
    pub(crate) fn new(col: Col<T>, check: Option<Arc<BlockCheck>>) -> Checked<T> {
        Checked { col, check }
    }

    /// Whether the values in `range` may be read: always without a
    /// check, else once their blocks are checked and sound.
    pub(crate) fn ensure(&self, range: Range<usize>) -> bool {
        self.check.as_ref().is_none_or(|c| c.ensure(range))
    }

    /// Value `i`; `None` past the end or in a damaged block.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.slice(i..i + 1).first()
    }

    /// The values in `range`; none past the end or in a damaged block.
    pub(crate) fn slice(&self, range: Range<usize>) -> &[T] {
        self.view().slice(range)
    }

    /// The column borrowed for many reads: [`CheckedView::slice`] is
    /// [`Checked::slice`] without finding the column's bytes each time.
    pub(crate) fn view(&self) -> CheckedView<'_, T> {
        CheckedView {
            values: &self.col,
            check: self.check.as_deref(),
        }
    }

    /// Every value (each block checked now); `None` when a block is
    /// damaged.
    pub(crate) fn whole(&self) -> Option<&[T]> {
        self.ensure(0..self.col.len()).then_some(&self.col[..])
    }

    /// Every value (each block checked now); none when a block is damaged.
    pub(crate) fn all(&self) -> &[T] {
        self.whole().unwrap_or_default()
    }

    /// How many values.
    pub(crate) fn len(&self) -> usize {
        self.col.len()
    }
}

/// A [`Checked`] column borrowed for many reads (see [`Checked::view`]).
#[derive(Clone, Copy)]
pub(crate) struct CheckedView<'a, T> {
    /// Every value, not all checked yet.
    values: &'a [T],
    check: Option<&'a BlockCheck>,
}

impl<'a, T> CheckedView<'a, T> {
    /// As [`Checked::slice`].
    pub(crate) fn slice(&self, range: Range<usize>) -> &'a [T] {
        match self.check.is_none_or(|c| c.ensure(range.clone())) {
            true => self.values.get(range).unwrap_or_default(),
            false => &[],
        }
    }
}

impl<T> std::fmt::Debug for Checked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("lazily", &self.check.is_some())
            .finish()
    }
}

impl<T> Default for Checked<T> {
    fn default() -> Checked<T> {
        Vec::new().into()
    }
}

impl<T> From<Vec<T>> for Checked<T> {
    fn from(v: Vec<T>) -> Checked<T> {
        Checked {
            col: v.into(),
            check: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// `u32` values per block.
    const PER: usize = BLOCK / 4;

    fn part(name: &'static str, values: &[u32], bound: u32) -> Part {
        part_in(name, values, bound, BLOCK)
    }

    fn part_in(name: &'static str, values: &[u32], bound: u32, block: usize) -> Part {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let sums = checksums(&bytes, block);
        Part {
            name,
            bytes: bytes.into(),
            width: 4,
            bound: Some(bound),
            sums: sums.into(),
        }
    }

    #[test]
    fn sound_blocks_are_checked_once_and_damage_is_reported_once() {
        let n = PER * 2 + 7;
        let values: Vec<u32> = (0..n as u32).map(|i| i % 1000).collect();
        let mut bad = values.clone();
        bad[PER + 3] = 5000; // above the bound of 1000
        let reports = Arc::new(Mutex::new(Vec::new()));
        let r = Arc::clone(&reports);
        let on_damage: OnDamage = Arc::new(move |e: &SnapshotError| {
            r.lock().unwrap().push(e.to_string());
        });
        let good = BlockCheck::new(vec![part("t", &values, 1000)], n, BLOCK, None).unwrap();
        assert!(good.ensure(0..n));
        assert!(good.ensure(PER..PER + 1));
        assert!(good.ensure(5..5));
        assert!(!good.ensure(n..n + 1), "past the end is never sound");

        // A value out of bounds, its checksum recomputed: the range check
        // finds it, and only in its block.
        let mut p = part("t", &bad, 1000);
        p.sums = checksums(&p.bytes, BLOCK).into();
        let check = BlockCheck::new(vec![p], n, BLOCK, Some(on_damage)).unwrap();
        assert!(check.ensure(0..PER));
        assert!(check.ensure(2 * PER..n));
        assert!(!check.ensure(PER + 1..PER + 2));
        assert!(!check.ensure(0..n));
        let got = reports.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("block 1"), "{got:?}");
    }

    #[test]
    fn a_flipped_byte_fails_its_checksum() {
        let n = PER + 1;
        let values = vec![1u32; n];
        let mut p = part("t", &values, 2);
        let mut bytes = p.bytes.to_vec();
        bytes[4 * PER] ^= 1; // the last value: 0 instead of 1, still in range
        p.bytes = bytes.into();
        let check = BlockCheck::new(vec![p], n, BLOCK, None).unwrap();
        assert!(check.ensure(0..PER));
        assert!(!check.ensure(PER..n));
    }

    #[test]
    fn sizes_must_match_the_count() {
        let p = part("t", &[1, 2, 3], 10);
        assert!(BlockCheck::new(vec![p], 4, BLOCK, None).is_err());
        let mut p = part("t", &[1, 2, 3], 10);
        p.sums = vec![].into();
        assert!(BlockCheck::new(vec![p], 3, BLOCK, None).is_err());
        // Checksums per 4 KiB do not fit blocks of 1 KiB.
        let p = part_in("t", &[7; 2000], 10, BLOCK_V8);
        assert!(BlockCheck::new(vec![p], 2000, BLOCK, None).is_err());
    }

    proptest::proptest! {
        /// A flipped byte fails exactly the ranges that touch its block,
        /// whatever the order in which ranges are asked, in blocks of
        /// either size.
        #[test]
        fn damage_is_found_exactly_where_it_lies(
            block in proptest::sample::select(vec![BLOCK, BLOCK_V8]),
            n in 1usize..5000,
            flip in proptest::prelude::any::<proptest::sample::Index>(),
            ranges in proptest::collection::vec((0usize..5000, 0usize..64), 1..20),
        ) {
            let values: Vec<u32> = (0..n as u32).map(|i| i % 7).collect();
            let mut p = part_in("t", &values, 7, block);
            let mut bytes = p.bytes.to_vec();
            let at = flip.index(bytes.len());
            bytes[at] ^= 0x80; // any value with this bit set is out of range
            p.bytes = bytes.into();
            let check = BlockCheck::new(vec![p], n, block, None).unwrap();
            let bad = at / block;
            for (start, len) in ranges {
                let (start, end) = (start.min(n), (start + len).min(n));
                let touches = start < end && (start * 4 / block..=(end * 4 - 1) / block).contains(&bad);
                proptest::prop_assert_eq!(check.ensure(start..end), !touches);
            }
        }
    }
}
