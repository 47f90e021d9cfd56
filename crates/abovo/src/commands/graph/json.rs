//! `abovo graph --format json`: a graph as one JSON object, what it is,
//! its roots and counts, then its nodes and its edges.
//!
//! A derivation graph's answer is large (the derivation graph of
//! python-pytorch is 10 MB: 4,063 nodes, 42,473 edges), so its nodes and
//! edges are rendered on every core ([`crate::report::json_object`]), and
//! its edges are written by hand from each node's path made and escaped
//! once ([`Edges`]): serializing the two paths of every edge again was
//! half of the time the edges took.

use super::PerNode;
use crate::packages::{packages_json, uses_json};
use crate::report::json::indent;
use crate::report::json_object::Object;
use crate::source::node_json;
use abovo_graph::package_graph::{InputUse, PackageId, PackageView};
use abovo_graph::query::Subgraph;
use abovo_graph::{Graph, NodeId};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::io::{self, Write};

/// What a graph in JSON, of derivations or of packages, says before its
/// nodes and edges: what it is, its roots, its counts.
struct Head<'g, R: serde::Serialize> {
    graph: &'g str,
    ty: &'static str,
    title: &'g str,
    roots: R,
    node_count: usize,
    edge_count: usize,
    complete: bool,
    missing: Vec<String>,
}

impl<R: serde::Serialize> Head<'_, R> {
    /// Writes these fields of the graph's object, in order.
    fn write(&self, json: &mut Object<'_, impl Write>) -> io::Result<()> {
        json.field("graph", self.graph)?;
        json.field("type", self.ty)?;
        json.field("title", self.title)?;
        json.field("roots", &self.roots)?;
        json.field("node_count", &self.node_count)?;
        json.field("edge_count", &self.edge_count)?;
        json.field("complete", &self.complete)?;
        json.field("missing", &self.missing)
    }
}

/// Writes a derivation graph in JSON: its roots by path, its nodes as
/// [`node_json`] writes them, its edges with the outputs they use
/// ([`Edges`]).
pub(super) fn write_derivations(
    json: &mut Object<'_, impl Write>,
    g: &Graph,
    roots: &[NodeId],
    sub: &Subgraph,
    missing: &[NodeId],
    title: &str,
) -> io::Result<()> {
    Head {
        graph: g.description(),
        ty: "derivation",
        title,
        roots: roots.iter().map(|&r| g.display_path(r)).collect::<Vec<_>>(),
        node_count: sub.nodes.len(),
        edge_count: sub.edges.len(),
        complete: missing.is_empty(),
        missing: missing.iter().map(|&n| g.display_path(n)).collect(),
    }
    .write(json)?;
    // The edges' paths are made while the nodes are written, on whichever
    // core has time for them (the nodes' threads wait on each other).
    std::thread::scope(|scope| {
        let edges = scope.spawn(|| Edges::new(g, &sub.nodes));
        json.array("nodes", &sub.nodes, |&n| node_json(g, n))?;
        let edges = edges
            .join()
            .map_err(|_| io::Error::other("the thread making the edges' paths stopped"))?;
        json.array_with("edges", &sub.edges, |out, depth, chunk| {
            edges.write(out, depth, chunk)
        })
    })
}

/// What a derivation graph's JSON needs of the snapshot besides the walk,
/// each decoded whole on first use: the package table's rows by node and
/// the store metadata (the nodes' `packages` and `nar_size`), asked for
/// once here, on another core while the walk runs on this one.
pub(super) fn warm_up(g: &Graph, roots: &[NodeId]) {
    if let Some(&root) = roots.first() {
        let _ = g.packages().is_package(root);
        let _ = g.nar_size(root);
    }
}

/// The edges of a derivation graph in JSON, each `{"from": PATH, "to":
/// PATH, "outputs": [NAME, …]}`, written by hand from each node's path as a
/// JSON string, made once per node (the derivation graph of python-pytorch
/// has ten edges a node).
struct Edges<'g> {
    graph: &'g Graph,
    /// Each node's path as a JSON string, quotes included.
    paths: PerNode<NodeId>,
}

impl<'g> Edges<'g> {
    /// The edges between `nodes`.
    fn new(graph: &'g Graph, nodes: &[NodeId]) -> Self {
        let paths = PerNode::new(nodes, |n| {
            serde_json::Value::String(graph.display_path(n)).to_string()
        });
        Edges { graph, paths }
    }

