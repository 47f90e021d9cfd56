//! Something kept for each of a set of nodes, found by the node's index
//! ([`PerNode`]): what a writer makes once per node and uses again each
//! time the node comes back (the edges of a graph, the paths of a seeds
//! report).

use abovo_graph::dag::NodeIndex;
use std::marker::PhantomData;

/// A value for each of a set of nodes. (Found by the node's index: a
/// binary search in sorted nodes cost a tenth of the DOT graph's time,
/// and a hash map's probes, missing the cache, a fifth of the JSON
/// edges'.)
pub struct PerNode<N, T> {
    /// By node index, where the node's value is in `values` (`u32::MAX`
    /// for none).
    at: Vec<u32>,
    values: Vec<T>,
    node: PhantomData<N>,
}

impl<N: NodeIndex, T> PerNode<N, T> {
    /// `make(n)` for each of `nodes` (the first one's, for a node listed
    /// twice).
    pub fn new(nodes: &[N], make: impl Fn(N) -> T) -> Self {
        let len = nodes.iter().map(|n| n.index() + 1).max().unwrap_or(0);
        let mut at = vec![u32::MAX; len];
        let mut values = Vec::with_capacity(nodes.len());
        for &n in nodes {
            match at.get_mut(n.index()) {
                Some(slot) if *slot == u32::MAX => {
                    *slot = values.len() as u32;
                    values.push(make(n));
                }
                _ => {}
            }
        }
        PerNode {
            at,
            values,
            node: PhantomData,
        }
    }

    /// The value of `n`, when it is one of the nodes.
    pub fn get(&self, n: N) -> Option<&T> {
        let &i = self.at.get(n.index())?;
        self.values.get(i as usize)
    }
}

impl<N: NodeIndex> PerNode<N, String> {
    /// The text of `n` (empty when it is none of the nodes).
    pub fn text(&self, n: N) -> &str {
        self.get(n).map_or("", String::as_str)
    }
}
