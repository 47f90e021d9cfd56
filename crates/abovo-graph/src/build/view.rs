//! What the builder reads of a derivation: a record parsed now, or a
//! derivation of a graph built before, read in place. An index's update
//! builds its new graph from the old graph's derivations that did not
//! change and the records of those parsed now, without parsing the old
//! ones again or copying them into records first; the graph is the one
//! [`super::build_graph`] makes of all their records.

use super::{DrvRecord, Key, PackedRecord, key};
use crate::graph::{Graph, NodeId, NodeKind};
use abovo_store::derivation::{DerivationKind, FixedOutput};
use abovo_store::store_path::StorePath;

/// One derivation as the builder reads it.
#[derive(Clone, Copy)]
pub(super) enum View<'a> {
    /// A record parsed from its `.drv` file.
    Parsed(&'a DrvRecord),
    /// The same, its references packed.
    Packed(&'a PackedRecord),
    /// The derivation at a node of a graph built before.
    Kept(&'a Old<'a>, NodeId),
}

/// A graph built before, whose derivations are kept, with the key of each
/// of its nodes read once: a name is checked as UTF-8 each time it is
/// read, and the builder reads the key of each edge's target three times.
pub(super) struct Old<'a> {
    graph: &'a Graph,
    keys: Vec<Key<'a>>,
}

impl<'a> Old<'a> {
    /// `graph`, its keys read on every core.
    pub(super) fn new(graph: &'a Graph) -> Old<'a> {
        use rayon::prelude::*;
        let keys = (0..graph.len() as u32)
            .into_par_iter()
            .map(|n| node_key(graph, NodeId(n)))
            .collect();
        Old { graph, keys }
    }

    fn key(&self, n: NodeId) -> Key<'a> {
        self.keys[n.index()]
    }
}

