//! NAR hash and NAR size: the SHA-256 of the archive and its length,
//! computed while the archive streams past, never held in memory.
//!
//! [`NarHashSink`] is the [`Write`] sink that does it; [`hash_path`] runs the
//! filesystem writer into it. The store database keeps the result as
//! `sha256:<base16>` ([`Hash::to_db_string`]) next to the size; narinfo files
//! as `sha256:<nix32>`.

use super::writer::{DumpError, dump_path_filtered, write_regular};
use crate::hash::{Hash, HashAlgo, Hasher};
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::path::Path;

/// The NAR hash and NAR size of a store item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NarHash {
    /// The hash of the whole archive (SHA-256 unless asked otherwise).
    pub hash: Hash,
    /// The archive's length in bytes.
    pub size: u64,
}

/// A [`Write`] sink that hashes and counts everything written to it.
#[derive(Clone)]
pub struct NarHashSink {
    hasher: Hasher,
    size: u64,
}

impl NarHashSink {
    /// A SHA-256 sink, for NAR hashes.
    pub fn new() -> NarHashSink {
        NarHashSink::with_algo(HashAlgo::Sha256)
    }

    /// A sink for any algorithm (`guix hash -S nar -H sha512`).
    pub fn with_algo(algo: HashAlgo) -> NarHashSink {
        NarHashSink {
            hasher: algo.hasher(),
            size: 0,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hash and size of everything written.
    pub fn finish(self) -> NarHash {
        NarHash {
            hash: self.hasher.finish(),
            size: self.size,
        }
    }
}

impl Default for NarHashSink {
    fn default() -> Self {
        NarHashSink::new()
    }
}

impl Write for NarHashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.hasher.update(buf);
        self.size += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A [`Read`] adaptor that hashes and counts what is read through it: wrap
/// a downloaded NAR in it, unpack or validate it, then compare
/// [`HashingReader::finish`] with the narinfo's `NarHash` and `NarSize`.
///
/// ```
/// use abovo_store::nar::{self, HashingReader};
/// let archive = nar::Tree::Regular { executable: false, contents: b"hello".to_vec() }.to_nar();
/// let mut input = HashingReader::new(&archive[..]);
/// nar::validate(&mut input)?;
/// assert_eq!(input.finish(), nar::hash_regular_bytes(b"hello", false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HashingReader<R: Read> {
    inner: R,
    sink: NarHashSink,
}

impl<R: Read> HashingReader<R> {
    /// Hashes with SHA-256 what is read from `inner`.
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            sink: NarHashSink::new(),
        }
    }

    /// The hash and size of everything read so far.
    pub fn finish(self) -> NarHash {
        self.sink.finish()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The SHA-256 NAR hash and size of the filesystem item at `path` (a
/// symlink is recorded, not followed).
pub fn hash_path(path: &Path) -> Result<NarHash, DumpError> {
    hash_path_with(path, HashAlgo::Sha256, &mut |_, _| true)
}

/// The NAR hash of `path` with `algo`, leaving out entries below `path` for
/// which `select` is false (see [`dump_path_filtered`]).
pub fn hash_path_with(
    path: &Path,
    algo: HashAlgo,
    select: &mut dyn FnMut(&Path, &Metadata) -> bool,
) -> Result<NarHash, DumpError> {
    let mut sink = NarHashSink::with_algo(algo);
    dump_path_filtered(path, &mut sink, select)?;
    Ok(sink.finish())
}

/// The NAR hash and size of `contents` stored as a regular file: how the
/// daemon hashes a `.drv` file or any text it adds to the store. Compare
/// with a store database row to check a `.drv` file.
pub fn hash_regular_bytes(contents: &[u8], executable: bool) -> NarHash {
    let mut sink = NarHashSink::new();
    write_regular(contents, executable, &mut sink).expect("a hashing sink cannot fail"); // infallible sink
    sink.finish()
}
