//! Per-node binary seed sets: one bitset row per node, the union of its
//! inputs' rows and its own bit, computed in one pass in topological order
//! (inputs first); and which packages another package rests on.

use super::AuditPackage;
use abovo_graph::query::Walk;
use abovo_graph::{Graph, NodeId};

/// A bitset of binary seeds per node (rows of `words` words).
pub(super) struct SeedSets {
    words: usize,
    data: Vec<u64>,
}

impl SeedSets {
    /// The set of every node `reached`, from the bits of the seeds
    /// (`bit_of`, `bits` of them). A node the walk does not go into (a
    /// fixed-output derivation, unless it goes through them) has only its
    /// own bit.
    pub fn compute(
        g: &Graph,
        reached: &[bool],
        bit_of: &[u32],
        bits: usize,
        walk: &Walk,
    ) -> SeedSets {
        let words = bits.div_ceil(64).max(1);
        let mut sets = SeedSets {
            words,
            data: vec![0u64; g.len() * words],
        };
        let mut row = vec![0u64; words];
        for &x in g.topological_order() {
            if !reached[x.index()] {
                continue;
            }
            row.fill(0);
            if bit_of[x.index()] != u32::MAX {
                let b = bit_of[x.index()] as usize;
                row[b / 64] |= 1 << (b % 64);
            }
            if walk.goes_into(g, x, false) {
                for &y in g.inputs(x) {
                    for (w, v) in row.iter_mut().zip(sets.row(y)) {
                        *w |= v;
                    }
                }
            }
            sets.data[x.index() * words..(x.index() + 1) * words].copy_from_slice(&row);
        }
        sets
    }

    /// The set of node `n`.
    pub fn row(&self, n: NodeId) -> &[u64] {
        &self.data[n.index() * self.words..(n.index() + 1) * self.words]
    }

    /// How many words a row has.
    pub fn words(&self) -> usize {
        self.words
    }
}

/// The set bits of a bitset row, in order.
pub(super) fn ones(row: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (wi, &w) in row.iter().enumerate() {
        let mut w = w;
        while w != 0 {
            out.push((wi * 64) as u32 + w.trailing_zeros());
            w &= w - 1;
        }
    }
    out
}

/// Per node, whether some package rests on it through edges the walk
/// follows (the package itself aside): the packages that are not are the
/// `guix refresh -l`-style leaves. Computed in reverse topological order.
pub(super) fn below_a_package(
    g: &Graph,
    packages: &[AuditPackage],
    reached: &[bool],
    walk: &Walk,
) -> Vec<bool> {
    let mut is_pkg = vec![false; g.len()];
    for p in packages {
        is_pkg[p.node.index()] = true;
    }
    let mut above = vec![false; g.len()];
    for &x in g.topological_order().iter().rev() {
        if !reached[x.index()] {
            continue;
        }
        if walk.goes_into(g, x, false) && (is_pkg[x.index()] || above[x.index()]) {
            for &y in g.inputs(x) {
                above[y.index()] = true;
            }
        }
    }
    above
}
