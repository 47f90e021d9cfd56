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
//! name that the other one has. Winkler adds `p/10 · (1 - jaro)` for a
//! common prefix of `p ≤ 4` characters (when Jaro exceeds 0.7), which
//! grows with Jaro: the bound of Jaro with the names' actual prefix bounds
//! the measure. It falls as `b` grows, so for each `p` and `m` it is a
//! longest `b` (computed once per wanted name, one more for rounding,
//! see [`longest`]): a name's bound is integer comparisons. A name whose
//! bound is below [`NEAR`] (less a margin far above rounding error) and
//! that cannot contain the wanted name (it lacks one of its characters,
//! or is shorter) is passed over; the others are measured as before, so
//! the names kept and their scores are the same, bit for bit.
//!
//! Characters are counted in one pass over the known name. An ASCII name
//! (every name of the built-in snapshot) is read as bytes, each looked up
//! in a table of 256 entries that gives the slot of the wanted name's
//! character it is, in either case: the counts are exact. Other names
//! are lowercased and counted by buckets (the code point modulo 128),
//! which can only make the counts larger. [`Wanted::far`] asks this of
//! bytes not yet checked as UTF-8 (only names that are not passed over
//! are), and [`Wanted::far_before_version`] of a derivation's name up to
//! its version.
//!
//! Of the 30,574 package names of the built-in snapshot, fewer than one in
//! twenty pass the bound for `helo` (a test checks it); the measure, which
//! costs the product of the two lengths and allocates, was a third of an
//! unknown name's time when every name was measured. The pass itself over
//! the 94,000 names of the built-in snapshot (1.4 MB) is now most of what
//! remains of an unknown name's suggestions: about 2 ms.

use std::borrow::Cow;

/// The similarity from which a known name is near.
pub(super) const NEAR: f64 = 0.88;

