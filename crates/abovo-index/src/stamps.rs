//! The stamps file: the [`FileStamp`] (size, modification time, inode) of
//! the file each indexed `.drv` was read from, in the order of the
//! derivation nodes of the index's graph (path order). It is all an index
//! keeps beside its snapshot: what the graph keeps of each `.drv`, an
//! update reads back from the snapshot itself
//! ([`abovo_graph::build::rebuild_graph`]), and its names are the graph's.
//!
//! # Layout
//!
//! ```text
//! offset  size  field
//! 0       8     magic "ABOVOIST"
//! 8       4     format version, u32 little-endian
//! 12      4     0
//! 16      8     count n, u64 little-endian
//! 24      24×n  per derivation: size (u64), modification time in
//!               nanoseconds (i64), inode (u64), little-endian
//! …       8     XXH3-64 of all the bytes before it, little-endian
//! ```
//!
//! Fixed-width and uncompressed: written and read in a few milliseconds
//! for a store of 200,000 `.drv`. Any damage is an error, never a panic.

use abovo_graph::load::FileStamp;

/// The first bytes of a stamps file.
pub const MAGIC: &[u8; 8] = b"ABOVOIST";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
/// Magic, version, padding, count.
const HEAD: usize = 24;
/// Size, time and inode.
const ENTRY: usize = 24;

/// Why a stamps file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampsError {
    /// Not a stamps file at all.
    #[error("not an abovo index stamps file (bad magic)")]
    Magic,
    /// Written by another version of abovo.
    #[error("stamps format version {0}, this abovo reads version {VERSION}")]
    Version(u32),
    /// The file is not the length its count says.
    #[error("the file is not the length its count says")]
    Length,
    /// The checksum does not match.
    #[error("checksum mismatch")]
    Checksum,
}

/// Serialises `stamps`.
pub fn encode(stamps: &[FileStamp]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + stamps.len() * ENTRY + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(stamps.len() as u64).to_le_bytes());
    for s in stamps {
        out.extend_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&s.mtime_ns.to_le_bytes());
        out.extend_from_slice(&s.inode.to_le_bytes());
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Reads a stamps file, checking its magic, version, length and checksum.
pub fn decode(bytes: &[u8]) -> Result<Vec<FileStamp>, StampsError> {
    if bytes.len() < HEAD + 8 || &bytes[..8] != MAGIC {
        return Err(StampsError::Magic);
    }
    let version = u32::from_le_bytes(word(bytes, 8));
    if version != VERSION {
        return Err(StampsError::Version(version));
    }
    let n = u64::from_le_bytes(word(bytes, 16));
    let want = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(ENTRY))
        .and_then(|b| b.checked_add(HEAD + 8));
    if want != Some(bytes.len()) {
        return Err(StampsError::Length);
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if xxhash_rust::xxh3::xxh3_64(body) != u64::from_le_bytes(word(sum, 0))
        || word::<4>(bytes, 12) != [0; 4]
    {
        return Err(StampsError::Checksum);
    }
    Ok(body[HEAD..]
        .chunks_exact(ENTRY)
        .map(|e| FileStamp {
            size: u64::from_le_bytes(word(e, 0)),
            mtime_ns: i64::from_le_bytes(word(e, 8)),
            inode: u64::from_le_bytes(word(e, 16)),
        })
        .collect())
}

/// The `N` bytes of `b` at `at` (the caller checked the length).
fn word<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut w = [0u8; N];
    w.copy_from_slice(&b[at..at + N]);
    w
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stamps(n: usize) -> Vec<FileStamp> {
        (0..n)
            .map(|i| FileStamp {
                size: i as u64 * 977,
                mtime_ns: -(i as i64) * 1_000_000_007,
                inode: u64::MAX - i as u64,
            })
            .collect()
    }

    #[test]
    fn stamps_read_back_as_written() {
        for n in [0, 1, 3, 1000] {
            let s = stamps(n);
            assert_eq!(decode(&encode(&s)).unwrap(), s);
        }
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let bytes = encode(&stamps(3));
        assert_eq!(decode(&bytes[..10]), Err(StampsError::Magic));
        let mut other = bytes.clone();
        other[8] = 7;
        assert_eq!(decode(&other), Err(StampsError::Version(7)));
        for i in 12..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(
                    decode(&bad),
                    Err(StampsError::Checksum | StampsError::Length)
                ),
                "byte {i}"
            );
        }
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    proptest::proptest! {
        /// Any bytes at all: an answer or an error, and what reads writes
        /// back the same.
        #[test]
        fn any_bytes_read_or_fail(bytes in proptest::collection::vec(0u8..=255, 0..200)) {
            if let Ok(s) = decode(&bytes) {
                proptest::prop_assert_eq!(encode(&s), bytes);
            }
        }
    }
}
