//! Reading the package-level edge tables of a corpus: `package-edges.tsv`
//! and `bag-emerged-edges.tsv` (plain or zstd-compressed), which Guix
//! itself writes (`guix repl`, no building).
//!
//! Both have the same nine tab-separated columns and no header: `from`
//! (`name@version`), `from_drv` (its `.drv` path), `to`, `to_drv`,
//! `label`, `output`, `kind` (`input`, `native-input`, `propagated-input`,
//! or `implicit` for inputs a build system adds), `from_status`,
//! `to_status` (see [`Status::parse`]). Text fields escape `\`, newline,
//! tab and carriage return with a backslash. A row whose input is not a
//! package (status `origin`, `file-like` or `file`) still makes its
//! package a node, but adds no edge, as `guix graph` draws none.

use super::{
    EdgeUses, GraphType, InputKind, Layer, NO_DRV, PackageGraph, PackageId, Status, UseData,
};
use crate::dag::NodeIndex;
use crate::error::LoadError;
use crate::graph::{Deferred, Graph, NodeId, NodeKind};
use crate::strings::{Interner, StrId};
use crate::tsv;
use abovo_store::store_path::StorePath;
use rustc_hash::FxHashMap;
use std::path::Path;

/// A node while the tables are read, before nodes are put in order.
struct Pending {
    path: StorePath,
    node: Option<NodeId>,
    name: StrId,
    version: StrId,
    status: Status,
}

/// The nodes met so far, by `.drv` path.
struct Nodes<'g> {
    graph: &'g Graph,
    strings: Interner,
    ids: FxHashMap<Box<str>, u32>,
    list: Vec<Pending>,
}

impl Nodes<'_> {
    /// The node of `drv` (an absolute `.drv` path), added when new; a node
    /// met again keeps its first name and gets the more visible status.
    fn node(
        &mut self,
        drv: &str,
        name: &str,
        version: &str,
        status: Status,
    ) -> Result<u32, String> {
        if let Some(&id) = self.ids.get(drv) {
            let p = &mut self.list[id as usize];
            p.status = p.status.merge(status);
            return Ok(id);
        }
        let path = self
            .graph
            .store_dir()
            .parse(drv)
            .map_err(|e| format!("bad derivation path: {}", tsv::clip(&e.to_string())))?;
        if !path.is_derivation() {
            return Err(format!("`{}` is not a .drv path", tsv::clip(drv)));
        }
        let id = self.list.len() as u32;
        // Only a derivation node is a package's derivation in the graph (a
        // snapshot checks it); a `.drv` the graph knows only as an input
        // it lacks stays outside, by its path.
        let node = self
            .graph
            .lookup(&path)
            .filter(|&n| self.graph.kind(n) == NodeKind::Derivation);
        self.list.push(Pending {
            node,
            path,
            name: self.strings.intern(name),
            version: self.strings.intern(version),
            status,
        });
        self.ids.insert(drv.into(), id);
        Ok(id)
    }
}

/// One edge while the tables are read.
#[derive(Clone, Copy)]
struct Row {
    from: u32,
    to: u32,
    how: UseData,
}

/// Reads the edge tables given (at least one should be) and makes the
/// package graph of `graph`: its nodes are the packages of `graph`'s
/// package table and every package either table names.
pub fn read(
    graph: &Graph,
    package_edges: Option<&Path>,
    bag_emerged_edges: Option<&Path>,
) -> Result<PackageGraph, LoadError> {
    let mut nodes = Nodes {
        graph,
        strings: Interner::new(),
        ids: FxHashMap::default(),
        list: Vec::new(),
    };
    // The public packages, so that a package with no input at all (GNU
    // Hello in the `package` graph) is a node too.
    let public = Status {
        visibility: super::Visibility::Public,
        bootstrap: false,
        bootstrap_alias: false,
    };
    let table = graph.packages();
    for (i, row) in table.rows().iter().enumerate() {
        let drv = match table.node(i) {
            Some(n) => graph.display_path(n),
            None => format!("{}/{}", graph.store_dir(), row.derivation),
        };
        nodes
            .node(&drv, &row.name, &row.version, public)
            .map_err(|reason| LoadError::Table {
                path: "package table".into(),
                line: i + 1,
                reason,
            })?;
    }
    let mut rows: [Option<Vec<Row>>; 2] = [None, None];
    for (ty, file) in GraphType::ALL
        .into_iter()
        .zip([package_edges, bag_emerged_edges])
    {
        if let Some(file) = file {
            rows[ty.slot()] = Some(read_table(file, &mut nodes)?);
        }
    }
    finish(nodes, rows, [package_edges, bag_emerged_edges])
}

