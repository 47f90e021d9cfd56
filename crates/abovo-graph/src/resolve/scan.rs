//! The names of a graph's derivations, read without decoding them.
//!
//! Resolving a name looks at the name of every derivation: the index of a
//! live store has no package table, so `hello` is matched against the
//! names of 200,000 derivations. [`Graph::derivations`] would decode the
//! derivation facts of all of them (the largest section of a snapshot) for
//! a name and a flag, when the per-node columns give both where they lie:
//! the kinds, the names, and the fixed-output flags that an in-place
//! snapshot keeps apart. The names are compared as bytes first, so that
//! only those that start with what is looked for are checked as UTF-8.

use crate::graph::{FACT_FIXED, Graph, NodeId, NodeKind};
use crate::strings::StrId;

/// A loaded derivation as name resolution sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Named<'g> {
    /// Its node.
    pub(crate) node: NodeId,
    /// Its name without `.drv` (what [`Graph::label`] gives).
    pub(crate) name: &'g str,
    /// Whether it is a fixed-output derivation.
    pub(crate) fixed: bool,
}

/// The name (without `.drv`) of every loaded derivation of `g`, each
/// distinct name once, in the order of their ids: names are interned, so
/// a name that several derivations share (one built for several systems)
/// is recognized by its id, not hashed, and read once, in the order of
/// the string table's text (in the order of nodes, the text would be read
/// at random). The names are bytes, not yet checked as UTF-8 (see
/// [`derivations_named`]): a scan checks only those it keeps.
pub(crate) fn distinct_derivation_names(g: &Graph) -> impl Iterator<Item = &[u8]> {
    let c = &g.columns;
    let strings = c.strings.view();
    let derivation = NodeKind::Derivation.code();
    let mut named = vec![0u64; c.strings.len().div_ceil(64)];
    for (&kind, &id) in c.kinds.iter().zip(c.names.iter()) {
        // An id past the table is the empty name (see `Strings::bytes`),
        // which no derivation has.
        if let Some(w) = named.get_mut(id.0 as usize / 64) {
            *w |= u64::from(kind == derivation) << (id.0 % 64);
        }
    }
    // Runs of ids, each read from one run of text (all the names of the
    // built-in snapshot are one run: they were interned first).
    runs(named).flat_map(move |ids| {
        strings
            .run(ids)
            .map(|name| name.strip_suffix(b".drv").unwrap_or(name))
    })
}

/// The runs of consecutive set bits of `bits`, as ranges of bit numbers,
/// in order.
fn runs(bits: Vec<u64>) -> impl Iterator<Item = std::ops::Range<usize>> {
    let len = bits.len() * 64;
    // The first bit at or after `from` that is `set`, or `len`.
    let next = move |from: usize, set: bool| {
        let mut i = from;
        while i < len {
            let word = match set {
                true => bits[i / 64],
                false => !bits[i / 64],
            } >> (i % 64);
            if word != 0 {
                return i + word.trailing_zeros() as usize;
            }
            i = (i / 64 + 1) * 64;
        }
        len
    };
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = next(at, true);
        (start < len).then(|| {
            at = next(start, false);
            start..at
        })
    })
}

/// Every loaded derivation of `g` whose name (without `.drv`) starts with
/// `prefix`, in id order: the derivations [`Graph::derivations`] gives, but
/// for the fixed-output flag of a graph that does not keep the flags apart
/// (one built from `.drv` files, whose facts are decoded already), nothing
/// decoded.
pub(crate) fn derivations_named<'g>(g: &'g Graph, prefix: &str) -> Vec<Named<'g>> {
    let c = &g.columns;
    // Each column borrowed once: indexing a mapped column checks its range.
    let kinds: &[u8] = &c.kinds;
    let names: &[StrId] = &c.names;
    let flags: Option<&[u8]> = c.facts.as_ref().map(|f| &f.flags[..]);
    let strings = c.strings.view();
    let derivation = NodeKind::Derivation.code();
    let mut found = Vec::new();
    for (i, (&kind, &id)) in kinds.iter().zip(names).enumerate() {
        if kind != derivation {
            continue;
        }
        let (bytes, p) = (strings.bytes(id), prefix.as_bytes());
        // The first byte compared inline: `starts_with` alone calls
        // `memcmp` for each of 200,000 names (a quarter of an unknown
        // name's time).
        if !(p.is_empty() || bytes.first() == p.first() && bytes.starts_with(p)) {
            continue;
        }
        // As `Strings::get`, a name that is not UTF-8 (a damaged in-place
        // snapshot) is no name.
        let Ok(name) = std::str::from_utf8(bytes) else {
            continue;
        };
        let node = NodeId(i as u32);
        let fixed = match flags {
            Some(f) => f.get(i).is_some_and(|&b| b & FACT_FIXED != 0),
            None => g.is_fixed_output(node),
        };
        found.push(Named {
            node,
            name: name.strip_suffix(".drv").unwrap_or(name),
            fixed,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_are_the_set_bits() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200 {
            let bits: Vec<u64> = (0..(rng % 4))
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // Runs long and short: words of all, none, or some.
                    match rng % 4 {
                        0 => 0,
                        1 => u64::MAX,
                        _ => rng,
                    }
                })
                .collect();
            let want: Vec<usize> = (0..bits.len() * 64)
                .filter(|&i| bits[i / 64] >> (i % 64) & 1 == 1)
                .collect();
            let got: Vec<std::ops::Range<usize>> = runs(bits.clone()).collect();
            assert!(got.windows(2).all(|w| w[0].end < w[1].start), "{got:?}");
            assert_eq!(got.into_iter().flatten().collect::<Vec<_>>(), want);
        }
    }
}
