//! What an in-place snapshot stores beside the edges though a graph could
//! derive it (see the [format](super)): the reverse edges and an
//! inputs-first order, of the derivation graph (sections 25 to 27,
//! version 5) and of each layer of the package graph (sections 31 to 36,
//! version 7). Deriving them costs a pass over the edges in every process
//! that asks (`dependents`, `seeds`, `why`; the 1.7 million edges of a
//! whole distribution, or the package edges of `dependents` on a
//! package); stored, a query reads them in place. They are written when
//! the snapshot is laid out (once, when abovo expands its built-in
//! snapshot into its cache), so the compressed form, and the binary that
//! carries it, do not grow.

use super::SnapshotError;
use super::inplace::{Sections, ids, words};
use crate::column::Col;
use crate::dag::{Csr, NodeIndex};
use crate::graph::{Graph, Stored};
use crate::package_graph::{GraphType, PackageGraph, PackageId};
use std::sync::Arc;

/// The first of the three sections of the derivation graph.
pub(super) const FIRST: usize = 25;
/// The first of the three sections of the `package` layer; those of
/// `bag-emerged` follow.
pub(super) const LAYER_FIRST: usize = 31;

fn invalid(msg: &str) -> SnapshotError {
    SnapshotError::Invalid(msg.to_owned())
}

/// The three sections of `graph`: dependent offsets (u32 ×(n + 1)),
/// dependent targets (u32 ×e), the inputs-first order (u32 ×n).
pub(super) fn sections(graph: &Graph) -> [Vec<u8>; 3] {
    let rows = graph.dependent_rows();
    [
        words(&rows.offsets),
        ids(rows.targets()),
        ids(graph.topological_order()),
    ]
}

/// The three sections of each layer of `pg`, as for [`sections`] (empty
/// for a layer that was not loaded): `package`, then `bag-emerged`.
pub(super) fn layer_sections(pg: &PackageGraph) -> [Vec<u8>; 6] {
    let package_ids = |v: &[PackageId]| v.iter().flat_map(|p| p.0.to_le_bytes()).collect();
    let mut out: [Vec<u8>; 6] = Default::default();
    for ty in GraphType::ALL {
        if let Some(l) = pg.layer(ty) {
            let rows = l.dependent_rows(pg.len());
            let at = 3 * ty.slot();
            out[at] = words(&rows.offsets);
            out[at + 1] = package_ids(rows.targets());
            out[at + 2] = package_ids(l.order(pg.len()));
        }
    }
    out
}

/// The stored arrays at sections `first` to `first + 2` of `s`, for a
/// graph of `n` nodes and `e` edges, each checked on first use: its
/// checksum, offsets ordered from 0 to `e`, targets below `n`, the order
/// a permutation of the nodes. A damaged one is reported to the handler
/// and the graph computes it instead.
pub(super) fn stored<N: NodeIndex + bytemuck::Pod + Send + Sync>(
    s: &Arc<Sections>,
    first: usize,
    n: usize,
    e: usize,
) -> Stored<N> {
    let sd = Arc::clone(s);
    let st = Arc::clone(s);
    Stored {
        dependents: Box::new(move || {
            sd.late(first, |_| {
                let offsets: Col<u32> = sd.mapped(first, n + 1)?;
                let ordered = offsets.first() == Some(&0)
                    && offsets.last().map(|&x| x as usize) == Some(e)
                    && offsets.windows(2).all(|w| w[0] <= w[1]);
                if !ordered {
                    return Err(invalid(
                        "dependent offsets are not ordered from 0 to the edge count",
                    ));
                }
                if first == FIRST && sd.has(super::block_sums::SECTION) {
                    // The derivation graph's reverse edges: checked block
                    // by block as queries read them.
                    let check = super::block_sums::dependents(&sd, n, e)?;
                    let targets = sd.mapped(first + 1, e)?;
                    return Ok(Some(Csr::of(offsets, targets, Some(check))));
                }
                let targets: Col<N> = sd.col(first + 1, e)?;
                if targets.iter().any(|t| t.index() >= n) {
                    return Err(invalid("dependent out of range"));
                }
                Ok(Some(Csr::of(offsets, targets, None)))
            })
        }),
        topo: Box::new(move || {
            st.late(first + 2, |_| {
                let order: Col<N> = st.mapped(first + 2, n)?;
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

/// What a checked read adds: the stored arrays of the derivation graph
/// and of each package layer are those of their edges.
pub(super) fn check(g: &Graph) -> Result<(), SnapshotError> {
    if let Some(stored) = &g.columns.stored {
        check_rows(&g.columns.inputs, g.len(), stored)?;
    }
    let pg = g.package_graph();
    for ty in GraphType::ALL {
        if let Some(stored) = pg.layer(ty).and_then(|l| l.stored.as_ref().map(|s| (l, s))) {
            check_rows(&stored.0.inputs, pg.len(), stored.1)?;
        }
    }
    Ok(())
}

/// That `stored` holds the transpose of `inputs` (rows of `n` nodes) and
/// an order with every input before the nodes that use it.
fn check_rows<N: NodeIndex + bytemuck::Pod>(
    inputs: &Csr<N>,
    n: usize,
    stored: &Stored<N>,
) -> Result<(), SnapshotError> {
    let computed = inputs.transpose(n);
    match (stored.dependents)() {
        Some(d) if d.offsets[..] == computed.offsets[..] && d.targets() == computed.targets() => {}
        _ => return Err(invalid("the stored dependents are not the reverse edges")),
    }
    let order = (stored.topo)().ok_or_else(|| invalid("no stored order"))?;
    let mut at = vec![0u32; n];
    for (i, x) in order.iter().enumerate() {
        at[x.index()] = i as u32;
    }
    let inputs_first = (0..n).all(|x| {
        let ins = inputs.neighbours(N::from_index(x));
        ins.iter().all(|y| at[y.index()] < at[x])
    });
    if !inputs_first {
        return Err(invalid("the stored order puts a node before an input"));
    }
    Ok(())
}
