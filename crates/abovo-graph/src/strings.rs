//! Interned strings: every name, output name, system, builder and kept
//! environment value of a graph is stored once and referred to by a [`StrId`].
//!
//! Derivation graphs repeat the same few strings endlessly (`out`,
//! `x86_64-linux`, `builtin:download`, the mirror lists of every download), so
//! one arena with offsets is both smaller and faster to write to a snapshot
//! than a `String` per use.

use crate::blocks::{BlockCheck, Checked, CheckedView};
use crate::column::Col;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The id of an interned string in a [`Strings`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct StrId(pub u32);

crate::pod_u32!(StrId);

/// An append-only table of distinct strings.
#[derive(Debug, Clone, Default)]
pub struct Strings {
    /// All strings, back to back.
    text: Text,
    /// `ends[i]` is the end of string `i` in `text`; it starts where `i - 1` ends.
    ends: Col<u32>,
}

/// The text of a [`Strings`] table.
#[derive(Debug, Clone)]
enum Text {
    /// Owned, and known to be UTF-8 with every end on a character
    /// boundary: each string is sliced out without being checked as UTF-8
    /// again (a package walk reads the names of 30,000 package nodes).
    Valid(Arc<String>),
    /// Borrowed from an in-place snapshot, where it is not trusted to be
    /// UTF-8 as a whole and its blocks are checked against their
    /// checksums as strings are read.
    Mapped(Checked<u8>),
}

impl Default for Text {
    fn default() -> Text {
        Text::Valid(Arc::default())
    }
}

impl Strings {
    /// The string `id` stands for; empty for an id that is not in the table
    /// (ids are validated when a table is read from a snapshot, so this only
    /// happens when ids are mixed up between tables) and for bytes that are
    /// not UTF-8 or offsets out of order (a damaged in-place snapshot, whose
    /// strings are checked as they are read rather than all at once).
    pub fn get(&self, id: StrId) -> &str {
        match &self.text {
            Text::Valid(text) => self.range(id).and_then(|r| text.get(r)).unwrap_or(""),
            Text::Mapped(_) => std::str::from_utf8(self.bytes(id)).unwrap_or(""),
        }
    }

    /// Where string `id` lies in the text.
    fn range(&self, id: StrId) -> Option<std::ops::Range<usize>> {
        range_in(&self.ends, id.0 as usize)
    }

    /// The bytes of string `id`, not yet checked as UTF-8 (empty as for
    /// [`Strings::get`]): for a scan that compares many strings with one
    /// and checks only those that match.
    pub(crate) fn bytes(&self, id: StrId) -> &[u8] {
        self.view().bytes(id)
    }

    /// The table borrowed for reading many strings: what a scan of the
    /// names of every node reads them through ([`StringsView::bytes`]).
    pub(crate) fn view(&self) -> StringsView<'_> {
        StringsView {
            ends: &self.ends,
            text: match &self.text {
                Text::Valid(text) => TextView::Valid(text.as_bytes()),
                Text::Mapped(text) => TextView::Mapped(text.view()),
            },
        }
    }

    /// How many strings the table holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The concatenated text and the end offsets, for the snapshot writer
    /// (no text when a block of it is damaged).
    pub(crate) fn raw_parts(&self) -> (&[u8], &[u32]) {
        match &self.text {
            Text::Valid(text) => (text.as_bytes(), &self.ends),
            Text::Mapped(text) => match text.whole() {
                Some(text) => (text, &self.ends),
                None => (&[], &[]),
            },
        }
    }

    /// Rebuilds a table from [`Strings::raw_parts`], checking that the offsets
    /// are ordered, in range and on character boundaries.
    pub(crate) fn from_raw_parts(text: String, ends: Vec<u32>) -> Option<Strings> {
        let mut prev = 0u32;
        for &end in &ends {
            if end < prev || end as usize > text.len() || !text.is_char_boundary(end as usize) {
                return None;
            }
            prev = end;
        }
        Some(Strings {
            text: Text::Valid(Arc::new(text)),
            ends: ends.into(),
        })
    }

    /// A table on columns of an in-place snapshot: only the last offset is
    /// checked now (against the text's length); each string is checked when
    /// read ([`Strings::get`]), as UTF-8 and, with `check`, against the
    /// checksum of the text's blocks it lies in.
    pub(crate) fn mapped(
        text: Col<u8>,
        ends: Col<u32>,
        check: Option<Arc<BlockCheck>>,
    ) -> Option<Strings> {
        let last = ends.last().copied().unwrap_or(0);
        (last as usize <= text.len()).then_some(Strings {
            text: Text::Mapped(Checked::new(text, check)),
            ends,
        })
    }
}

