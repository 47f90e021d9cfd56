//! What most queries ask of a derivation, per node, when the source keeps
//! it apart from the derivation facts (an in-place snapshot): its system,
//! whether it is fixed-output (version 4) and its output names (version
//! 7), so that resolving a name, walking a closure or showing a package
//! reads one entry instead of decoding every derivation.

use super::{Deferred, Graph, NO_DRV, NodeId};
use crate::column::Col;
use crate::strings::StrId;

/// Per-node columns of the facts of derivations that most queries ask for,
/// read in place.
#[derive(Debug)]
pub(crate) struct NodeFacts {
    /// Per node, its derivation's system, or [`NO_DRV`] for nodes that are
    /// not derivations.
    pub(crate) systems: Col<u32>,
    /// Per node, [`FACT_FIXED`] when it is a fixed-output derivation.
    pub(crate) flags: Col<u8>,
    /// Per node, the names of its derivation's outputs (checked on first
    /// use; `None` when the source does not keep them apart, or they are
    /// damaged, and the derivation facts answer).
    pub(crate) outputs: Deferred<Option<NodeOutputs>>,
}

/// The bit of [`NodeFacts::flags`] for a fixed-output derivation.
pub(crate) const FACT_FIXED: u8 = 1;

/// The output names of every derivation: a few distinct sets (`out`;
/// `out` and `doc`; …) and the set of each node.
#[derive(Debug, Default)]
pub(crate) struct NodeOutputs {
    /// Distinct sets of output names, each in the derivation's order.
    pub(crate) sets: Vec<Vec<StrId>>,
    /// Per node, the index of its set in `sets`, or [`NO_DRV`] for nodes
    /// that are not derivations (every index checked below `sets.len()`).
    pub(crate) of_node: Col<u32>,
}

impl Graph {
    /// Whether `n` is a fixed-output derivation.
    pub fn is_fixed_output(&self, n: NodeId) -> bool {
        match &self.columns.facts {
            Some(f) => f.flags.get(n.index()).is_some_and(|&b| b & FACT_FIXED != 0),
            None => self.derivation(n).is_some_and(|d| d.is_fixed_output()),
        }
    }

    /// The system of the derivation at `n` (`x86_64-linux`), or `None` for
    /// sources and missing derivations.
    pub fn system(&self, n: NodeId) -> Option<&str> {
        match &self.columns.facts {
            Some(f) => {
                let s = *f.systems.get(n.index())?;
                (s != NO_DRV).then(|| self.columns.strings.get(StrId(s)))
            }
            None => self.derivation(n).map(|d| d.system()),
        }
    }

    /// The output names of the derivation at `n` (`out`, `lib`, …, sorted
    /// as the derivation lists them), empty for sources and missing
    /// derivations: what [`super::DerivationNode::outputs`] names, read
    /// without decoding the derivation facts when the source keeps them
    /// apart.
    pub fn output_names(&self, n: NodeId) -> Vec<&str> {
        let kept = self
            .columns
            .facts
            .as_ref()
            .and_then(|f| f.outputs.get().as_ref());
        if let Some(o) = kept {
            let set = o
                .of_node
                .get(n.index())
                .and_then(|&s| o.sets.get(s as usize));
            return set.map_or_else(Vec::new, |set| {
                set.iter().map(|&s| self.columns.strings.get(s)).collect()
            });
        }
        self.derivation(n)
            .map(|d| d.outputs().map(|o| o.name).collect())
            .unwrap_or_default()
    }
}
