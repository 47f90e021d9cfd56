//! Rewriting strings in a byte stream, and hashing a stream "modulo" a
//! string: what content-addressing an output that refers to itself needs
//! (Nix's `RewritingSink` and `HashModuloSink`).
//!
//! A floating content-addressed output is built at a temporary (scratch)
//! path, so any reference to itself holds the scratch path's hash part.
//! Its content address must not depend on that temporary name, so it is
//! hashed with every occurrence of the hash part replaced by as many NUL
//! bytes, followed by `|<offset>` (decimal) for each occurrence, in order
//! ([`HashModuloWriter`]): two outputs that differ only in where they
//! refer to themselves do not collide. Once the final path is known, the
//! occurrences are rewritten to its hash part ([`RewritingWriter`]), which
//! does not change that hash.
//!
//! Occurrences are found left to right without overlap, across the
//! boundaries of the chunks written, as Nix finds them.

use crate::hash::{Hash, HashAlgo, Hasher};
use std::io::{self, Write};

/// Writes what it is given to `inner`, with every occurrence of `from`
/// replaced by `to` (of the same length), and notes the offsets (in the
/// stream) where they started.
pub struct RewritingWriter<W: Write> {
    inner: W,
    from: Vec<u8>,
    to: Vec<u8>,
    /// Bytes held back: they may be the start of an occurrence.
    pending: Vec<u8>,
    /// Stream offset of `pending[0]`.
    offset: u64,
    /// Where occurrences started.
    matches: Vec<u64>,
}

impl<W: Write> RewritingWriter<W> {
    /// Rewrites `from` to `to`; they must have the same length (store
    /// hash parts do), or `None`.
    pub fn new(inner: W, from: &[u8], to: &[u8]) -> Option<RewritingWriter<W>> {
        (from.len() == to.len()).then(|| RewritingWriter {
            inner,
            from: from.to_vec(),
            to: to.to_vec(),
            pending: Vec::new(),
            offset: 0,
            matches: Vec::new(),
        })
    }

    /// Writes out what is held back; returns the inner writer and the
    /// offsets of the occurrences, in order.
    pub fn finish(mut self) -> io::Result<(W, Vec<u64>)> {
        self.inner.write_all(&self.pending)?;
        self.inner.flush()?;
        Ok((self.inner, self.matches))
    }
}

impl<W: Write> Write for RewritingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.from.is_empty() {
            self.inner.write_all(data)?;
            return Ok(data.len());
        }
        self.pending.extend_from_slice(data);
        let n = self.from.len();
        let mut out = Vec::with_capacity(self.pending.len());
        let mut at = 0;
        while let Some(i) = memchr::memmem::find(&self.pending[at..], &self.from) {
            out.extend_from_slice(&self.pending[at..at + i]);
            out.extend_from_slice(&self.to);
            self.matches.push(self.offset + (at + i) as u64);
            at += i + n;
        }
        // Keep the last n-1 bytes, which may begin an occurrence.
        let keep_from = self.pending.len().saturating_sub(n - 1).max(at);
        out.extend_from_slice(&self.pending[at..keep_from]);
        self.offset += keep_from as u64;
        self.pending.drain(..keep_from);
        self.inner.write_all(&out)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A [`Hasher`] as a writer.
struct HashSink(Hasher);

impl Write for HashSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hashes what it is given modulo `modulus` (see the [module docs](self)).
pub struct HashModuloWriter {
    rewriting: RewritingWriter<HashSink>,
}

impl HashModuloWriter {
    /// Hashes with `algo`, modulo `modulus` (a scratch path's hash part).
    pub fn new(algo: HashAlgo, modulus: &[u8]) -> HashModuloWriter {
        let zeros = vec![0u8; modulus.len()];
        HashModuloWriter {
            // Same lengths by construction.
            rewriting: RewritingWriter::new(HashSink(Hasher::new(algo)), modulus, &zeros)
                .unwrap_or_else(|| unreachable_writer(algo)),
        }
    }

    /// The hash, and the offsets of the occurrences of the modulus.
    pub fn finish(self) -> io::Result<(Hash, Vec<u64>)> {
        let (HashSink(mut hasher), matches) = self.rewriting.finish()?;
        for m in &matches {
            hasher.update(format!("|{m}").as_bytes());
        }
        Ok((hasher.finish(), matches))
    }
}

#[cold]
fn unreachable_writer(algo: HashAlgo) -> RewritingWriter<HashSink> {
    RewritingWriter {
        inner: HashSink(Hasher::new(algo)),
        from: Vec::new(),
        to: Vec::new(),
        pending: Vec::new(),
        offset: 0,
        matches: Vec::new(),
    }
}

impl Write for HashModuloWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.rewriting.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rewrite(chunks: &[&[u8]], from: &[u8], to: &[u8]) -> (Vec<u8>, Vec<u64>) {
        let mut w = RewritingWriter::new(Vec::new(), from, to).unwrap();
        for c in chunks {
            w.write_all(c).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn rewrites_like_nix() {
        // Nix's src/libstore-tests/references.cc (one rewrite each).
        assert_eq!(rewrite(&[b"foooo"], b"foo", b"bar").0, b"baroo");
        assert_eq!(rewrite(&[b"foooo"], b"fou", b"bar").0, b"foooo");
        // Across chunks, without overlap, with stream offsets.
        assert_eq!(
            rewrite(&[b"xfo", b"ofo", b"o", b"foo"], b"foo", b"BAR"),
            (b"xBARBARBAR".to_vec(), vec![1, 4, 7])
        );
        assert_eq!(
            rewrite(&[b"aaaa"], b"aa", b"bb"),
            (b"bbbb".to_vec(), vec![0, 2])
        );
    }

    #[test]
    fn hash_modulo_zeroes_and_counts_the_occurrences() {
        let data = b"ref:abcd and abcd.";
        let mut w = HashModuloWriter::new(HashAlgo::Sha256, b"abcd");
        w.write_all(data).unwrap();
        let (h, matches) = w.finish().unwrap();
        assert_eq!(matches, [4, 13]);
        let mut want = b"ref:\0\0\0\0 and \0\0\0\0.".to_vec();
        want.extend_from_slice(b"|4|13");
        assert_eq!(h, HashAlgo::Sha256.digest(&want));
        // Another name at the same places hashes the same.
        let mut w = HashModuloWriter::new(HashAlgo::Sha256, b"wxyz");
        w.write_all(b"ref:wxyz and wxyz.").unwrap();
        assert_eq!(w.finish().unwrap().0, h);
    }

    proptest! {
        /// Chunking never changes the result.
        #[test]
        fn chunks_do_not_matter(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..200), cut in proptest::collection::vec(0usize..200, 0..8)) {
            let whole = rewrite(&[&data], b"abca", b"XYZW");
            let mut cuts: Vec<usize> = cut.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts { chunks.push(&data[at..c]); at = c; }
            chunks.push(&data[at..]);
            prop_assert_eq!(rewrite(&chunks, b"abca", b"XYZW"), whole);
        }
    }
}