/// A [`Strings`] table borrowed for many reads (see [`Strings::view`]):
/// its columns found once, not at every string.
#[derive(Clone, Copy)]
pub(crate) struct StringsView<'a> {
    ends: &'a [u32],
    text: TextView<'a>,
}

/// The text of a [`StringsView`].
#[derive(Clone, Copy)]
enum TextView<'a> {
    Valid(&'a [u8]),
    Mapped(CheckedView<'a, u8>),
}

impl<'a> StringsView<'a> {
    /// As [`Strings::bytes`].
    pub(crate) fn bytes(&self, id: StrId) -> &'a [u8] {
        range_in(self.ends, id.0 as usize).map_or(&[], |r| self.text(r))
    }

    /// The text in `range`; empty past its end or in a damaged block.
    fn text(&self, range: std::ops::Range<usize>) -> &'a [u8] {
        match self.text {
            TextView::Valid(text) => text.get(range).unwrap_or_default(),
            TextView::Mapped(text) => text.slice(range),
        }
    }

    /// The strings `ids` (consecutive), each as [`StringsView::bytes`]
    /// gives it, their text checked at once: for a scan of many strings in
    /// id order, which then slices each out of one run of text.
    pub(crate) fn run(self, ids: std::ops::Range<usize>) -> impl Iterator<Item = &'a [u8]> {
        let ends = self.ends;
        let first = range_in(ends, ids.start);
        let last = ids.end.checked_sub(1).and_then(|l| range_in(ends, l));
        let text = match (first, last) {
            (Some(first), Some(last)) if first.start <= last.end => {
                let range = first.start..last.end;
                let text = self.text(range.clone());
                // A damaged block (or offsets past the text) leaves the
                // run to be read string by string.
                (text.len() == range.len()).then_some((text, range.start))
            }
            _ => None,
        };
        ids.map(move |i| match (text, range_in(ends, i)) {
            (Some((text, from)), Some(r)) => text
                .get(r.start.wrapping_sub(from)..r.end.wrapping_sub(from))
                .unwrap_or_default(),
            (Some(_), None) => &[],
            (None, _) => self.bytes(StrId(i as u32)),
        })
    }
}

/// Where string `i` lies in a text whose strings end at `ends` (each starts
/// where the one before ends); `None` past the last string.
fn range_in(ends: &[u32], i: usize) -> Option<std::ops::Range<usize>> {
    let end = *ends.get(i)?;
    let start = match i {
        0 => 0,
        _ => *ends.get(i - 1)?,
    };
    Some(start as usize..end as usize)
}

/// Builds a [`Strings`] table, giving equal strings the same id.
///
/// Strings are found by their hash: the map holds, per hash, the id of the
/// first string interned with it, and the text is compared there, so that
/// no string is copied but into the table (a graph of a large store
/// interns half a million). A string whose hash another one had first (a
/// 64-bit collision: almost never) is kept in a map of its own.
#[derive(Debug, Default)]
pub struct Interner {
    text: String,
    ends: Vec<u32>,
    ids: FxHashMap<u64, StrId>,
    collided: FxHashMap<Box<str>, StrId>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The id of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> StrId {
        let next = StrId(self.ends.len() as u32);
        match self.ids.entry(hash(s)) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(next);
            }
            std::collections::hash_map::Entry::Occupied(first) => {
                let first = *first.get();
                if self.text_of(first) == s {
                    return first;
                }
                if let Some(&id) = self.collided.get(s) {
                    return id;
                }
                self.collided.insert(s.into(), next);
            }
        }
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
        next
    }

    /// The id of `s` if it was interned.
    pub fn lookup(&self, s: &str) -> Option<StrId> {
        let &first = self.ids.get(&hash(s))?;
        if self.text_of(first) == s {
            return Some(first);
        }
        self.collided.get(s).copied()
    }

    /// The text of an interned string.
    fn text_of(&self, id: StrId) -> &str {
        let i = id.0 as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The finished table.
    pub fn finish(self) -> Strings {
        Strings {
            text: Text::Valid(Arc::new(self.text)),
            ends: self.ends.into(),
        }
    }
}

