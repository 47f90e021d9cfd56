//! The section table of an in-place snapshot (see the [format](super)):
//! the versions this build reads, what each section holds, and where
//! each lies in the file, checked before any section is read; a section
//! is checked against its checksum when first touched.

use super::SnapshotError;
use super::inplace::OnDamage;
use crate::column::{Backing, Col};
use std::sync::Arc;

/// The version number of the in-place form this build writes (6 is the
/// dense compressed form).
pub(super) const VERSION: u32 = 9;
/// The previous version, still read: the sections of version 9, with a
/// block checksum per 4 KiB of each array instead of per 1 KiB (see
/// [`crate::blocks`]).
pub(super) const VERSION_8: u32 = 8;
/// An older version, still read: the sections of version 8 but the
/// last two, without the kinds and built-in bit in the node flags, and
/// without section 6 and 43 among the arrays of the block checksums (the
/// graph then decodes every derivation at the first one asked for, and
/// computes the fixed outputs' paths).
pub(super) const VERSION_7: u32 = 7;
/// An older version, still read: the sections of version 7 but the
/// last eleven (the graph then derives what they store, and checks its
/// largest arrays whole when the file is opened or the section first
/// used).
pub(super) const VERSION_5: u32 = 5;
/// An older version, still read: the sections of version 5 but the
/// last six (the graph then derives its reverse edges and order).
pub(super) const VERSION_4: u32 = 4;
/// The first version of the in-place form, still read: the sections of
/// version 4 but the last eight (the graph then reads systems and
/// fixed-output flags from the derivation facts).
pub(super) const VERSION_3: u32 = 3;
/// Its sections, in file order.
pub(super) const SECTION_NAMES: [&str; 44] = [
    "header",
    "string ends",
    "string text",
    "node hash parts",
    "node names",
    "node kinds",
    "derivations",
    "output sets",
    "edge offsets",
    "edge targets",
    "edge output sets",
    "packages",
    "store metadata",
    "package nodes",
    "package edges",
    "bag-emerged edges",
    "package metadata",
    "node systems",
    "node flags",
    "package edge offsets",
    "package edge targets",
    "package edge uses",
    "bag-emerged edge offsets",
    "bag-emerged edge targets",
    "bag-emerged edge uses",
    "dependent offsets",
    "dependent targets",
    "topological order",
    "package metadata string ends",
    "package metadata text",
    "package metadata rows",
    "package dependent offsets",
    "package dependent targets",
    "package order",
    "bag-emerged dependent offsets",
    "bag-emerged dependent targets",
    "bag-emerged order",
    "package row starts",
    "package row nodes",
    "derivation output sets",
    "node output sets",
    "block checksums",
    "derivation starts",
    "fixed output hash parts",
];
pub(super) const SECTIONS: usize = SECTION_NAMES.len();
/// The number of sections of version 3.
pub(super) const SECTIONS_V3: usize = 17;
/// The number of sections of version 4.
pub(super) const SECTIONS_V4: usize = 25;
/// The number of sections of version 5.
pub(super) const SECTIONS_V5: usize = 31;
/// The number of sections of version 7.
pub(super) const SECTIONS_V7: usize = 42;
/// Magic, version, section count, file length, table checksum.
pub(super) const FIXED: usize = 32;
/// Offset, length and checksum of a section.
pub(super) const ENTRY: usize = 24;

pub(super) fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

pub(super) fn hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

pub(super) fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub(super) fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A checked table of sections over the file's bytes.
pub(super) struct Sections {
    pub(super) backing: Arc<Backing>,
    /// Start, length and checksum of each section.
    pub(super) table: Vec<(usize, usize, u64)>,
    /// The file's format version (one this build reads).
    version: u32,
    /// Per section, whether its checksum was found right: a section read
    /// by several parts (the block checksums, by every array they cover)
    /// is hashed once.
    checked: Box<[std::sync::atomic::AtomicBool]>,
    on_damage: Option<OnDamage>,
}

