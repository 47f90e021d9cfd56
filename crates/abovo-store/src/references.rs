//! Reference scanning: which store paths does a store item mention?
//!
//! After a build, the Guix daemon decides an output's references by looking
//! for the *hash parts* (the 32 nix-base32 characters after the store
//! directory) of candidate paths in the output's NAR serialisation
//! (docs/formats.md §6.6, daemon `nix/libstore/references.cc`). The candidates are
//! the build's input closure plus its own outputs, so self-references are
//! found too. This module does the same scan, byte for byte the same way:
//!
//! * the stream is searched in 32-byte windows, each checked *backwards*; at
//!   the first byte that is not a nix-base32 character the window jumps past
//!   it, so binary data is skipped in long strides;
//! * a full run of 32 base32 characters is looked up in the candidate set;
//!   a hit is recorded and removed from the set;
//! * the last 32 bytes of each chunk are kept and searched together with the
//!   start of the next chunk, so a hash split across two `write` calls is
//!   still found.
//!
//! Because the NAR holds file names and symlink targets as well as contents,
//! hashes in those are found too. Hashes that are compressed, UTF-16 encoded
//! or split are not: that is inherent to the method.
//!
//! # Using it in the same pass as the NAR hash
//!
//! [`RefScanSink`] is a [`Write`] tee: it scans what passes and forwards it
//! to an inner sink, normally a [`NarHashSink`]. [`hash_and_scan_path`] wires
//! the filesystem NAR writer, the scanner and the hasher together:
//!
//! ```
//! use abovo_store::{StorePath, references};
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("out");
//! let dep = StorePath::from_base_name("0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-dep")?;
//! let other = StorePath::from_base_name("1ysbwi8icaw2g5qmwjf9k0qd4d9gazd9-other")?;
//! std::fs::write(&out, format!("#!/gnu/store/{}/bin/sh\n", dep.base_name()))?;
//! let (nar, refs) = references::scan_path_for_store_paths(&out, [&dep, &other])?;
//! assert_eq!(refs, vec![dep]);
//! assert_eq!(nar.size, 176);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`NarHashSink`]: crate::nar::NarHashSink

use crate::nar::{DumpError, NarHash, NarHashSink, dump_path};
use crate::nixbase32::is_nix32_char;
use crate::store_path::{HASH_PART_LEN, StorePath};
use std::collections::{BTreeSet, HashSet};
use std::io::{self, Write};
use std::path::Path;

/// A store path hash part: 32 nix-base32 characters, as bytes.
pub type HashPart = [u8; HASH_PART_LEN];

const REF_LEN: usize = HASH_PART_LEN;

/// Looks for candidate hash parts in a byte stream fed in chunks of any size.
#[derive(Debug, Clone, Default)]
pub struct ReferenceScanner {
    /// Candidates not seen yet.
    pending: HashSet<HashPart>,
    /// Candidates seen.
    found: BTreeSet<HashPart>,
    /// The last (up to) 32 bytes fed, to catch hashes split across chunks.
    tail: Vec<u8>,
}

impl ReferenceScanner {
    /// A scanner for these hash parts.
    pub fn new(hash_parts: impl IntoIterator<Item = HashPart>) -> ReferenceScanner {
        ReferenceScanner {
            pending: hash_parts.into_iter().collect(),
            found: BTreeSet::new(),
            tail: Vec::with_capacity(REF_LEN),
        }
    }

    /// A scanner for the hash parts of these store paths.
    pub fn for_store_paths<'a>(paths: impl IntoIterator<Item = &'a StorePath>) -> ReferenceScanner {
        ReferenceScanner::new(paths.into_iter().map(|p| *p.hash_part_bytes()))
    }

    /// Scans the next chunk of the stream.
    pub fn scan(&mut self, data: &[u8]) {
        if self.pending.is_empty() {
            return;
        }
        // The seam: the previous tail followed by the start of this chunk.
        if !self.tail.is_empty() {
            let head = &data[..data.len().min(REF_LEN)];
            let mut seam = [0u8; 2 * REF_LEN];
            let n = self.tail.len() + head.len();
            seam[..self.tail.len()].copy_from_slice(&self.tail);
            seam[self.tail.len()..n].copy_from_slice(head);
            search(&seam[..n], &mut self.pending, &mut self.found);
        }
        search(data, &mut self.pending, &mut self.found);
        // Keep the last REF_LEN bytes of (tail ++ data).
        if data.len() >= REF_LEN {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - REF_LEN..]);
        } else {
            self.tail.extend_from_slice(data);
            let excess = self.tail.len().saturating_sub(REF_LEN);
            self.tail.drain(..excess);
        }
    }

    /// The hash parts seen so far.
    pub fn found(&self) -> &BTreeSet<HashPart> {
        &self.found
    }

    /// The hash parts seen, consuming the scanner.
    pub fn into_found(self) -> BTreeSet<HashPart> {
        self.found
    }

    /// Whether every candidate has been seen (further scanning is free).
    pub fn all_found(&self) -> bool {
        self.pending.is_empty()
    }
}

