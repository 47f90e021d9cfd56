//! Columns that are either owned or borrowed from the bytes of an in-place
//! snapshot (a memory map, see [`crate::snapshot`]).
//!
//! A graph built from `.drv` files or decoded from a compressed snapshot
//! owns its arrays; a graph opened in place from a version 3 snapshot
//! borrows them from the mapped file, so that opening it costs what its
//! header costs, whatever the size of the graph. Both read the same way:
//! a [`Col`] dereferences to a slice.

use std::sync::Arc;

/// The bytes a mapped column borrows from: a memory map, or (for a
/// snapshot read from a stream) a copy on the heap, 8-byte aligned like a
/// mapping so that the same sections cast to the same slices.
#[derive(Debug)]
pub(crate) enum Backing {
    /// A read-only map of a file.
    Map(memmap2::Mmap),
    /// The bytes in `u64` words (the first `len` bytes count).
    Heap(Vec<u64>, usize),
}

impl Backing {
    /// A heap copy of `bytes`, aligned to 8 bytes.
    pub(crate) fn copy_of(bytes: &[u8]) -> Backing {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Backing::Heap(words, bytes.len())
    }

    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Heap(words, len) => {
                let all: &[u8] = bytemuck::cast_slice(words);
                &all[..*len]
            }
        }
    }
}

/// An array of plain values: owned, or a range of a [`Backing`] checked
/// once (in range, aligned, a whole number of values) when it was made.
pub(crate) enum Col<T> {
    /// An owned vector.
    Owned(Vec<T>),
    /// `len` values from byte `start` of a backing.
    Mapped {
        /// The bytes it borrows from.
        backing: Arc<Backing>,
        /// Where its values start (a multiple of the value's alignment).
        start: usize,
        /// How many values.
        len: usize,
    },
}

impl<T: bytemuck::Pod> Col<T> {
    /// `len` values at byte `start` of `backing`, or `None` when they do
    /// not fit or are not aligned.
    pub(crate) fn mapped(backing: &Arc<Backing>, start: usize, len: usize) -> Option<Col<T>> {
        let end = len
            .checked_mul(std::mem::size_of::<T>())?
            .checked_add(start)?;
        let bytes = backing.bytes().get(start..end)?;
        bytemuck::try_cast_slice::<u8, T>(bytes).ok()?;
        Some(Col::Mapped {
            backing: Arc::clone(backing),
            start,
            len,
        })
    }
}

impl<T: bytemuck::Pod> Col<T> {
    /// The values in `range` as a column of their own: the same bytes of
    /// the backing (nothing copied), or a copy of an owned column's;
    /// `None` past the end.
    pub(crate) fn range(&self, range: std::ops::Range<usize>) -> Option<Col<T>> {
        match self {
            Col::Owned(v) => v.get(range).map(|v| Col::Owned(v.to_vec())),
            Col::Mapped {
                backing,
                start,
                len,
            } => (range.start <= range.end && range.end <= *len).then(|| Col::Mapped {
                backing: Arc::clone(backing),
                start: start + range.start * std::mem::size_of::<T>(),
                len: range.end - range.start,
            }),
        }
    }
}

impl<T: bytemuck::Pod> std::ops::Deref for Col<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Col::Owned(v) => v,
            Col::Mapped {
                backing,
                start,
                len,
            } => {
                // Checked when the column was made; the backing is immutable.
                let end = start + len * std::mem::size_of::<T>();
                backing
                    .bytes()
                    .get(*start..end)
                    .and_then(|b| bytemuck::try_cast_slice(b).ok())
                    .unwrap_or_default()
            }
        }
    }
}

impl<T> From<Vec<T>> for Col<T> {
    fn from(v: Vec<T>) -> Col<T> {
        Col::Owned(v)
    }
}

impl<T> Default for Col<T> {
    fn default() -> Col<T> {
        Col::Owned(Vec::new())
    }
}

impl<T: Clone> Clone for Col<T> {
    fn clone(&self) -> Col<T> {
        match self {
            Col::Owned(v) => Col::Owned(v.clone()),
            Col::Mapped {
                backing,
                start,
                len,
            } => Col::Mapped {
                backing: Arc::clone(backing),
                start: *start,
                len: *len,
            },
        }
    }
}

impl<T: bytemuck::Pod + std::fmt::Debug> std::fmt::Debug for Col<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn mapped_columns_are_checked_once_and_read_like_vectors() {
        let bytes: Vec<u8> = (0u8..40).collect();
        let b = Arc::new(Backing::copy_of(&bytes));
        let c: Col<u32> = Col::mapped(&b, 8, 4).unwrap();
        assert_eq!(c[0], u32::from_le_bytes([8, 9, 10, 11]));
        assert_eq!(c.len(), 4);
        // Past the end, misaligned.
        assert!(Col::<u32>::mapped(&b, 32, 3).is_none());
        assert!(Col::<u32>::mapped(&b, 2, 1).is_none());
        assert!(Col::<u32>::mapped(&b, 8, usize::MAX).is_none());
        let owned: Col<u32> = vec![1, 2].into();
        assert_eq!(&owned[..], &[1, 2]);
    }

    #[test]
    fn a_range_of_a_column_reads_the_same_values() {
        let bytes: Vec<u8> = (0u8..40).collect();
        let b = Arc::new(Backing::copy_of(&bytes));
        let c: Col<u32> = Col::mapped(&b, 8, 8).unwrap();
        let owned: Col<u32> = c.to_vec().into();
        for col in [&c, &owned] {
            for (start, end) in [(0, 8), (2, 5), (3, 3), (8, 8)] {
                let r = col.range(start..end).unwrap();
                assert_eq!(&r[..], &col[start..end]);
            }
            assert!(col.range(7..9).is_none());
            assert!(col.range(9..9).is_none());
        }
        // A range of a mapped column borrows the backing: no copy.
        assert!(matches!(
            c.range(1..4),
            Some(Col::Mapped {
                start: 12,
                len: 3,
                ..
            })
        ));
    }
}