impl Sections {
    /// Checks the fixed header and the section table: every section lies
    /// in the file at an aligned offset. The sections themselves are
    /// checked when first touched.
    pub(super) fn parse(
        backing: Arc<Backing>,
        on_damage: Option<OnDamage>,
    ) -> Result<Sections, SnapshotError> {
        let b = backing.bytes();
        if b.len() < 8 || &b[..8] != super::MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        if b.len() < FIXED {
            return Err(SnapshotError::TruncatedFile {
                needed: FIXED as u64,
                actual: b.len() as u64,
            });
        }
        let version = le_u32(b, 8);
        let sections = match version {
            VERSION | VERSION_8 => SECTIONS,
            VERSION_7 => SECTIONS_V7,
            VERSION_5 => SECTIONS_V5,
            VERSION_4 => SECTIONS_V4,
            VERSION_3 => SECTIONS_V3,
            _ => return Err(SnapshotError::UnsupportedVersion(version)),
        };
        let count = le_u32(b, 12) as usize;
        if count != sections {
            return Err(invalid(format!(
                "{count} sections, expected {sections} for format version {version}"
            )));
        }
        let len = le_u64(b, 16);
        if (b.len() as u64) < len {
            return Err(SnapshotError::TruncatedFile {
                needed: len,
                actual: b.len() as u64,
            });
        }
        if b.len() as u64 > len {
            return Err(invalid(format!(
                "the header announces {len} bytes, the file has {} (bytes after the end)",
                b.len()
            )));
        }
        let end = FIXED + sections * ENTRY;
        let raw = b.get(FIXED..end).ok_or(SnapshotError::TruncatedFile {
            needed: end as u64,
            actual: b.len() as u64,
        })?;
        let (want, got) = (le_u64(b, 24), hash(raw));
        if want != got {
            return Err(SnapshotError::SectionChecksum {
                section: "section table",
                expected: format!("{want:016x}"),
                actual: format!("{got:016x}"),
            });
        }
        let mut table = Vec::with_capacity(sections);
        for (i, name) in SECTION_NAMES.iter().take(sections).enumerate() {
            let e = FIXED + i * ENTRY;
            let (start, size) = (le_u64(raw, e - FIXED), le_u64(raw, e - FIXED + 8));
            let fits = start % 8 == 0
                && start >= end as u64
                && start.checked_add(size).is_some_and(|x| x <= len);
            if !fits {
                return Err(invalid(format!(
                    "the {name} section ({size} bytes at {start}) is not an aligned part of the file"
                )));
            }
            table.push((start as usize, size as usize, le_u64(raw, e - FIXED + 16)));
        }
        Ok(Sections {
            backing,
            version,
            checked: table.iter().map(|_| Default::default()).collect(),
            table,
            on_damage,
        })
    }

    /// The bytes of section `i`, once they match their checksum (hashed
    /// the first time only).
    pub(super) fn verified(&self, i: usize) -> Result<&[u8], SnapshotError> {
        let (start, len, want) = self.table[i];
        let bytes = &self.backing.bytes()[start..start + len];
        let once = &self.checked[i];
        if once.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(bytes);
        }
        let got = hash(bytes);
        if got != want {
            return Err(SnapshotError::SectionChecksum {
                section: SECTION_NAMES[i],
                expected: format!("{want:016x}"),
                actual: format!("{got:016x}"),
            });
        }
        once.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(bytes)
    }

    /// The file's format version.
    pub(super) fn version(&self) -> u32 {
        self.version
    }

    /// The number of sections.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// The length of section `i` in bytes (0 for a section the file's
    /// version does not have).
    pub(super) fn table_len(&self, i: usize) -> usize {
        self.table.get(i).map_or(0, |t| t.1)
    }

    /// Whether the file's version has section `i`.
    pub(super) fn has(&self, i: usize) -> bool {
        i < self.table.len()
    }

    /// The handler told of damage found after opening.
    pub(super) fn on_damage(&self) -> Option<OnDamage> {
        self.on_damage.clone()
    }

    /// Section `i` as `count` values, checked against its checksum.
    pub(super) fn col<T: bytemuck::Pod>(
        &self,
        i: usize,
        count: usize,
    ) -> Result<Col<T>, SnapshotError> {
        self.verified(i)?;
        self.mapped(i, count)
    }

    /// Section `i` as `count` values, without hashing it: for a section
    /// just checked against its checksum ([`Sections::late`]), or checked
    /// block by block as it is read ([`crate::blocks`]).
    pub(super) fn mapped<T: bytemuck::Pod>(
        &self,
        i: usize,
        count: usize,
    ) -> Result<Col<T>, SnapshotError> {
        let len = self.table_len(i);
        let size = std::mem::size_of::<T>();
        if Some(len) != count.checked_mul(size) {
            return Err(invalid(format!(
                "the {} section has {len} bytes, expected {count} values of {size}",
                SECTION_NAMES[i],
            )));
        }
        Col::mapped(&self.backing, self.table[i].0, count)
            .ok_or_else(|| invalid(format!("the {} section is misaligned", SECTION_NAMES[i])))
    }

    /// Decodes section `i` with `decode` on first use; a damaged section
    /// is reported to the handler and reads as empty.
    pub(super) fn late<T: Default>(
        &self,
        i: usize,
        decode: impl FnOnce(&[u8]) -> Result<T, SnapshotError>,
    ) -> T {
        match self.verified(i).and_then(decode) {
            Ok(v) => v,
            Err(e) => {
                if let Some(f) = &self.on_damage {
                    f(&SnapshotError::Damaged {
                        section: SECTION_NAMES[i],
                        source: Box::new(e),
                    });
                }
                T::default()
            }
        }
    }
}
