//! The byte-level encoding of snapshot bodies: LEB128 varints, raw byte
//! arrays and length-prefixed strings, with a bounds-checked reader.

use super::SnapshotError;

/// Appends values to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Enc {
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.var(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

/// Reads values back, failing (never panicking) on truncated or absurd data.
#[derive(Debug)]
pub(crate) struct Dec<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Dec<'a> {
        Dec { data, pos: 0 }
    }

    fn truncated(&self, what: &'static str) -> SnapshotError {
        SnapshotError::Truncated {
            what,
            offset: self.pos,
        }
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// How many bytes were read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.data.len()
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| self.truncated(what))?;
        self.pos += 1;
        Ok(b)
    }

    /// An unsigned LEB128 varint of at most ten bytes. (A snapshot holds
    /// millions: one bounds check for the whole varint, not one per byte.)
    #[inline]
    pub(crate) fn var(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let mut v = 0u64;
        for (i, &b) in rest.iter().take(10).enumerate() {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.pos += i + 1;
                return Ok(v);
            }
        }
        self.var_error(rest.len(), what)
    }

    #[cold]
    fn var_error(&mut self, left: usize, what: &'static str) -> Result<u64, SnapshotError> {
        if left < 10 {
            self.pos += left;
            return Err(self.truncated(what));
        }
        self.pos += 10;
        Err(SnapshotError::Invalid(format!(
            "{what}: varint too long at offset {}",
            self.pos
        )))
    }

    /// A varint that must be below `bound`.
    #[inline]
    pub(crate) fn below(&mut self, bound: usize, what: &'static str) -> Result<u32, SnapshotError> {
        let v = self.var(what)?;
        if v >= bound as u64 {
            return Err(SnapshotError::Invalid(format!(
                "{what} {v} out of range (< {bound}) at offset {}",
                self.pos
            )));
        }
        Ok(v as u32)
    }

    /// A count, checked against the bytes left (each item takes at least
    /// `min_bytes`), so that a corrupt count cannot make us allocate wildly.
    pub(crate) fn count(
        &mut self,
        min_bytes: usize,
        what: &'static str,
    ) -> Result<usize, SnapshotError> {
        let v = self.var(what)?;
        let left = (self.data.len() - self.pos) as u64;
        if v.saturating_mul(min_bytes as u64) > left {
            return Err(SnapshotError::Invalid(format!(
                "{what}: count {v} exceeds the data left at offset {}",
                self.pos
            )));
        }
        Ok(v as usize)
    }

    pub(crate) fn bytes(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<&'a [u8], SnapshotError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.truncated(what))?;
        let b = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.truncated(what))?;
        self.pos = end;
        Ok(b)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N, what)?);
        Ok(a)
    }

    pub(crate) fn str(&mut self, what: &'static str) -> Result<&'a str, SnapshotError> {
        let b = self.str_bytes(what)?;
        std::str::from_utf8(b).map_err(|_| SnapshotError::Invalid(format!("{what} is not UTF-8")))
    }

    /// The bytes of a string, not checked as UTF-8: for comparing with a
    /// string, which equal bytes are.
    pub(crate) fn str_bytes(&mut self, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let n = self.count(1, what)?;
        self.bytes(n, what)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(values in proptest::collection::vec(any::<u64>(), 0..50), s in ".{0,20}") {
            let mut e = Enc::default();
            for &v in &values { e.var(v); }
            e.str(&s);
            let mut d = Dec::new(&e.buf);
            for &v in &values { prop_assert_eq!(d.var("v").unwrap(), v); }
            prop_assert_eq!(d.str("s").unwrap(), s.as_str());
            prop_assert!(d.at_end());
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut d = Dec::new(&data);
            let _ = d.var("a");
            let _ = d.str("b");
            let _ = d.count(4, "c");
            let _ = d.array::<20>("d");
        }
    }

    #[test]
    fn truncation_is_an_error() {
        let mut d = Dec::new(&[0x80, 0x80]);
        assert!(matches!(d.var("x"), Err(SnapshotError::Truncated { .. })));
        let mut d = Dec::new(&[0xff; 11]);
        assert!(matches!(d.var("x"), Err(SnapshotError::Invalid(_))));
        let mut d = Dec::new(&[200, 1]);
        assert!(d.count(1, "n").is_err());
    }
}