    /// Appends `edges` to `out` as a JSON array `depth` levels deep, laid
    /// out as [`crate::report::json`] lays it out (the tests compare the
    /// two). The edges of a subgraph come grouped by the derivation they
    /// leave, in the order of its inputs, so each edge is found by going
    /// on along those inputs; each set of output names is rendered once.
    fn write(&self, out: &mut Vec<u8>, depth: usize, edges: &[(NodeId, NodeId)]) -> io::Result<()> {
        let mut inputs = edges
            .first()
            .map(|&(from, _)| (from, self.graph.input_edges(from)));
        let mut outputs_texts: FxHashMap<u32, Vec<u8>> = FxHashMap::default();
        // What lies between the paths and the outputs, the same for every
        // edge at this depth: made once, copied whole.
        let line = |lead: &[u8], depth: usize, text: &[u8]| -> io::Result<Vec<u8>> {
            let mut piece = lead.to_vec();
            indent(&mut piece, depth)?;
            piece.extend_from_slice(text);
            Ok(piece)
        };
        let mut open = line(b"\n", depth + 1, b"{")?;
        open.extend(line(b"\n", depth + 2, b"\"from\": ")?);
        let before_to = line(b",\n", depth + 2, b"\"to\": ")?;
        let before_outputs = line(b",\n", depth + 2, b"\"outputs\": ")?;
        let close = line(b"\n", depth + 1, b"}")?;
        out.push(b'[');
        for (i, &(from, to)) in edges.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&open);
            out.extend_from_slice(self.paths.get(from).as_bytes());
            out.extend_from_slice(&before_to);
            out.extend_from_slice(self.paths.get(to).as_bytes());
            out.extend_from_slice(&before_outputs);
            if inputs.as_ref().is_none_or(|(of, _)| *of != from) {
                inputs = Some((from, self.graph.input_edges(from)));
            }
            // Not met going on (edges in another order): looked up.
            let edge = inputs
                .as_mut()
                .and_then(|(_, inputs)| inputs.find(|e| e.to == to))
                .or_else(|| self.graph.edge(from, to));
            match edge {
                Some(edge) => {
                    let text = match outputs_texts.entry(edge.outputs_id()) {
                        Entry::Occupied(text) => text.into_mut(),
                        Entry::Vacant(entry) => {
                            let mut text = Vec::new();
                            outputs_json(&mut text, depth + 2, edge.outputs())?;
                            entry.insert(text)
                        }
                    };
                    out.extend_from_slice(text);
                }
                None => out.extend_from_slice(b"[]"),
            }
            out.extend_from_slice(&close);
        }
        if !edges.is_empty() {
            out.push(b'\n');
            indent(out, depth)?;
        }
        out.push(b']');
        Ok(())
    }
}

/// Appends output names to `out` as a JSON array `depth` levels deep.
fn outputs_json<'a>(
    out: &mut Vec<u8>,
    depth: usize,
    outputs: impl Iterator<Item = &'a str>,
) -> io::Result<()> {
    let mut any = false;
    out.push(b'[');
    for (j, output) in outputs.enumerate() {
        out.extend_from_slice(if j == 0 { b"\n" } else { b",\n" });
        indent(out, depth + 1)?;
        serde_json::to_writer(&mut *out, output)?;
        any = true;
    }
    if any {
        out.push(b'\n');
        indent(out, depth)?;
    }
    out.push(b']');
    Ok(())
}

/// An edge of a package graph in JSON, with the ways the input is taken.
#[derive(serde::Serialize)]
struct UsesJson<'g> {
    from: String,
    to: String,
    from_name: String,
    to_name: String,
    uses: Vec<InputUse<'g>>,
}