/// The daemon's `search`: every 32-byte window of `s`, checked backwards,
/// skipping past non-base32 bytes.
fn search(s: &[u8], pending: &mut HashSet<HashPart>, found: &mut BTreeSet<HashPart>) {
    let mut i = 0;
    'windows: while i + REF_LEN <= s.len() {
        for j in (0..REF_LEN).rev() {
            if !is_nix32_char(s[i + j]) {
                i += j + 1;
                continue 'windows;
            }
        }
        let mut candidate = [0u8; REF_LEN];
        candidate.copy_from_slice(&s[i..i + REF_LEN]);
        if pending.remove(&candidate) {
            found.insert(candidate);
            if pending.is_empty() {
                return;
            }
        }
        i += 1;
    }
}

/// A [`Write`] tee that scans everything written for references and passes
/// it on to `inner` (typically a [`NarHashSink`]).
pub struct RefScanSink<W: Write> {
    scanner: ReferenceScanner,
    inner: W,
}

impl<W: Write> RefScanSink<W> {
    /// Scans with `scanner`, forwarding to `inner`.
    pub fn new(scanner: ReferenceScanner, inner: W) -> RefScanSink<W> {
        RefScanSink { scanner, inner }
    }

    /// The scanner and the inner sink.
    pub fn into_parts(self) -> (ReferenceScanner, W) {
        (self.scanner, self.inner)
    }

    /// The scanner, to look at what was found so far.
    pub fn scanner(&self) -> &ReferenceScanner {
        &self.scanner
    }
}

impl<W: Write> Write for RefScanSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Scan exactly what the inner sink accepted, so the two stay in step.
        let n = self.inner.write(buf)?;
        self.scanner.scan(&buf[..n]);
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.scanner.scan(buf);
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the NAR of `path` once, computing its SHA-256 NAR hash and size
/// and the candidates of `scanner` that occur in it.
pub fn hash_and_scan_path(
    path: &Path,
    scanner: ReferenceScanner,
) -> Result<(NarHash, BTreeSet<HashPart>), DumpError> {
    let mut sink = RefScanSink::new(scanner, NarHashSink::new());
    dump_path(path, &mut sink)?;
    let (scanner, hasher) = sink.into_parts();
    Ok((hasher.finish(), scanner.into_found()))
}

/// [`hash_and_scan_path`] for candidate store paths: returns the NAR hash and
/// the candidates referenced, sorted.
pub fn scan_path_for_store_paths<'a>(
    path: &Path,
    candidates: impl IntoIterator<Item = &'a StorePath>,
) -> Result<(NarHash, Vec<StorePath>), DumpError> {
    let candidates: Vec<&StorePath> = candidates.into_iter().collect();
    let scanner = ReferenceScanner::for_store_paths(candidates.iter().copied());
    let (nar, found) = hash_and_scan_path(path, scanner)?;
    let mut refs: Vec<StorePath> = candidates
        .into_iter()
        .filter(|p| found.contains(p.hash_part_bytes()))
        .cloned()
        .collect();
    refs.sort();
    refs.dedup();
    Ok((nar, refs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &[u8; 32] = b"0mdqa9w1p6cmli6976v4wi0sw9r4p5pr";
    const B: &[u8; 32] = b"1ysbwi8icaw2g5qmwjf9k0qd4d9gazd9";

    fn scan_chunks(data: &[u8], chunk: usize) -> BTreeSet<HashPart> {
        let mut s = ReferenceScanner::new([*A, *B]);
        for c in data.chunks(chunk.max(1)) {
            s.scan(c);
        }
        s.into_found()
    }

    #[test]
    fn finds_hashes_in_text_and_binary() {
        let mut data = vec![0u8, 1, 2, 0xff];
        data.extend_from_slice(b"/gnu/store/");
        data.extend_from_slice(A);
        data.extend_from_slice(b"-bash\0\x7fELF");
        assert_eq!(scan_chunks(&data, 4096), BTreeSet::from([*A]));
        assert!(scan_chunks(b"nothing here at all", 7).is_empty());
    }

    #[test]
    fn finds_a_hash_split_across_chunks_at_every_split_point() {
        let mut data = b"xx/gnu/store/".to_vec();
        data.extend_from_slice(B);
        data.extend_from_slice(b"-glibc yy");
        for chunk in 1..data.len() + 1 {
            assert_eq!(
                scan_chunks(&data, chunk),
                BTreeSet::from([*B]),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_hash_inside_a_longer_base32_run_is_still_found() {
        // The daemon slides one byte at a time over base32 runs, so a hash
        // glued to other base32 characters is a hit.
        let mut data = b"abc".to_vec();
        data.extend_from_slice(A);
        data.extend_from_slice(b"xyz");
        assert_eq!(scan_chunks(&data, 5), BTreeSet::from([*A]));
    }

    #[test]
    fn a_near_miss_is_not_a_hit() {
        let mut near = *A;
        near[31] = b'e'; // 'e' is not in the nix32 alphabet
        assert!(scan_chunks(&near, 64).is_empty());
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_answer(
            prefix in proptest::collection::vec(any::<u8>(), 0..100),
            middle in proptest::collection::vec(any::<u8>(), 0..100),
            chunk in 1usize..80,
            with_a in any::<bool>(),
        ) {
            let mut data = prefix;
            if with_a { data.extend_from_slice(A); }
            data.extend_from_slice(&middle);
            data.extend_from_slice(B);
            let whole = scan_chunks(&data, data.len());
            prop_assert_eq!(scan_chunks(&data, chunk), whole.clone());
            prop_assert!(whole.contains(B));
            if with_a { prop_assert!(whole.contains(A)); }
        }
    }
}
