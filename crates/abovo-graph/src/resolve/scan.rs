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
    named
        .into_iter()
        .enumerate()
        .flat_map(move |(word, mut bits)| {
            std::iter::from_fn(move || {
                let bit = bits.trailing_zeros();
                (bits != 0).then(|| {
                    bits &= bits - 1;
                    let id = StrId((word * 64) as u32 + bit);
                    let name = strings.bytes(id);
                    name.strip_suffix(b".drv").unwrap_or(name)
                })
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
