//! The facts of derivations as a graph keeps them once decoded: per
//! derivation its system, builder, fixed output and kind, with ranges
//! into the outputs and kept environment of all of them.

use super::NodeId;
use crate::strings::StrId;
use abovo_store::derivation::{DerivationKind, FixedOutput};

/// The per-derivation columns.
#[derive(Debug, Clone)]
pub(crate) struct DrvData {
    pub(crate) node: NodeId,
    pub(crate) system: StrId,
    pub(crate) builder: StrId,
    pub(crate) fixed: Option<FixedOutput>,
    pub(crate) kind: DerivationKind,
    /// Range into [`DrvColumns::outputs`] (or a record's own, when it is
    /// read alone: [`super::Record`]).
    pub(crate) outputs: (u32, u32),
    /// Range into [`DrvColumns::env`] (or a record's own).
    pub(crate) env: (u32, u32),
}

/// One output of a derivation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputData {
    pub(crate) name: StrId,
    pub(crate) path: OutPath,
}

/// Where an output's recorded path is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutPath {
    /// The `.drv` records no path.
    None,
    /// Hash part and name of the recorded path.
    Stored([u8; 32], StrId),
    /// The path of the fixed output is the one its hash gives (computed on
    /// use; snapshots do not store these incompressible digests).
    Fixed,
}

/// The sentinel of [`DrvColumns::drv_slot`] for nodes that are not
/// derivations.
pub(crate) const NO_DRV: u32 = u32::MAX;

/// What a graph knows of its derivations: per node, its derivation's slot;
/// per derivation, its facts; and the outputs and kept environment they
/// point into.
#[derive(Debug, Clone, Default)]
pub(crate) struct DrvColumns {
    /// Per node: index into `drvs`, or [`NO_DRV`].
    pub(crate) drv_slot: Vec<u32>,
    pub(crate) drvs: Vec<DrvData>,
    pub(crate) outputs: Vec<OutputData>,
    pub(crate) env: Vec<(StrId, StrId)>,
}

impl DrvColumns {
    /// The columns of `drvs` (sorted by node) in a graph of `n` nodes.
    pub(crate) fn new(
        n: usize,
        drvs: Vec<DrvData>,
        outputs: Vec<OutputData>,
        env: Vec<(StrId, StrId)>,
    ) -> DrvColumns {
        let mut drv_slot = vec![NO_DRV; n];
        for (slot, d) in drvs.iter().enumerate() {
            if let Some(s) = drv_slot.get_mut(d.node.index()) {
                *s = slot as u32;
            }
        }
        DrvColumns {
            drv_slot,
            drvs,
            outputs,
            env,
        }
    }
}
