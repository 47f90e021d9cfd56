//! Where each row of the package table starts, and the node it names
//! (sections 37 and 38 of the in-place form, version 7; see the
//! [format](super)). The table itself (section 11) is varints; without
//! these, opening a snapshot walked all of its 30,000 rows (and checked
//! every name as UTF-8) to find them, in every process. With them a row
//! is found by its index and its fields are checked as they are read.

use super::SnapshotError;
use super::decode::{self, Header};
use super::inplace::{Sections, words};
use crate::graph::{NO_DRV, NodeId};

/// The first of the two sections: row starts, u32 ×rows (byte offsets
/// into section 11); then row nodes, u32 ×rows (the node of the row's
/// derivation, [`NO_DRV`] for a derivation outside the graph).
pub(super) const FIRST: usize = 37;
/// The package table section they index.
const TABLE: usize = 11;

fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

/// The two sections for the package table section `table` (laid out as
/// the header `h` counts it).
pub(super) fn sections(table: &[u8], h: &Header) -> [Vec<u8>; 2] {
    // The writer's own encoding of the table: it decodes.
    let (at, nodes) = decode::package_offsets(table, h).unwrap_or_default();
    let nodes: Vec<u32> = nodes.iter().map(|n| n.map_or(NO_DRV, |n| n.0)).collect();
    [words(&at), words(&nodes)]
}

/// The row starts and nodes of a graph of `h.nodes` nodes, from the two
/// sections of `s`: checked against their checksums, the starts rising
/// within the table, the nodes in range. What a row holds is checked as
/// it is read (a damaged row reads as empty fields).
pub(super) fn read(
    s: &Sections,
    h: &Header,
) -> Result<(Vec<u32>, Vec<Option<NodeId>>), SnapshotError> {
    let starts = s.col::<u32>(FIRST, h.packages)?;
    let len = s.table_len(TABLE);
    let rising = starts.first().is_none_or(|&a| a == 0)
        && starts.windows(2).all(|w| w[0] < w[1])
        && starts.last().is_none_or(|&a| (a as usize) < len);
    if !rising {
        return Err(invalid(
            "package row starts do not rise within the package table",
        ));
    }
    let nodes = s.col::<u32>(FIRST + 1, h.packages)?;
    let mut out = Vec::with_capacity(nodes.len());
    for (i, &n) in nodes.iter().enumerate() {
        out.push(match n {
            NO_DRV => None,
            n if (n as usize) < h.nodes => Some(NodeId(n)),
            _ => return Err(invalid(format!("package row node out of range at row {i}"))),
        });
    }
    Ok((starts.to_vec(), out))
}

/// What a checked read adds: the stored starts and nodes are those of the
/// table's rows (`walked`, found by decoding it).
pub(super) fn check(
    stored: &(Vec<u32>, Vec<Option<NodeId>>),
    walked: &(Vec<u32>, Vec<Option<NodeId>>),
) -> Result<(), SnapshotError> {
    if stored != walked {
        return Err(invalid(
            "the package row starts or nodes do not match the package table",
        ));
    }
    Ok(())
}
