//! Why a snapshot cannot be read.

use super::VERSION_IN_PLACE;
use crate::error::GraphError;

/// Why a snapshot cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file does not start with the snapshot magic.
    #[error("not an abovo snapshot (bad magic number)")]
    BadMagic,
    /// A format version this build does not read.
    #[error(
        "snapshot format version {0} is not supported (this abovo reads versions 1 to {VERSION_IN_PLACE}); \
         make it again with this abovo's `snapshot create`"
    )]
    UnsupportedVersion(u32),
    /// The file is shorter than its header says (or than a header).
    #[error("truncated: the header needs {needed} bytes, the file has {actual}")]
    TruncatedFile {
        /// The size of the whole file the header announces (the fixed
        /// header's own size when even that is cut short).
        needed: u64,
        /// The size of the file.
        actual: u64,
    },
    /// A section decompresses to more than it may: a decompression bomb,
    /// stopped as soon as the bound was passed.
    #[error(
        "the {section} section decompresses to more than {limit} bytes, \
         the bound for that section ({compressed} bytes compressed)"
    )]
    SectionTooLarge {
        /// Which section (`header`, `strings`, …).
        section: &'static str,
        /// Its compressed size.
        compressed: u64,
        /// The bound it passed.
        limit: u64,
    },
    /// The body does not match its checksum.
    #[error("checksum mismatch: header says sha256 {expected}, body has {actual}")]
    ChecksumMismatch {
        /// The checksum in the header (base16).
        expected: String,
        /// The checksum of the body (base16).
        actual: String,
    },
    /// A section of an in-place snapshot (or its section table) does not
    /// match its checksum.
    #[error(
        "the {section} does not match its checksum: the table says xxh3 {expected}, the bytes have {actual}"
    )]
    SectionChecksum {
        /// Which section (`header`, `edge targets`, …).
        section: &'static str,
        /// The checksum in the section table (base16).
        expected: String,
        /// The checksum of the bytes (base16).
        actual: String,
    },
    /// A section of an in-place snapshot read on first use is damaged
    /// (what an [`OnDamage`](super::OnDamage) handler is told).
    #[error("the {section} section is damaged: {source}")]
    Damaged {
        /// Which section.
        section: &'static str,
        /// What is wrong with it.
        #[source]
        source: Box<SnapshotError>,
    },
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// The body does not decompress.
    #[error("body does not decompress: {0}")]
    Decompress(String),
    /// The body ends early.
    #[error("body truncated while reading {what} at offset {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset in the decompressed body.
        offset: usize,
    },
    /// The body holds an impossible value.
    #[error("invalid body: {0}")]
    Invalid(String),
    /// The graph it describes is not valid.
    #[error(transparent)]
    Graph(#[from] GraphError),
}
