//! Putting decoded snapshot sections together into a graph (see the
//! [format](super)).
//!
//! The sections decode in parallel; what ties them together (names are
//! valid store names, nodes are in path order, derivation data sits on
//! derivation nodes, the graph is acyclic) is checked afterwards, so a
//! snapshot that decodes is as valid as a graph built from `.drv` files.
//! A trusted snapshot skips those checks and decodes some sections on
//! first use; [`attach`] is shared with the in-place form.

use super::SnapshotError;
use super::decode::{
    Drvs, Header, check_tied, derivations, edges, header, invalid, meta, meta_covering, nodes,
    package_rows, packages, strings,
};
use crate::build::assemble;
use crate::graph::{Columns, Deferred, DrvColumns, Graph};
use crate::meta::StoreMeta;
use crate::package_graph::{GraphType, PackageGraph};
use crate::package_meta::PackageMeta;
use crate::packages::PackageTable;

/// Decodes the sections (zstd frames) into a graph and the creator string,
/// checking everything that ties the sections together.
pub(super) fn decode(frames: &[&[u8]]) -> Result<(Graph, String), SnapshotError> {
    decode_with(frames, None)
}

/// Decodes a trusted snapshot (see [`super::read_trusted`]): the sections
/// every query needs now, without the checks across sections; the
/// derivation facts and the store metadata on first use.
pub(super) fn decode_trusted(frames: &[&'static [u8]]) -> Result<(Graph, String), SnapshotError> {
    decode_with(frames, Some(frames))
}

/// The package graph of sections 7 to 9 (none in a version 1 file), for a
/// graph of `h.nodes` nodes.
fn package_graph(
    decompress: &(dyn Fn(usize) -> Result<Vec<u8>, SnapshotError> + Sync),
    sections: usize,
    h: &Header,
) -> Result<PackageGraph, SnapshotError> {
    if sections <= 7 {
        return Ok(PackageGraph::default());
    }
    let (nodes, (a, b)) = rayon::join(
        || decompress(7),
        || rayon::join(|| decompress(8), || decompress(9)),
    );
    super::packages::decode_graph(&nodes?, [&a?, &b?], h.nodes)
}

/// The package graph of a trusted snapshot of `graph_nodes` nodes, when
/// first asked for: its nodes now, the edges of each type when first
/// asked for (none, should a section not decode).
fn late_package_graph(frames: &[&'static [u8]], graph_nodes: usize) -> PackageGraph {
    if frames.len() <= 7 {
        return PackageGraph::default();
    }
    let nodes = super::decompress(frames[7], 7, &super::Budget::new())
        .and_then(|data| super::packages::decode_nodes(&data, graph_nodes));
    let Ok(mut pg) = nodes else {
        return PackageGraph::default();
    };
    let (n, strings) = (pg.len(), pg.strings.len());
    for ty in GraphType::ALL {
        if !pg.has(ty) {
            continue;
        }
        let section = 8 + ty.slot();
        let frame = frames[section];
        pg.set_layer(
            ty,
            Deferred::later(move || {
                super::decompress(frame, section, &super::Budget::new())
                    .and_then(|data| super::packages::decode_layer(&data, n, strings, true))
                    .ok()
                    .flatten()
            }),
        );
    }
    pg
}

/// The package metadata of section 10 (none in a version 1 file).
fn package_meta(
    decompress: &(dyn Fn(usize) -> Result<Vec<u8>, SnapshotError> + Sync),
    sections: usize,
    h: &Header,
) -> Result<PackageMeta, SnapshotError> {
    if sections <= 10 {
        return Ok(PackageMeta::default());
    }
    super::packages::decode_meta(&decompress(10)?, h.packages)
}

/// What a checked read decodes at once beside the sections every query
/// needs.
struct Rest {
    drvs: Drvs,
    meta: StoreMeta,
    package_graph: PackageGraph,
    package_meta: PackageMeta,
}

/// Decodes the sections; `late` holds the frames (all of them) when the
/// derivation facts, the store metadata and the package-level sections
/// are to be decoded on first use. Each task decompresses its own frame
/// and drops the buffer as soon as it is decoded, so that the allocator
/// hands the memory on to the next task instead of asking the system for
/// fresh (zeroed) pages.
fn decode_with(
    frames: &[&[u8]],
    late: Option<&[&'static [u8]]>,
) -> Result<(Graph, String), SnapshotError> {
    let budget = super::Budget::new();
    let decompress = |i: usize| super::decompress(frames[i], i, &budget);
    let h = header(&decompress(0)?)?;
    let h = &h;
    let ((strings, nodes), ((edges, packages), now)) = rayon::join(
        || rayon::join(|| strings(decompress(1)?, h), || nodes(&decompress(2)?, h)),
        || {
            rayon::join(
                || {
                    rayon::join(
                        || edges(&decompress(4)?, h),
                        || packages(&decompress(5)?, h),
                    )
                },
                || {
                    late.is_none().then(|| {
                        let ((drvs, meta), (package_graph, package_meta)) = rayon::join(
                            || {
                                rayon::join(
                                    || derivations(&decompress(3)?, h),
                                    || meta(&decompress(6)?, h),
                                )
                            },
                            || {
                                rayon::join(
                                    || package_graph(&decompress, frames.len(), h),
                                    || package_meta(&decompress, frames.len(), h),
                                )
                            },
                        );
                        Ok::<_, SnapshotError>(Rest {
                            drvs: drvs?,
                            meta: meta?,
                            package_graph: package_graph?,
                            package_meta: package_meta?,
                        })
                    })
                },
            )
        },
    );
    let (strings, nodes, edges, packages) = (strings?, nodes?, edges?, packages?);
    let now = now.transpose()?;

    // What ties the sections together, checked while the package rows are
    // built (each side takes a few milliseconds).
    let check = || -> Result<(), SnapshotError> {
        let Some(Rest {
            drvs,
            package_graph,
            ..
        }) = &now
        else {
            return Ok(());
        };
        check_tied(
            &strings,
            &nodes.hash_parts,
            &nodes.names,
            &nodes.kinds,
            &drvs.drvs,
            &drvs.outputs,
            package_graph,
        )
    };
    let build_rows = || package_rows(packages, &nodes.hash_parts, &nodes.names, &strings);
    let (checked, rows) = rayon::join(check, build_rows);
    checked?;

    let n = nodes.kinds.len();
    let (drv_columns, meta, package_graph, package_meta) = match (now, late) {
        (Some(rest), _) => {
            if !rest.meta.is_empty() && rest.meta.nar_size.len() != n {
                return Err(invalid("metadata does not cover every node"));
            }
            let d = rest.drvs;
            (
                Deferred::ready(DrvColumns::new(n, d.drvs, d.outputs, d.env)),
                Deferred::ready(rest.meta),
                Deferred::ready(rest.package_graph),
                Deferred::ready(rest.package_meta),
            )
        }
        (None, Some(frames)) => {
            let (drv_frame, meta_frame) = (frames[3], frames[6]);
            let counts = h.clone();
            let drv_columns = Deferred::later(move || late_derivations(drv_frame, &counts));
            let counts = h.clone();
            let meta = Deferred::later(move || late_meta(meta_frame, &counts));
            let (owned, nodes) = (frames.to_vec(), h.nodes);
            let package_graph = Deferred::later(move || late_package_graph(&owned, nodes));
            let (owned, counts) = (frames.to_vec(), h.clone());
            let package_meta = Deferred::later(move || {
                let budget = super::Budget::new();
                let decompress = |i: usize| super::decompress(owned[i], i, &budget);
                package_meta(&decompress, owned.len(), &counts).unwrap_or_default()
            });
            (drv_columns, meta, package_graph, package_meta)
        }
        (None, None) => return Err(invalid("no derivation section")),
    };
    let mut graph = assemble(
        Columns {
            store: h.store.clone(),
            strings,
            hash_parts: nodes.hash_parts.into(),
            names: nodes.names.into(),
            kinds: nodes
                .kinds
                .iter()
                .map(|k| k.code())
                .collect::<Vec<u8>>()
                .into(),
            drv_columns,
            inputs: edges.inputs,
            edge_outputs: edges.edge_outputs.into(),
            out_sets: edges.out_sets,
            facts: None,
            stored: None,
        },
        late.is_none(),
    )?;
    let late = Late {
        meta,
        package_graph,
        package_meta,
    };
    let packages = PackageTable::from_rows_and_nodes(rows);
    attach(&mut graph, &h.description, packages, late);
    Ok((graph, h.creator.clone()))
}

/// The sections of a snapshot that a graph takes as they are, decoded
/// already or on first use.
pub(super) struct Late {
    pub meta: Deferred<StoreMeta>,
    pub package_graph: Deferred<PackageGraph>,
    pub package_meta: Deferred<PackageMeta>,
}

/// Gives a graph just assembled from a snapshot's columns (of either form)
/// the rest of what the snapshot holds: its description, its package table
/// and the sections in `late`.
pub(super) fn attach(graph: &mut Graph, description: &str, packages: PackageTable, late: Late) {
    graph.set_description(description.to_owned());
    if !packages.is_empty() {
        graph.packages = packages;
    }
    graph.meta = late.meta;
    graph.package_graph = late.package_graph;
    graph.package_meta = late.package_meta;
}

/// The derivation section of a trusted snapshot, decoded on first use.
/// Ids are range-checked as always; should the section not decode (a
/// damaged snapshot, which the checks a trusted snapshot skips would have
/// caught), the graph has no derivation facts rather than a panic.
fn late_derivations(frame: &[u8], h: &Header) -> DrvColumns {
    match super::decompress(frame, 3, &super::Budget::new()).and_then(|data| derivations(&data, h))
    {
        Ok(d) => DrvColumns::new(h.nodes, d.drvs, d.outputs, d.env),
        Err(_) => DrvColumns::new(h.nodes, Vec::new(), Vec::new(), Vec::new()),
    }
}

/// The store metadata of a trusted snapshot, decoded on first use (none,
/// should it not decode).
fn late_meta(frame: &[u8], h: &Header) -> StoreMeta {
    super::decompress(frame, 6, &super::Budget::new())
        .and_then(|data| meta_covering(&data, h))
        .unwrap_or_default()
}
