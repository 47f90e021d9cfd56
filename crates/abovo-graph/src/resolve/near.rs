//! Whether a known name is near an unknown one, and how near: the rule
//! [`suggest`](super::suggest) applies to every name a graph knows (tens of
//! thousands), made cheap by passing over most names unmeasured.
//!
//! Both names lowercased, a known name is near when it equals the wanted
//! one (score 2, above any measure), when their Jaro–Winkler similarity
//! ([`strsim::jaro_winkler`], wanted name first) is at least [`NEAR`], or
//! when it contains the wanted one (the wanted name at least three bytes,
//! the known one, as given, four).
//!
//! The similarity is bounded from above before it is measured. For `m`
//! matching characters (`t` of them transposed) of two names of `a` and
//! `b` characters, Jaro is `(m/a + m/b + (m-t)/m) / 3`, at most
//! `(m/a + m/b + 1) / 3`. A matching character of either name is one the
//! other name has, so `m` is at most the number of characters of each
//! name that the other one has; characters are counted by buckets (the
//! code point modulo 128), which can only make those counts larger.
//! Winkler adds `p/10 · (1 - jaro)` for a common prefix of `p ≤ 4`
//! characters (when Jaro exceeds 0.7), which grows with Jaro: the bound of
//! Jaro with the names' actual prefix bounds the measure. A name whose
//! bound is below [`NEAR`] (less a margin far above rounding error) and
//! that cannot contain the wanted name (it lacks one of its characters,
//! or is shorter) is passed over; the others are measured as before, so
//! the names kept and their scores are the same, bit for bit.
//!
//! Of the 30,574 package names of the built-in snapshot, fewer than one in
//! twenty pass the bound for `helo` (a test checks it); the measure, which
//! costs the product of the two lengths and allocates, was a third of an
//! unknown name's time when every name was measured.

use std::borrow::Cow;

/// The similarity from which a known name is near.
pub(super) const NEAR: f64 = 0.88;

/// How far below [`NEAR`] a bound may lie and the name still be measured:
/// the bound and the measure are each computed to within about 1e-15 of
/// their exact values, which the margin covers many times over.
const MARGIN: f64 = 1e-9;

/// The bucket bit of a character (see the [module docs](self)): ASCII
/// characters each have their own.
fn bucket(c: u32) -> u128 {
    1u128 << (c % 128)
}

/// What the bound says of a known name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Its similarity may reach [`NEAR`]: measure it.
    Near,
    /// Its similarity cannot reach [`NEAR`], but it may contain the
    /// wanted name: measure it if it does.
    OnlyContaining,
    /// Neither: it is not near.
    Far,
}

/// An unknown name, lowercased and counted, to compare known names with.
#[derive(Debug)]
pub(super) struct Wanted {
    /// The name lowercased ([`str::to_lowercase`]).
    lower: String,
    /// How many characters `lower` has.
    chars: usize,
    /// The buckets of the characters of `lower`.
    buckets: u128,
    /// How many characters of `lower` fall in each bucket.
    counts: [u32; 128],
    /// The first (up to) four characters of `lower`, for the prefix.
    head: [u32; 4],
    /// How many characters of `head` there are.
    head_len: usize,
}

impl Wanted {
    /// `name`, ready to be compared.
    pub(super) fn new(name: &str) -> Wanted {
        let lower = name.to_lowercase();
        let mut w = Wanted {
            chars: 0,
            buckets: 0,
            counts: [0; 128],
            head: [0; 4],
            head_len: 0,
            lower: String::new(),
        };
        for c in lower.chars().map(u32::from) {
            if w.head_len < 4 {
                w.head[w.head_len] = c;
                w.head_len += 1;
            }
            w.chars += 1;
            w.buckets |= bucket(c);
            w.counts[(c % 128) as usize] += 1;
        }
        w.lower = lower;
        w
    }

    /// The score of the known name `k` when it is near (see the
    /// [module docs](self)), else `None`.
    pub(super) fn score(&self, k: &str) -> Option<f64> {
        let (lower, bound): (Cow<'_, str>, Bound) = if k.is_ascii() {
            // Lowercased on the fly for the bound; only a name that
            // passes it, and has capitals, is copied.
            let chars = k.bytes().map(|b| u32::from(b.to_ascii_lowercase()));
            let bound = self.bound(k.len(), chars);
            if bound == Bound::Far {
                return None;
            }
            let lower = if k.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(k.to_ascii_lowercase())
            } else {
                Cow::Borrowed(k)
            };
            (lower, bound)
        } else {
            // `str::to_lowercase` may change the number of characters
            // (and has rules for a final sigma): bounded on its result.
            let lower = k.to_lowercase();
            let bound = self.bound(k.len(), lower.chars().map(u32::from));
            if bound == Bound::Far {
                return None;
            }
            (Cow::Owned(lower), bound)
        };
        if bound == Bound::OnlyContaining && !lower.contains(self.lower.as_str()) {
            return None;
        }
        self.measure(k, &lower)
    }

    /// The rule itself, for `k` and its lowercase `lower`.
    fn measure(&self, k: &str, lower: &str) -> Option<f64> {
        let score = if lower == self.lower {
            // Only the case differs: the best suggestion there is.
            2.0
        } else {
            strsim::jaro_winkler(&self.lower, lower)
        };
        let contains = k.len() > 3 && self.lower.len() >= 3 && lower.contains(self.lower.as_str());
        (score >= NEAR || contains).then_some(score)
    }

    /// What the bound says of a known name of `k_len` bytes whose
    /// lowercase has the characters `lower` (see the [module docs](self)).
    fn bound(&self, k_len: usize, lower: impl Iterator<Item = u32>) -> Bound {
        // Its characters, its buckets, how many of its characters are in
        // a bucket of the wanted name's, and the common prefix.
        let (mut len, mut buckets, mut shared, mut prefix) = (0usize, 0u128, 0usize, 0usize);
        for c in lower {
            let bit = bucket(c);
            buckets |= bit;
            shared += usize::from(self.buckets & bit != 0);
            if prefix == len && len < self.head_len && self.head[len] == c {
                prefix += 1;
            }
            len += 1;
        }
        let may_contain =
            k_len > 3 && self.lower.len() >= 3 && self.buckets & !buckets == 0 && len >= self.chars;
        let otherwise = match may_contain {
            true => Bound::OnlyContaining,
            false => Bound::Far,
        };
        if len == 0 || self.chars == 0 {
            // Equal when both are empty; not worth a bound.
            return Bound::Near;
        }
        // How many of the wanted name's characters are in a bucket of
        // the known name's.
        let mut common = self.buckets & buckets;
        let mut theirs = 0usize;
        while common != 0 {
            theirs += self.counts[common.trailing_zeros() as usize] as usize;
            common &= common - 1;
        }
        let m = shared.min(theirs) as f64;
        let jaro = (m / self.chars as f64 + m / len as f64 + 1.0) / 3.0;
        let bound = jaro + 0.1 * prefix as f64 * (1.0 - jaro);
        match bound >= NEAR - MARGIN {
            true => Bound::Near,
            false => otherwise,
        }
    }
}

#[cfg(test)]
mod tests;
