//! What the [queries](crate::query) need of a graph, so that one
//! implementation of closures, paths and dependents serves every kind of
//! graph abovo holds: the derivation graph ([`Graph`](crate::Graph)) and the
//! package graphs of `guix graph --type package` and `--type bag-emerged`
//! ([`PackageView`](crate::package_graph::PackageView)).
//!
//! A [`Dag`] numbers its nodes `0..node_count()` (each kind with its own id
//! type, so that a package id is never taken for a derivation id), keeps
//! the inputs of each node as a sorted slice without repeats, and knows its
//! reverse edges and an inputs-first order. What a [`Walk`] may leave out
//! is up to the graph: input sources and the inputs of fixed-output
//! derivations exist only in the derivation graph; a depth limit applies
//! to every graph.

use crate::blocks::{BlockCheck, Checked};
use crate::column::Col;
use crate::query::Walk;
use std::sync::Arc;

/// A node id: an index into the node arrays of one graph.
pub trait NodeIndex: Copy + Eq + Ord + std::hash::Hash + std::fmt::Debug {
    /// The id as an array index.
    fn index(self) -> usize;
    /// The id of array index `i` (below the graph's node count, which fits
    /// in 32 bits).
    fn from_index(i: usize) -> Self;
}

/// A directed acyclic graph whose edges go from a node to its inputs (see
/// the [module documentation](self)).
pub trait Dag {
    /// The id type of its nodes.
    type Node: NodeIndex;
    /// The number of nodes.
    fn node_count(&self) -> usize;
    /// The inputs of `n`, sorted by id, each once.
    fn inputs(&self, n: Self::Node) -> &[Self::Node];
    /// The nodes that have `n` as an input, sorted by id.
    fn dependents(&self, n: Self::Node) -> &[Self::Node];
    /// Every node, inputs before the nodes that use them.
    fn topological_order(&self) -> &[Self::Node];
    /// Whether `walk` keeps node `n` at all (every node, unless the graph
    /// has nodes a walk may hide).
    fn keeps(&self, _walk: &Walk, _n: Self::Node) -> bool {
        true
    }
    /// Whether `walk` goes on into the inputs of `n` when `n` is not where
    /// it started (always, unless the graph has nodes a walk stops at).
    fn passes(&self, _walk: &Walk, _n: Self::Node) -> bool {
        true
    }
}

/// Compressed sparse rows: the neighbours of node `i` are
/// `targets[offsets[i]..offsets[i + 1]]`, sorted by id.
#[derive(Debug, Clone)]
pub(crate) struct Csr<N: bytemuck::Pod> {
    /// Owned, or borrowed from an in-place snapshot.
    pub(crate) offsets: Col<u32>,
    /// The targets, row after row: owned, or mapped from a snapshot and
    /// checked block by block as they are read ([`Checked`]).
    targets: Checked<N>,
}

impl<N: bytemuck::Pod> Default for Csr<N> {
    fn default() -> Self {
        Csr {
            offsets: Col::default(),
            targets: Checked::default(),
        }
    }
}

impl<N: NodeIndex + bytemuck::Pod> Csr<N> {
    /// The rows of `offsets` and `targets`.
    pub(crate) fn new(offsets: Vec<u32>, targets: Vec<N>) -> Csr<N> {
        Csr::of(offsets.into(), targets.into(), None)
    }

    /// The rows of columns whose offsets were checked (ordered, ending at
    /// the number of targets), and whose targets either were too or are
    /// checked block by block by `check`.
    pub(crate) fn of(offsets: Col<u32>, targets: Col<N>, check: Option<Arc<BlockCheck>>) -> Csr<N> {
        Csr {
            offsets,
            targets: Checked::new(targets, check),
        }
    }

    /// Whether the targets in `range` (and what runs parallel to them)
    /// may be read: always, unless they are checked on first read and a
    /// block they span is damaged.
    pub(crate) fn ensure(&self, range: std::ops::Range<usize>) -> bool {
        self.targets.ensure(range)
    }

    /// Every target, row after row; none when a block is damaged.
    pub(crate) fn targets(&self) -> &[N] {
        self.targets.all()
    }

    /// The number of targets (edges).
    pub(crate) fn edge_count(&self) -> usize {
        self.targets.len()
    }

    pub(crate) fn range(&self, n: N) -> std::ops::Range<usize> {
        let i = n.index();
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// The targets of row `n`: none when they lie in a damaged block.
    pub(crate) fn neighbours(&self, n: N) -> &[N] {
        self.targets.slice(self.range(n))
    }

    /// The transposed rows, for `n` nodes.
    pub(crate) fn transpose(&self, n: usize) -> Csr<N> {
        let mut counts = vec![0u32; n + 1];
        let own_targets = self.targets();
        for t in own_targets {
            counts[t.index() + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let offsets = counts.clone();
        let mut fill = counts;
        let mut targets = vec![N::from_index(0); own_targets.len()];
        let own_offsets = &self.offsets[..];
        for from in 0..n {
            // Empty when the targets are (damaged, read as none).
            let row = own_targets.get(own_offsets[from] as usize..own_offsets[from + 1] as usize);
            for t in row.unwrap_or_default() {
                let slot = &mut fill[t.index()];
                targets[*slot as usize] = N::from_index(from);
                *slot += 1;
            }
        }
        Csr::new(offsets, targets)
    }
}

/// Kahn's algorithm over the input rows alone (so the reverse rows are not
/// needed): nodes that nothing depends on first, then each input once all
/// its dependents are placed, reversed at the end so that inputs come
/// first. `Err` holds the pending counts when some nodes are on or below a
/// cycle (the nodes with a count above zero), for the caller to name one.
pub(crate) fn inputs_first<N: NodeIndex + bytemuck::Pod>(
    rows: &Csr<N>,
    n: usize,
) -> Result<Vec<N>, Vec<u32>> {
    let mut pending = vec![0u32; n];
    for t in rows.targets() {
        pending[t.index()] += 1;
    }
    let mut order: Vec<N> = (0..n)
        .filter(|&x| pending[x] == 0)
        .map(N::from_index)
        .collect();
    let mut next = 0;
    while next < order.len() {
        let x = order[next];
        next += 1;
        for &i in rows.neighbours(x) {
            pending[i.index()] -= 1;
            if pending[i.index()] == 0 {
                order.push(i);
            }
        }
    }
    if order.len() == n {
        order.reverse();
        return Ok(order);
    }
    Err(pending)
}