/// The output names an edge uses: a record's list, or a set of the graph a
/// kept derivation is read from (set 0 is the empty set).
#[derive(Clone, Copy)]
pub(super) enum Outs<'a> {
    /// Just `out`, the outputs of nine edges in ten (a packed record's).
    OnlyOut,
    /// A record's names, sorted.
    Names(&'a [String]),
    /// A set id of the kept derivation's graph.
    Set(&'a Graph, u16),
}

impl<'a> Outs<'a> {
    /// Whether it is just `out` (nine edges in ten).
    pub(super) fn is_only_out(self) -> bool {
        match self {
            Outs::OnlyOut => true,
            Outs::Names(n) => n.len() == 1 && n[0] == "out",
            Outs::Set(g, s) => {
                let set = g.columns.out_sets.get(usize::from(s));
                set.is_some_and(|set| set.len() == 1 && g.columns.strings.get(set[0]) == "out")
            }
        }
    }

    /// Whether it names no output (a source's edge).
    pub(super) fn is_empty(self) -> bool {
        match self {
            Outs::OnlyOut => false,
            Outs::Names(n) => n.is_empty(),
            Outs::Set(g, s) => g
                .columns
                .out_sets
                .get(usize::from(s))
                .is_none_or(Vec::is_empty),
        }
    }

    /// The names, in order.
    pub(super) fn for_each(self, mut f: impl FnMut(&'a str)) {
        match self {
            Outs::OnlyOut => f("out"),
            Outs::Names(n) => n.iter().for_each(|s| f(s)),
            Outs::Set(g, s) => {
                let set = g.columns.out_sets.get(usize::from(s));
                for &id in set.map_or(&[][..], Vec::as_slice) {
                    f(g.columns.strings.get(id));
                }
            }
        }
    }
}

/// A reference of a derivation: the path named, whether as input
/// derivation ([`NodeKind::Missing`], the kind it gets when not loaded) or
/// as input source ([`NodeKind::Source`]), and the outputs used.
pub(super) type Ref<'a> = (Key<'a>, NodeKind, Outs<'a>);

impl<'a> View<'a> {
    /// The key of its `.drv` path.
    pub(super) fn key(self) -> Key<'a> {
        match self {
            View::Parsed(r) => key(&r.path),
            View::Packed(r) => key(r.path()),
            View::Kept(old, n) => old.key(n),
        }
    }

    /// Its references, as its record lists them: input derivations, then
    /// input sources, each sorted by path. A kept derivation's edges are
    /// read back so: an edge that uses outputs is an input derivation, and
    /// so is an edge without outputs to a node that was an input
    /// derivation not loaded (a `.drv` named with no output, which no
    /// daemon writes); every other edge without outputs is a source. (A
    /// path its record names both ways kept one edge, the input's, and the
    /// input comes first in the record anyway.)
    pub(super) fn refs(self, out: &mut Vec<Ref<'a>>) {
        out.clear();
        match self {
            View::Parsed(r) => {
                out.extend(
                    r.inputs
                        .iter()
                        .map(|(p, o)| (key(p), NodeKind::Missing, Outs::Names(o))),
                );
                out.extend(
                    r.sources
                        .iter()
                        .map(|p| (key(p), NodeKind::Source, Outs::Names(&[]))),
                );
            }
            View::Packed(r) => out.extend(r.refs()),
            View::Kept(old, n) => {
                let g = old.graph;
                let targets = g.inputs(n);
                let sets = g.columns.edge_sets(g.columns.inputs.range(n));
                let is_input = |t: NodeId, s: u16| s != 0 || g.kind(t) == NodeKind::Missing;
                for pass in [true, false] {
                    for (&t, &s) in targets.iter().zip(sets) {
                        if is_input(t, s) == pass {
                            let kind = if pass {
                                NodeKind::Missing
                            } else {
                                NodeKind::Source
                            };
                            out.push((old.key(t), kind, Outs::Set(g, s)));
                        }
                    }
                }
            }
        }
    }

    /// Its facts: system, builder, pinned hash and kind of outputs.
    pub(super) fn facts(self) -> Facts<'a> {
        match self {
            View::Parsed(r) => Facts {
                system: &r.system,
                builder: &r.builder,
                fixed: r.fixed,
                kind: r.kind,
            },
            View::Packed(r) => View::Parsed(r.head()).facts(),
            View::Kept(old, n) => match old.graph.derivation(n) {
                Some(d) => Facts {
                    system: d.system(),
                    builder: d.builder(),
                    fixed: d.fixed_output(),
                    kind: d.kind(),
                },
                // Checked by `rebuild_graph` before it builds.
                None => Facts {
                    system: "",
                    builder: "",
                    fixed: None,
                    kind: DerivationKind::InputAddressed,
                },
            },
        }
    }

    /// Its outputs by name, with their recorded paths.
    pub(super) fn outputs(self, mut f: impl FnMut(&str, Option<&StorePath>)) {
        match self {
            View::Parsed(r) => r.outputs.iter().for_each(|(n, p)| f(n, p.as_ref())),
            View::Packed(r) => View::Parsed(r.head()).outputs(f),
            View::Kept(old, n) => {
                if let Some(d) = old.graph.derivation(n) {
                    for o in d.outputs() {
                        f(o.name, o.path.as_ref());
                    }
                }
            }
        }
    }

    /// Its kept environment, sorted by name.
    pub(super) fn env(self, mut f: impl FnMut(&str, &str)) {
        match self {
            View::Parsed(r) => r.env.iter().for_each(|(k, v)| f(k, v)),
            View::Packed(r) => View::Parsed(r.head()).env(f),
            View::Kept(old, n) => {
                if let Some(d) = old.graph.derivation(n) {
                    for (k, v) in d.env_vars() {
                        f(k, v);
                    }
                }
            }
        }
    }
}

/// System, builder, pinned hash and kind of a derivation.
pub(super) struct Facts<'a> {
    pub(super) system: &'a str,
    pub(super) builder: &'a str,
    pub(super) fixed: Option<FixedOutput>,
    pub(super) kind: DerivationKind,
}

/// The key of node `n` of `g`.
fn node_key(g: &Graph, n: NodeId) -> Key<'_> {
    // A damaged page of hash parts reads as zeros (and the program told
    // of it stops before answering).
    const ZERO: [u8; 32] = [b'0'; 32];
    Key(
        g.columns.hash_parts.get(n.index()).unwrap_or(&ZERO),
        g.name(n),
    )
}
