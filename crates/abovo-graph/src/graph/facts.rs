//! What most queries ask of a derivation, per node, when the source keeps
//! it apart from the derivation facts (an in-place snapshot): its system,
//! whether it is fixed-output (version 4), its output names (version 7),
//! Nix's kind of it and whether a daemon built-in builds it (version 8),
//! so that resolving a name, walking a closure or showing a package reads
//! one entry instead of decoding every derivation; and (version 8) each
//! derivation's record, read alone when asked for.

use super::records::Records;
use super::{Deferred, Graph, NO_DRV, NodeId, path_from_parts};
use crate::blocks::Checked;
use crate::column::Col;
use crate::strings::StrId;
use abovo_store::StorePath;
use abovo_store::derivation::DerivationKind;

/// Per-node columns of the facts of derivations that most queries ask for,
/// read in place.
#[derive(Debug)]
pub(crate) struct NodeFacts {
    /// Per node, its derivation's system, or [`NO_DRV`] for nodes that are
    /// not derivations.
    pub(crate) systems: Col<u32>,
    /// Per node, [`FACT_FIXED`] when it is a fixed-output derivation;
    /// with `kinds`, also the bits of [`FACT_KIND`] and [`FACT_BUILTIN`].
    pub(crate) flags: Col<u8>,
    /// Whether `flags` has Nix's kinds and the built-in bit (version 8).
    pub(crate) kinds: bool,
    /// Per node, the names of its derivation's outputs (checked on first
    /// use; `None` when the source does not keep them apart, or they are
    /// damaged, and the derivation facts answer).
    pub(crate) outputs: Deferred<Option<NodeOutputs>>,
    /// Per node, its derivation's record, read alone on first use
    /// (version 8); `None` when the source cannot, and every derivation
    /// is decoded at the first one asked for.
    pub(crate) records: Option<Records>,
    /// Per node, the hash part of its fixed output's path, zeros for
    /// nodes that are not fixed-output derivations (version 8; checked
    /// page by page as read), so that the path is not computed again.
    pub(crate) fixed_paths: Option<Checked<[u8; 32]>>,
}

/// The bit of [`NodeFacts::flags`] for a fixed-output derivation.
pub(crate) const FACT_FIXED: u8 = 1;
/// The bits of [`NodeFacts::flags`] (version 8) for Nix's kinds of a
/// derivation whose output paths are known only after its build, as
/// [`flags_of`] and `kind_of_flags` code them.
pub(crate) const FACT_KIND: u8 = 6;
/// The bit of [`NodeFacts::flags`] (version 8) for a derivation that a
/// daemon built-in builds (its builder is `builtin:…`).
pub(crate) const FACT_BUILTIN: u8 = 8;

/// The flags of a derivation of `kind`, `builtin` or not (version 8).
pub(crate) fn flags_of(kind: DerivationKind, builtin: bool) -> u8 {
    let kind = match kind {
        DerivationKind::Fixed => FACT_FIXED,
        DerivationKind::InputAddressed => 0,
        DerivationKind::Deferred => 2,
        DerivationKind::Floating => 4,
        DerivationKind::Impure => 6,
    };
    kind | if builtin { FACT_BUILTIN } else { 0 }
}

/// The kind of a derivation with `flags` (version 8).
fn kind_of_flags(flags: u8) -> DerivationKind {
    match (flags & FACT_FIXED, flags & FACT_KIND) {
        (FACT_FIXED, _) => DerivationKind::Fixed,
        (_, 2) => DerivationKind::Deferred,
        (_, 4) => DerivationKind::Floating,
        (_, 6) => DerivationKind::Impure,
        _ => DerivationKind::InputAddressed,
    }
}

/// Whether `flags` are those of some derivation (version 8): known bits,
/// and no kind bits beside the fixed one.
pub(crate) fn valid_flags(flags: u8) -> bool {
    flags & !(FACT_FIXED | FACT_KIND | FACT_BUILTIN) == 0
        && !(flags & FACT_FIXED != 0 && flags & FACT_KIND != 0)
}

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

    /// The flags of node `n` when the source keeps Nix's kinds and the
    /// built-in bit in them (version 8) and `n` is a derivation.
    pub(crate) fn kind_flags(&self, n: NodeId) -> Option<Option<u8>> {
        let f = self.columns.facts.as_ref().filter(|f| f.kinds)?;
        let derivation = f.systems.get(n.index()).is_some_and(|&s| s != NO_DRV);
        Some(derivation.then(|| f.flags.get(n.index()).copied().unwrap_or(0)))
    }

    /// The path of the fixed output of the derivation at `n`, named
    /// `name`, when the source stores it.
    pub(crate) fn stored_fixed_path(&self, n: NodeId, name: &str) -> Option<StorePath> {
        self.stored_fixed_hash_part(n)
            .map(|part| path_from_parts(&part, name))
    }

    /// The hash part of [`Graph::stored_fixed_path`].
    pub(crate) fn stored_fixed_hash_part(&self, n: NodeId) -> Option<[u8; 32]> {
        let f = self.columns.facts.as_ref()?;
        let part = f.fixed_paths.as_ref()?.get(n.index())?;
        (*part != [0; 32]).then_some(*part)
    }

    /// The kind of the derivation at `n` ([`super::DerivationNode::kind`]),
    /// or `None` for sources and missing derivations: read in place when
    /// the source keeps it apart.
    pub fn derivation_kind(&self, n: NodeId) -> Option<DerivationKind> {
        match self.kind_flags(n) {
            Some(flags) => flags.map(kind_of_flags),
            None => self.derivation(n).map(|d| d.kind()),
        }
    }

    /// Whether `n` is an impure derivation (Nix's `__impure`; see
    /// [`super::DerivationNode::is_impure`]).
    pub fn is_impure(&self, n: NodeId) -> bool {
        self.derivation_kind(n) == Some(DerivationKind::Impure)
    }

    /// The built-in builder's name when the daemon itself builds the
    /// derivation at `n` ([`super::DerivationNode::builtin`]): derivations
    /// that no built-in builds are told from the flags when the source
    /// keeps them apart, without reading their record.
    pub fn builtin(&self, n: NodeId) -> Option<&str> {
        match self.kind_flags(n) {
            Some(Some(flags)) if flags & FACT_BUILTIN == 0 => None,
            Some(None) => None,
            _ => self.derivation(n)?.builtin(),
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