/// The hash strings are found by.
fn hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_an_id() {
        let mut i = Interner::new();
        let a = i.intern("out");
        let b = i.intern("x86_64-linux");
        let c = i.intern("out");
        let e = i.intern("");
        assert_eq!(a, c);
        assert_ne!(a, b);
        let s = i.finish();
        assert_eq!(s.get(a), "out");
        assert_eq!(s.get(b), "x86_64-linux");
        assert_eq!(s.get(e), "");
        assert_eq!(s.get(StrId(99)), "");
        assert_eq!(s.len(), 3);
    }

    /// A run of strings reads as each string read alone: in a table
    /// built here, in a mapped one, in one with a damaged block (its
    /// strings are empty, the others read), and with offsets out of order.
    #[test]
    fn runs_read_as_strings_read_one_by_one() {
        use crate::blocks::{BLOCK, BlockCheck, Part, checksums};
        let mut i = Interner::new();
        for n in 0..400 {
            i.intern(&format!("name-{n}-{}", "x".repeat(n % 13)));
        }
        let built = i.finish();
        let (text, ends) = built.raw_parts();
        let (text, ends) = (text.to_vec(), ends.to_vec());
        let sums = checksums(&text, BLOCK);
        // `bytes` checked against the checksums of `text`.
        let mapped = |bytes: &[u8], ends: Vec<u32>| {
            let part = Part {
                name: "strings",
                bytes: bytes.to_vec().into(),
                width: 1,
                bound: None,
                sums: sums.clone().into(),
            };
            let check =
                BlockCheck::new(vec![part], bytes.len(), BLOCK, None).expect("a check of the text");
            Strings::mapped(bytes.to_vec().into(), ends.into(), Some(Arc::new(check)))
                .expect("a mapped table")
        };
        let mut damaged = text.clone();
        damaged[BLOCK + 5] ^= 1;
        let mut swapped = ends.clone();
        swapped.swap(10, 11);
        let tables = [
            built.clone(),
            mapped(&text, ends.clone()),
            mapped(&damaged, ends.clone()),
            mapped(&text, swapped),
        ];
        for (t, table) in tables.iter().enumerate() {
            for run in [0..400, 0..1, 3..17, 5..5, 390..400, 9..13, 11..12, 398..401] {
                let one_by_one: Vec<&[u8]> =
                    run.clone().map(|i| table.bytes(StrId(i as u32))).collect();
                let at_once: Vec<&[u8]> = table.view().run(run.clone()).collect();
                assert_eq!(at_once, one_by_one, "table {t}, {run:?}");
            }
        }
        let empty = tables[2]
            .view()
            .run(0..400)
            .filter(|s| s.is_empty())
            .count();
        assert!(
            empty > 10 && empty < 100,
            "{empty} strings in the damaged block"
        );
    }

    /// Strings whose hashes collide still get ids of their own.
    #[test]
    fn a_hash_collision_keeps_strings_apart() {
        let mut i = Interner::new();
        let a = i.intern("a");
        // Pretend "b" has the hash "a" has.
        let b = StrId(1);
        i.ids.insert(hash("b"), a);
        assert_eq!(i.intern("b"), b, "a collision is interned apart");
        assert_eq!(i.intern("b"), b);
        assert_eq!(i.lookup("b"), Some(b));
        assert_eq!(i.lookup("a"), Some(a));
        assert_eq!(i.lookup("c"), None);
        let s = i.finish();
        assert_eq!((s.get(a), s.get(b)), ("a", "b"));
    }

    #[test]
    fn raw_parts_are_validated() {
        assert!(Strings::from_raw_parts("abc".into(), vec![1, 3]).is_some());
        assert!(Strings::from_raw_parts("abc".into(), vec![2, 1]).is_none());
        assert!(Strings::from_raw_parts("abc".into(), vec![4]).is_none());
        assert!(Strings::from_raw_parts("é".into(), vec![1]).is_none());
    }
}
