//! The bounds that keep a content scan safe on hostile input, and the reader
//! wrappers that enforce them.
//!
//! A scan never writes anything to disk and never holds a whole member in
//! memory: it streams. What remains to bound is *work*: decompression bombs
//! (a few kilobytes that expand to terabytes), archives nested without end,
//! and archives with millions of members. [`Limits`] names each bound;
//! [`Guard`] counts what a decompressor produces against them and stops the
//! scan with a [`LimitExceeded`] error when one is crossed. The scan then
//! reports itself incomplete, saying which bound was hit and where.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::rc::Rc;

/// Bounds on one content scan. The defaults suit real source tarballs
/// (hundreds of megabytes expanded, ratios below 100:1) with a wide margin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes all decompressors may produce in one scan.
    pub max_expanded_bytes: u64,
    /// Largest ratio of produced to consumed bytes for one decompression
    /// layer, checked once the layer has produced more than
    /// [`Limits::ratio_grace_bytes`].
    pub max_ratio: u64,
    /// Bytes a layer may produce before the ratio is checked (small inputs
    /// legitimately reach high ratios: a kilobyte of zeros).
    pub ratio_grace_bytes: u64,
    /// How many containers and compression layers may nest (a `.tar.gz`
    /// is two).
    pub max_depth: u32,
    /// Members (files in archives and directories) visited in one scan.
    pub max_members: u64,
    /// Members listed per category in a report (the counts stay exact).
    pub max_listed: usize,
    /// Memory an xz, lzma or lzip decoder may use (its dictionary): a
    /// hostile header may ask for gigabytes.
    pub max_decoder_memory: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_expanded_bytes: 16 << 30,
            max_ratio: 1000,
            ratio_grace_bytes: 16 << 20,
            max_depth: 8,
            max_members: 2_000_000,
            max_listed: 1000,
            max_decoder_memory: 256 << 20,
        }
    }
}

/// The error a [`Guard`] returns when a bound is crossed. It travels as the
/// inner error of an [`io::Error`]; the scan also records it in the shared
/// [`Budget`], so that it is recognised even when a decoder rewraps it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(pub String);

/// What the readers of one scan share: bytes expanded so far and the first
/// limit that was hit.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    expanded: Rc<Cell<u64>>,
    stopped: Rc<RefCell<Option<String>>>,
}

impl Budget {
    /// The first limit hit in this scan, if any.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.borrow().clone()
    }

    /// Records that a limit was hit (the first reason wins) and returns the
    /// error to give back to the reader's caller.
    pub fn stop(&self, reason: String) -> io::Error {
        let mut s = self.stopped.borrow_mut();
        if s.is_none() {
            *s = Some(reason.clone());
        }
        io::Error::other(LimitExceeded(reason))
    }

    /// Bytes decompressed so far.
    pub fn expanded(&self) -> u64 {
        self.expanded.get()
    }
}

/// Counts the bytes read through it into a shared cell (the compressed
/// input of a decoder).
pub struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R> Counting<R> {
    /// Wraps `inner`; the count starts at zero.
    pub fn new(inner: R) -> (Counting<R>, Rc<Cell<u64>>) {
        let count = Rc::new(Cell::new(0));
        (
            Counting {
                inner,
                count: Rc::clone(&count),
            },
            count,
        )
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Sits on top of a decoder: counts what it produces against the scan's
/// total and against the ratio to what it consumed.
pub struct Guard<'l, R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
    consumed_base: u64,
    produced: u64,
    budget: Budget,
    limits: &'l Limits,
    place: String,
}

impl<'l, R: Read> Guard<'l, R> {
    /// Guards `inner`, whose input is counted by `consumed` (from
    /// `consumed_base` on). `place` names the stream in error messages.
    pub fn new(
        inner: R,
        consumed: Rc<Cell<u64>>,
        budget: &Budget,
        limits: &'l Limits,
        place: String,
    ) -> Guard<'l, R> {
        let consumed_base = consumed.get();
        Guard {
            inner,
            consumed,
            consumed_base,
            produced: 0,
            budget: budget.clone(),
            limits,
            place,
        }
    }
}

impl<R: Read> Read for Guard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(reason) = self.budget.stopped() {
            return Err(io::Error::other(LimitExceeded(reason)));
        }
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let total = self.budget.expanded.get() + n as u64;
        self.budget.expanded.set(total);
        if total > self.limits.max_expanded_bytes {
            return Err(self.budget.stop(format!(
                "stopped at {}: more than {} bytes decompressed in all (decompression bomb guard)",
                self.place, self.limits.max_expanded_bytes
            )));
        }
        let consumed = self
            .consumed
            .get()
            .saturating_sub(self.consumed_base)
            .max(1);
        if self.produced > self.limits.ratio_grace_bytes
            && self.produced / consumed > self.limits.max_ratio
        {
            return Err(self.budget.stop(format!(
                "stopped at {}: {} bytes expanded from {} (ratio above {}:1, decompression bomb guard)",
                self.place, self.produced, consumed, self.limits.max_ratio
            )));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn guard_stops_a_high_ratio_stream() {
        let limits = Limits {
            ratio_grace_bytes: 1000,
            max_ratio: 10,
            ..Limits::default()
        };
        let budget = Budget::default();
        // A "decoder" that produces 100 bytes per input byte.
        struct Expand<R>(R);
        impl<R: Read> Read for Expand<R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let mut one = [0u8; 1];
                let n = self.0.read(&mut one)?;
                let out = (n * 100).min(buf.len());
                buf[..out].fill(b'x');
                Ok(out)
            }
        }
        let (input, consumed) = Counting::new(&[0u8; 100][..]);
        let mut g = Guard::new(Expand(input), consumed, &budget, &limits, "bomb".into());
        let err = io::copy(&mut g, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("ratio above 10:1"), "{err}");
        assert!(budget.stopped().is_some());
    }

    #[test]
    fn guard_stops_at_the_total() {
        let limits = Limits {
            max_expanded_bytes: 5000,
            ..Limits::default()
        };
        let budget = Budget::default();
        let data = vec![7u8; 10_000];
        let (input, consumed) = Counting::new(&data[..]);
        let mut g = Guard::new(input, consumed, &budget, &limits, "big".into());
        let err = io::copy(&mut g, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("more than 5000 bytes"), "{err}");
    }

    #[test]
    fn guard_passes_ordinary_streams() {
        let limits = Limits::default();
        let budget = Budget::default();
        let data = vec![7u8; 10_000];
        let (input, consumed) = Counting::new(&data[..]);
        let mut g = Guard::new(input, consumed, &budget, &limits, "ok".into());
        assert_eq!(io::copy(&mut g, &mut io::sink()).unwrap(), 10_000);
        assert_eq!(budget.expanded(), 10_000);
    }
}