/// The bit of [`Wanted`]'s byte table that marks a byte beyond ASCII.
const NOT_ASCII: u64 = 1 << 63;

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
    /// Per byte value: for one whose lowercase `lower` has, the bit of
    /// that character's slot among the distinct ASCII characters of
    /// `lower` (1 to 62) and bit 0; for a byte that is not ASCII, bit 63;
    /// else nothing. The bound of an ASCII name is one look-up a byte.
    bits: [u64; 256],
    /// How many characters of `lower` each slot stands for.
    slot_counts: [u32; 64],
    /// The bits of the slots of every character of `lower`, when all of
    /// them are ASCII (else 0, and no ASCII name contains `lower`).
    all_slots: u64,
    /// Whether `lower` has few enough distinct ASCII characters to have a
    /// slot each (62).
    slotted: bool,
    /// For a common prefix of `p` characters and at most `m` matching
    /// ones, the longest known name whose bound reaches [`NEAR`] (less
    /// [`MARGIN`]): `longest[p][m]`, so that the bound of a name is
    /// integer comparisons.
    longest: [Vec<usize>; 5],
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
            bits: [0; 256],
            slot_counts: [0; 64],
            all_slots: 0,
            slotted: true,
            longest: Default::default(),
        };
        for b in 128..256 {
            w.bits[b] = NOT_ASCII;
        }
        let mut next_slot = 1u32;
        for c in lower.chars().map(u32::from) {
            if w.head_len < 4 {
                w.head[w.head_len] = c;
                w.head_len += 1;
            }
            w.chars += 1;
            w.buckets |= bucket(c);
            w.counts[(c % 128) as usize] += 1;
            let Ok(b) = u8::try_from(c) else { continue };
            if !b.is_ascii() || !w.slotted {
                continue;
            }
            if w.bits[usize::from(b)] == 0 {
                if next_slot == 63 {
                    w.slotted = false;
                    continue;
                }
                // The lowercase character and its capital (the bytes of a
                // known name are lowercased by the table).
                let bits = 1u64 << next_slot | 1;
                w.bits[usize::from(b)] = bits;
                w.bits[usize::from(b.to_ascii_uppercase())] = bits;
                next_slot += 1;
            }
            let slot = (w.bits[usize::from(b)] & !1).trailing_zeros();
            w.slot_counts[slot as usize] += 1;
        }
        if lower.is_ascii() {
            w.all_slots = (1..next_slot).fold(0, |m, s| m | 1u64 << s);
        }
        w.lower = lower;
        w.longest =
            std::array::from_fn(|p| (0..=w.chars).map(|m| longest(w.chars, p, m)).collect());
        w
    }

    /// Whether the known name `k`, given as bytes that may not be UTF-8,
    /// is surely not near: it is ASCII and the bound passes it over. Cheap
    /// enough to ask of every name a graph knows before checking it as
    /// UTF-8.
    pub(super) fn far(&self, k: &[u8]) -> bool {
        self.bound_ascii(k) == Some(Bound::Far)
    }

    /// The score of the known name `k` when it is near (see the
    /// [module docs](self)), else `None`.
    pub(super) fn score(&self, k: &str) -> Option<f64> {
        let (lower, bound): (Cow<'_, str>, Bound) = if k.is_ascii() {
            // Lowercased on the fly for the bound; only a name that
            // passes it, and has capitals, is copied.
            let bound = self.bound_ascii(k.as_bytes()).unwrap_or_else(|| {
                let chars = k.bytes().map(|b| u32::from(b.to_ascii_lowercase()));
                self.bound(k.len(), chars)
            });
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
        // How many of the wanted name's characters are in a bucket of
        // the known name's.
        let mut common = self.buckets & buckets;
        let mut theirs = 0usize;
        while common != 0 {
            theirs += self.counts[common.trailing_zeros() as usize] as usize;
            common &= common - 1;
        }
        self.verdict(len, shared.min(theirs), prefix, may_contain)
    }

    /// For a derivation's name `d`, given as bytes that may not be UTF-8:
    /// where the hyphen before its version is (as
    /// [`crate::version::version_hyphen`] finds it, `None` when it has no
    /// version) and whether the name before it is surely not near (as
    /// [`Wanted::far`]).
    pub(super) fn far_before_version(&self, d: &[u8]) -> Option<(usize, bool)> {
        // Split first: a loop that also looks for the hyphen costs more
        // than two (measured).
        let at = crate::version::version_hyphen(d)?;
        Some((at, self.far(&d[..at])))
    }

    /// [`Wanted::bound`] of a known name `k` that is ASCII, on its bytes,
    /// with a character's own slot instead of its bucket (a tighter count,
    /// where a character of the wanted name beyond ASCII shares no bucket);
    /// `None` when `k` is not ASCII or the wanted name has too many
    /// distinct characters for the slots.
    fn bound_ascii(&self, k: &[u8]) -> Option<Bound> {
        if !self.slotted {
            return None;
        }
        // One table look-up a byte, no branch: every name a graph knows
        // comes through here.
        let (mut present, mut shared) = (0u64, 0usize);
        for &b in k {
            let bits = self.bits[usize::from(b)];
            present |= bits;
            shared += (bits & 1) as usize;
        }
        if present & NOT_ASCII != 0 {
            return None;
        }
        let present = present & !1;
        let head = &self.head[..self.head_len];
        let prefix = k
            .iter()
            .zip(head)
            .take_while(|&(&b, &h)| u32::from(b.to_ascii_lowercase()) == h)
            .count();
        let may_contain = k.len() > 3
            && self.lower.len() >= 3
            && self.all_slots != 0
            && present & self.all_slots == self.all_slots
            && k.len() >= self.chars;
        let mut common = present;
        let mut theirs = 0usize;
        while common != 0 {
            theirs += self.slot_counts[common.trailing_zeros() as usize] as usize;
            common &= common - 1;
        }
        Some(self.verdict(k.len(), shared.min(theirs), prefix, may_contain))
    }

    /// The bound of a known name of `len` characters (lowercased), at
    /// most `m` of them matching, with a common prefix of `prefix`
    /// characters, which may contain the wanted name or not.
    fn verdict(&self, len: usize, m: usize, prefix: usize, may_contain: bool) -> Bound {
        let otherwise = match may_contain {
            true => Bound::OnlyContaining,
            false => Bound::Far,
        };
        if len == 0 || self.chars == 0 {
            // Equal when both are empty; not worth a bound.
            return Bound::Near;
        }
        let longest = self.longest[prefix.min(4)]
            .get(m)
            .copied()
            .unwrap_or(usize::MAX);
        match len <= longest {
            true => Bound::Near,
            false => otherwise,
        }
    }
}

/// The longest known name whose bound reaches [`NEAR`] less [`MARGIN`],
/// against a wanted name of `a` characters, with a common prefix of `p`
/// characters and at most `m` matching ones.
///
/// The bound `j + p/10 · (1 - j)` grows with `j = (m/a + m/b + 1) / 3`,
/// which falls as the length `b` grows: it reaches `t` when `j` reaches
/// `(t - p/10) / (1 - p/10)`, that is when `m/b` reaches `r = 3j - 1 -
/// m/a`, when `b ≤ m / r`. One more than that covers rounding (a name
/// measured in vain is measured, no more).
fn longest(a: usize, p: usize, m: usize) -> usize {
    let (a, p, m) = (a as f64, p as f64 / 10.0, m as f64);
    let j = (NEAR - MARGIN - p) / (1.0 - p);
    let r = 3.0 * j - 1.0 - m / a;
    match r <= 0.0 {
        true => usize::MAX,
        // Saturating: a huge quotient is any length.
        false => (m / r) as usize + 1,
    }
}

#[cfg(test)]
mod tests;