/// Reads one edge table into rows, adding its nodes.
fn read_table(file: &Path, nodes: &mut Nodes<'_>) -> Result<Vec<Row>, LoadError> {
    let mut table = tsv::Table::open_headerless(file)?;
    let path = table.path().to_owned();
    let mut rows = Vec::new();
    while let Some((line, f)) = table.next_row()? {
        let bad = |reason: String| tsv::bad(&path, line, reason);
        if f.len() != 9 {
            return Err(bad(format!(
                "expected 9 tab-separated fields (from, from_drv, to, to_drv, label, \
                 output, kind, from_status, to_status), found {}",
                f.len()
            )));
        }
        let from_status = Status::parse(f[7])
            .map_err(&bad)?
            .ok_or_else(|| bad(format!("`{}` cannot have inputs here", f[7])))?;
        let (name, version) = split_full_name(f[0]).map_err(&bad)?;
        let from = nodes
            .node(f[1], &name, &version, from_status)
            .map_err(&bad)?;
        let Some(to_status) = Status::parse(f[8]).map_err(&bad)? else {
            // An origin or a file: not a node of `guix graph`.
            continue;
        };
        let (name, version) = split_full_name(f[2]).map_err(&bad)?;
        let to = nodes.node(f[3], &name, &version, to_status).map_err(&bad)?;
        let kind =
            InputKind::parse(f[6]).ok_or_else(|| bad(format!("unknown input kind `{}`", f[6])))?;
        let label = tsv::unescape(f[4]).map_err(&bad)?;
        let output = tsv::unescape(f[5]).map_err(&bad)?;
        rows.push(Row {
            from,
            to,
            how: UseData {
                label: nodes.strings.intern(&label),
                output: nodes.strings.intern(&output),
                kind,
            },
        });
    }
    Ok(rows)
}

/// `name@version` split at its last `@`, with the escapes undone.
fn split_full_name(text: &str) -> Result<(String, String), String> {
    let text = tsv::unescape(text)?;
    match text.rsplit_once('@') {
        Some((name, version)) if !name.is_empty() => Ok((name.to_owned(), version.to_owned())),
        _ => Err(format!(
            "`{}` is not a package's name@version",
            tsv::clip(&text)
        )),
    }
}

/// Puts the nodes in order (those whose derivation the graph has by node
/// id, then the others by path) and lays out each layer's rows.
fn finish(
    nodes: Nodes<'_>,
    rows: [Option<Vec<Row>>; 2],
    files: [Option<&Path>; 2],
) -> Result<PackageGraph, LoadError> {
    let mut order: Vec<u32> = (0..nodes.list.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&nodes.list[a as usize], &nodes.list[b as usize]);
        (a.node.is_none(), a.node, &a.path).cmp(&(b.node.is_none(), b.node, &b.path))
    });
    let mut new_id = vec![0u32; order.len()];
    for (i, &old) in order.iter().enumerate() {
        new_id[old as usize] = i as u32;
    }
    let mut g = PackageGraph::default();
    for &old in &order {
        let p = &nodes.list[old as usize];
        g.drv.push(p.node.map_or(NO_DRV, |n| n.0));
        if p.node.is_none() {
            g.outside.push(p.path.clone());
        }
        g.names.push(p.name);
        g.versions.push(p.version);
        g.status.push(p.status);
    }
    g.strings = nodes.strings.finish();
    for (slot, rows) in rows.into_iter().enumerate() {
        let Some(mut rows) = rows else { continue };
        for r in &mut rows {
            r.from = new_id[r.from as usize];
            r.to = new_id[r.to as usize];
        }
        let layer = lay_out(g.len(), rows);
        // The order that proves the layer acyclic is kept for queries.
        let cycle = match crate::dag::inputs_first(&layer.inputs, g.len()) {
            Ok(order) => {
                let _ = layer.topo.set(order.into());
                None
            }
            Err(pending) => Some(pending),
        };
        if let Some(pending) = cycle {
            let through: Vec<String> = g
                .ids()
                .filter(|p| pending[p.index()] > 0)
                .take(5)
                .map(|p| g.full_name(p))
                .collect();
            return Err(LoadError::PackageCycle {
                path: files[slot].map(Path::to_owned).unwrap_or_default(),
                through,
            });
        }
        g.set_layer(GraphType::ALL[slot], Deferred::ready(Some(layer)));
    }
    Ok(g)
}

/// The rows of `n` nodes as a layer: inputs sorted and without repeats,
/// each edge with the set of ways it is taken (rows repeat an edge when a
/// package takes one input twice, say its `out` and `static` outputs).
fn lay_out(n: usize, mut rows: Vec<Row>) -> Layer {
    let key = |h: &UseData| (h.kind as u8, h.label, h.output);
    rows.sort_by_key(|r| (r.from, r.to, key(&r.how)));
    rows.dedup_by(|a, b| (a.from, a.to, a.how) == (b.from, b.to, b.how));
    let mut how = EdgeUses {
        use_offsets: vec![0],
        ..EdgeUses::default()
    };
    let mut set_ids: FxHashMap<Vec<UseData>, u32> = FxHashMap::default();
    let mut offsets = vec![0u32; n + 1];
    let mut targets = Vec::new();
    let mut edge_uses = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let (from, to) = (rows[i].from, rows[i].to);
        let mut j = i;
        while j < rows.len() && (rows[j].from, rows[j].to) == (from, to) {
            j += 1;
        }
        let set: Vec<UseData> = rows[i..j].iter().map(|r| r.how).collect();
        let next = set_ids.len() as u32;
        let id = *set_ids.entry(set).or_insert_with_key(|set| {
            how.uses.extend_from_slice(set);
            how.use_offsets.push(how.uses.len() as u32);
            next
        });
        targets.push(PackageId(to));
        edge_uses.push(id);
        offsets[from as usize + 1] += 1;
        i = j;
    }
    for k in 0..n {
        offsets[k + 1] += offsets[k];
    }
    how.edge_uses = edge_uses.into();
    Layer {
        inputs: crate::dag::Csr::new(offsets, targets),
        how: Deferred::ready(how),
        ..Layer::default()
    }
}