/// Writes a package graph in JSON: nodes as packages (keyed by their
/// derivation), edges between derivations with the ways each input is
/// taken.
pub(super) fn write_packages(
    json: &mut Object<'_, impl Write>,
    view: &PackageView<'_>,
    roots: &[PackageId],
    sub: &Subgraph<PackageId>,
    title: &str,
) -> io::Result<()> {
    let edges: Vec<UsesJson<'_>> = sub
        .edges
        .iter()
        .map(|&(a, b)| UsesJson {
            from: view.display_drv_path(a),
            to: view.display_drv_path(b),
            from_name: view.full_name(a),
            to_name: view.full_name(b),
            uses: uses_json(view, a, b),
        })
        .collect();
    Head {
        graph: view.derivations().description(),
        ty: view.graph_type().name(),
        title,
        roots: packages_json(view, roots),
        node_count: sub.nodes.len(),
        edge_count: sub.edges.len(),
        complete: true,
        missing: Vec::new(),
    }
    .write(json)?;
    json.field("nodes", &packages_json(view, &sub.nodes))?;
    json.field("edges", &edges)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::source::edge_outputs;
    use abovo_graph::NodeKind;
    use abovo_graph::query::{Walk, subgraph};
    use abovo_graph::resolve::{Preferences, resolve_with};
    use serde_json::json;

    /// A derivation graph's JSON serialized whole, as one value: what
    /// [`write_derivations`] must write.
    fn serialized(g: &Graph, roots: &[NodeId], sub: &Subgraph, title: &str) -> String {
        let doc = json!({
            "graph": g.description(),
            "type": "derivation",
            "title": title,
            "roots": roots.iter().map(|&r| g.display_path(r)).collect::<Vec<_>>(),
            "node_count": sub.nodes.len(),
            "edge_count": sub.edges.len(),
            "complete": true,
            "missing": [],
            "nodes": sub.nodes.iter().map(|&n| node_json(g, n)).collect::<Vec<_>>(),
            "edges": sub.edges.iter().map(|&(a, b)| json!({
                "from": g.display_path(a),
                "to": g.display_path(b),
                "outputs": edge_outputs(g, a, b),
            })).collect::<Vec<_>>(),
        });
        let mut out = Vec::new();
        crate::report::json::write(&mut out, &doc).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn written(g: &Graph, roots: &[NodeId], sub: &Subgraph, title: &str) -> String {
        let mut out = Vec::new();
        let mut json = Object::new(&mut out, 0).unwrap();
        write_derivations(&mut json, g, roots, sub, &[], title).unwrap();
        json.end().unwrap();
        String::from_utf8(out).unwrap()
    }

    /// On the built-in snapshot, graphs large enough to be rendered in
    /// chunks on several threads (python-pytorch: 42,473 edges), small
    /// ones written on one, and a lone source: the bytes are those of the
    /// graph serialized whole, edges without outputs, with one and with
    /// several included.
    #[test]
    fn derivation_graphs_are_written_as_serialized() {
        let g = abovo_graph::snapshot::read_trusted(crate::source::BUILT_IN_SNAPSHOT).unwrap();
        let prefs = Preferences::new().system("x86_64-linux");
        let node = |name: &str| resolve_with(&g, name, &prefs).unwrap().node;
        let pytorch = node("python-pytorch");
        let source = *subgraph(&g, &[pytorch], &Walk::default())
            .nodes
            .iter()
            .find(|&&n| g.kind(n) == NodeKind::Source)
            .unwrap();
        let fixed = Walk {
            stop_at_fixed: true,
            ..Walk::default()
        };
        let shallow = Walk {
            max_depth: Some(2),
            ..Walk::default()
        };
        let cases = [
            (vec![pytorch], Walk::default()),
            (vec![pytorch], fixed),
            (vec![node("hello")], shallow),
            (vec![node("hello"), node("gcc-toolchain")], Walk::default()),
            (vec![source], Walk::default()),
        ];
        for (roots, walk) in cases {
            let sub = subgraph(&g, &roots, &walk);
            let title = format!("graph of {} \"quoted\"", sub.nodes.len());
            let text = written(&g, &roots, &sub, &title);
            assert_eq!(text, serialized(&g, &roots, &sub, &title), "{walk:?}");
            if roots == [pytorch] && walk == Walk::default() {
                assert!(sub.edges.len() > 40_000);
                assert!(text.contains("\"outputs\": []"));
                assert!(text.contains("\"outputs\": [\n        \"out\"\n      ]"));
                let outputs = |&(a, b): &(NodeId, NodeId)| edge_outputs(&g, a, b).len();
                assert!(sub.edges.iter().any(|e| outputs(e) > 1));
            }
        }
    }
}
