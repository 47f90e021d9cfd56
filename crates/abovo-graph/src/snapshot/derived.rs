//! What an in-place snapshot of version 5 stores beside the edges though
//! a graph could derive it (see the [format](super)): the reverse edges
//! (sections 25 and 26) and an inputs-first order (section 27). Deriving
//! them costs a pass over the 1.7 million edges of a whole distribution
//! in every process that asks (`dependents`, `seeds`, `why`); stored, a
//! query reads them in place. They are written when the snapshot is laid
//! out (once, when abovo expands its built-in snapshot into its cache), so
//! the compressed form, and the binary that carries it, do not grow.

use super::SnapshotError;
use super::inplace::{Sections, ids, words};
use crate::column::Col;
use crate::dag::Csr;
use crate::graph::{Graph, NodeId, Stored};
use std::sync::Arc;

/// The first of the three sections.
pub(super) const FIRST: usize = 25;

fn invalid(msg: &str) -> SnapshotError {
    SnapshotError::Invalid(msg.to_owned())
}

/// The three sections of `graph`: dependent offsets (u32 ×(n + 1)),
/// dependent targets (u32 ×e), the inputs-first order (u32 ×n).
pub(super) fn sections(graph: &Graph) -> [Vec<u8>; 3] {
    let rows = graph.dependent_rows();
    [
        words(&rows.offsets),
        ids(&rows.targets),
        ids(graph.topological_order()),
    ]
}

/// The stored arrays of `s`, for a graph of `n` nodes and `e` edges, each
/// checked on first use: its checksum, offsets ordered from 0 to `e`,
/// targets below `n`, the order a permutation of the nodes. A damaged one
/// is reported to the handler and the graph computes it instead.
pub(super) fn stored(s: &Arc<Sections>, n: usize, e: usize) -> Stored {
    let sd = Arc::clone(s);
    let st = Arc::clone(s);
    Stored {
        dependents: Box::new(move || {
            sd.late(FIRST, |_| {
                let offsets: Col<u32> = sd.col(FIRST, n + 1)?;
                let ordered = offsets.first() == Some(&0)
                    && offsets.last().map(|&x| x as usize) == Some(e)
                    && offsets.windows(2).all(|w| w[0] <= w[1]);
                if !ordered {
                    return Err(invalid(
                        "dependent offsets are not ordered from 0 to the edge count",
                    ));
                }
                let targets: Col<NodeId> = sd.col(FIRST + 1, e)?;
                if targets.iter().any(|t| t.index() >= n) {
                    return Err(invalid("dependent out of range"));
                }
                Ok(Some(Csr { offsets, targets }))
            })
        }),
        topo: Box::new(move || {
            st.late(FIRST + 2, |_| {
                let order: Col<NodeId> = st.col(FIRST + 2, n)?;
                let mut seen = vec![false; n];
                for x in order.iter() {
                    match seen.get_mut(x.index()) {
                        Some(s) if !*s => *s = true,
                        _ => return Err(invalid("the stored order is not one of the nodes")),
                    }
                }
                Ok(Some(order))
            })
        }),
    }
}

/// What a checked read adds: the stored arrays are those of the graph's
/// edges (the reverse rows the transpose of the input rows, every input
/// before the nodes that use it in the order).
pub(super) fn check(g: &Graph) -> Result<(), SnapshotError> {
    let Some(stored) = &g.columns.stored else {
        return Ok(());
    };
    let computed = g.columns.inputs.transpose(g.len());
    match (stored.dependents)() {
        Some(d)
            if d.offsets[..] == computed.offsets[..] && d.targets[..] == computed.targets[..] => {}
        _ => return Err(invalid("the stored dependents are not the reverse edges")),
    }
    let order = (stored.topo)().ok_or_else(|| invalid("no stored order"))?;
    let mut at = vec![0u32; g.len()];
    for (i, x) in order.iter().enumerate() {
        at[x.index()] = i as u32;
    }
    let inputs_first = g
        .nodes()
        .all(|x| g.inputs(x).iter().all(|y| at[y.index()] < at[x.index()]));
    if !inputs_first {
        return Err(invalid("the stored order puts a node before an input"));
    }
    Ok(())
}