/// A layer from explicit rows, for tests of hand-made package graphs.
#[cfg(test)]
pub(crate) fn layer_of(n: usize, edges: &[(u32, u32, UseData)]) -> Layer {
    lay_out(
        n,
        edges
            .iter()
            .map(|&(from, to, how)| Row { from, to, how })
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dag::Dag;

    // Found with the fuzz target `tables` (fuzz/): a package whose
    // derivation the graph knew only as a missing input was tied to that
    // node, and the graph's snapshot could not be read back ("package
    // derivation 2 is not a derivation node").
    #[test]
    fn a_derivation_the_graph_lacks_is_kept_by_its_path() {
        use crate::load::{DrvFile, LoadOptions, Silent, graph_of_files};
        let store = abovo_store::StoreDir::default();
        let a = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-a","","")],[("/gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-b.drv",["out"])],[],"x86_64-linux","/bin/sh",[],[])"#;
        let files = vec![DrvFile {
            name: "w9krgvil6919s2ghqgx443zb9krx75s6-a.drv".into(),
            bytes: a.into(),
        }];
        let mut g = graph_of_files(files, LoadOptions::new(&store, &Silent)).unwrap();
        let b_drv = "/gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-b.drv";
        let b = store.parse(b_drv).unwrap();
        assert_eq!(g.kind(g.lookup(&b).unwrap()), NodeKind::Missing);
        let dir = tempfile::tempdir().unwrap();
        let edges = dir.path().join("package-edges.tsv");
        let a_drv = "/gnu/store/w9krgvil6919s2ghqgx443zb9krx75s6-a.drv";
        let row = format!("a@1\t{a_drv}\tb@1\t{b_drv}\tb\tout\tinput\tpublic\tpublic\n");
        std::fs::write(&edges, row).unwrap();
        let pg = read(&g, Some(&edges), None).unwrap();
        let pb = pg.by_drv_path(&g, &b).unwrap();
        assert_eq!((pg.drv(pb), pg.drv_path(&g, pb)), (None, b));
        let a = store.parse(a_drv).unwrap();
        assert!(pg.drv(pg.by_drv_path(&g, &a).unwrap()).is_some());
        g.set_package_graph(pg);
        let opts = crate::snapshot::WriteOptions {
            level: 1,
            ..Default::default()
        };
        let back = crate::snapshot::read(&crate::snapshot::write(&g, &opts).unwrap()).unwrap();
        assert_eq!(back.package_graph().len(), 2);
        assert_eq!(back.package_graph().edge_count(GraphType::Package), 1);
    }

    #[test]
    fn repeated_rows_become_one_edge_with_every_use() {
        let how = |label: u32, kind| UseData {
            label: StrId(label),
            output: StrId(0),
            kind,
        };
        let layer = layer_of(
            3,
            &[
                (0, 2, how(1, InputKind::Input)),
                (0, 1, how(2, InputKind::NativeInput)),
                (0, 2, how(3, InputKind::Input)),
                (0, 2, how(1, InputKind::Input)),
                (1, 2, how(1, InputKind::Input)),
            ],
        );
        assert_eq!(layer.inputs.offsets[..], [0, 2, 3, 3]);
        assert_eq!(
            layer.inputs.targets()[..],
            [PackageId(1), PackageId(2), PackageId(2)]
        );
        // Edge 0 -> 2 has two uses; edge 1 -> 2 shares the set of one.
        let set = |e: usize| layer.how.get().of_edge(e);
        assert_eq!(set(1).len(), 2);
        assert_eq!(set(2), [how(1, InputKind::Input)]);
        let mut g = PackageGraph {
            names: vec![StrId(0); 3],
            versions: vec![StrId(0); 3],
            drv: vec![NO_DRV; 3],
            ..PackageGraph::default()
        };
        let graph = crate::build::build_graph(Default::default(), Vec::new());
        assert!(graph.is_ok());
        g.set_layer(GraphType::Package, Deferred::ready(Some(layer)));
        let graph = graph.unwrap();
        let v = g.view(&graph, GraphType::Package).unwrap();
        assert_eq!(v.dependents(PackageId(2)), [PackageId(0), PackageId(1)]);
        assert_eq!(
            v.topological_order(),
            [PackageId(2), PackageId(1), PackageId(0)]
        );
        assert!(g.view(&graph, GraphType::BagEmerged).is_none());
    }
}
