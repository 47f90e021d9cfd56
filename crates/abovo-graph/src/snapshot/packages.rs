//! The package-level sections of a snapshot (format version 2): the
//! package nodes, the edges of the `package` and `bag-emerged` graphs, and
//! the package metadata (see the [format](super)).
//!
//! Each section starts with a byte that says whether it holds anything
//! (0: the graph had no such data), and carries its own counts and, where
//! it needs one, its own string table (a count, each string's length,
//! then the text), so that a section decodes alone: the built-in snapshot
//! decodes these sections only when a command first asks for packages.
//!
//! ```text
//! package nodes   flag; which edge sections hold edges (1 package,
//!                 2 bag-emerged); strings; node count P; outside count O;
//!                 P−O derivation node ids (deltas); O `.drv` base names;
//!                 P name ids; P version ids; P status bytes
//! edges (×2)      flag; use-set count; per set: its length, then per use
//!                 a label id, an output id and a kind byte; edge count;
//!                 per node: its input count, the inputs (deltas), their
//!                 use-set ids
//! metadata        flag; strings; row count (the package table's); per
//!                 row: a flag byte (1 known, 2 hidden), then the ids of
//!                 location, home page, licences, synopsis, description,
//!                 systems and superseding package
//! ```

use super::SnapshotError;
use super::codec::{Dec, Enc};
use crate::column::Col;
use crate::graph::Deferred;
use crate::graph::{Graph, NodeKind};
use crate::package_graph::{
    EdgeUses, GraphType, InputKind, Layer, NO_DRV, PackageGraph, PackageId, Status, UseData,
};
use crate::package_meta::{MetaRow, PackageMeta};
use crate::strings::{StrId, Strings};
use abovo_store::store_path::StorePath;

fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

fn put_strings(e: &mut Enc, s: &Strings) {
    let (text, ends) = s.raw_parts();
    e.var(ends.len() as u64);
    let mut prev = 0;
    for &end in ends {
        e.var(u64::from(end - prev));
        prev = end;
    }
    e.bytes(text);
}

fn get_strings(d: &mut Dec<'_>, what: &'static str) -> Result<Strings, SnapshotError> {
    let n = d.count(1, what)?;
    let mut ends = Vec::with_capacity(n);
    let mut total = 0u64;
    for _ in 0..n {
        // A length near 2^64 must not wrap the sum around.
        total = total
            .checked_add(d.var(what)?)
            .filter(|&t| t <= u64::from(u32::MAX))
            .ok_or_else(|| invalid(format!("{what}: string table too large")))?;
        ends.push(total as u32);
    }
    let text = std::str::from_utf8(d.bytes(total as usize, what)?)
        .map_err(|_| invalid(format!("{what} is not UTF-8")))?;
    Strings::from_raw_parts(text.to_owned(), ends)
        .ok_or_else(|| invalid(format!("{what}: string offsets")))
}

/// The four package sections of `g`, uncompressed.
pub(super) fn encode(g: &Graph) -> [Vec<u8>; 4] {
    let pg = g.package_graph();
    let mut nodes = Enc::default();
    // Edges loaded without a node (an edge table with no row) are data all
    // the same: the nodes section must say that their sections hold them.
    if pg.is_empty() && !pg.has(GraphType::Package) && !pg.has(GraphType::BagEmerged) {
        nodes.u8(0);
    } else {
        nodes.u8(1);
        nodes.u8(u8::from(pg.has(GraphType::Package)) | u8::from(pg.has(GraphType::BagEmerged)) << 1);
        put_strings(&mut nodes, &pg.strings);
        nodes.var(pg.len() as u64);
        nodes.var(pg.outside.len() as u64);
        let mut prev = 0;
        for &d in &pg.drv[..pg.len() - pg.outside.len()] {
            nodes.var(u64::from(d - prev));
            prev = d;
        }
        for p in &pg.outside {
            nodes.str(&p.to_string());
        }
        for ids in [&pg.names, &pg.versions] {
            for id in ids {
                nodes.var(u64::from(id.0));
            }
        }
        for s in &pg.status {
            nodes.u8(s.to_byte());
        }
    }
    let layer = |ty: GraphType| {
        let mut e = Enc {
            buf: layer_head(pg.layer(ty)),
        };
        let Some(l) = pg.layer(ty) else {
            return e.buf;
        };
        for p in pg.ids() {
            let range = l.inputs.range(p);
            e.var(range.len() as u64);
            let mut prev = 0;
            for t in &l.inputs.targets()[range.clone()] {
                e.var(u64::from(t.0 - prev));
                prev = t.0;
            }
            for &set in &l.how.get().edge_uses[range] {
                e.var(u64::from(set));
            }
        }
        e.buf
    };
    let mut m = Enc::default();
    let meta = g.package_meta();
    if meta.is_empty() {
        m.u8(0);
    } else {
        m.u8(1);
        put_strings(&mut m, &meta.strings);
        m.var(meta.rows.len() as u64);
        for r in meta.rows.iter() {
            m.u8(u8::from(r.known()) | u8::from(r.hidden()) << 1);
            for id in r.text_fields() {
                m.var(u64::from(id.0));
            }
        }
    }
    [
        nodes.buf,
        layer(GraphType::Package),
        layer(GraphType::BagEmerged),
        m.buf,
    ]
}

/// The start of a section of package edges: a flag (0 for no layer), the
/// input use sets and the edge count. The compressed form follows it with
/// the edges as varints; the in-place form (version 4) keeps the edges in
/// three arrays of their own ([`layer_in_place`]).
pub(super) fn layer_head(l: Option<&Layer>) -> Vec<u8> {
    let mut e = Enc::default();
    let Some(l) = l else {
        e.u8(0);
        return e.buf;
    };
    e.u8(1);
    let how = l.how.get();
    e.var(how.use_offsets.len().saturating_sub(1) as u64);
    for w in how.use_offsets.windows(2) {
        let set = &how.uses[w[0] as usize..w[1] as usize];
        e.var(set.len() as u64);
        for u in set {
            e.var(u64::from(u.label.0));
            e.var(u64::from(u.output.0));
            e.u8(u.kind as u8);
        }
    }
    e.var(l.inputs.edge_count() as u64);
    e.buf
}

/// The input use sets at `d` (after the flag of an edge section), no
/// edge yet, and the number of sets.
fn use_sets(d: &mut Dec<'_>, strings: usize) -> Result<(EdgeUses, usize), SnapshotError> {
    let mut how = EdgeUses {
        use_offsets: vec![0],
        ..EdgeUses::default()
    };
    let sets = d.count(1, "input use sets")?;
    for _ in 0..sets {
        for _ in 0..d.count(3, "input uses")? {
            let label = StrId(d.below(strings, "input label")?);
            let output = StrId(d.below(strings, "input output")?);
            let b = d.u8("input kind")?;
            let kind = InputKind::from_byte(b).ok_or_else(|| invalid(format!("input kind {b}")))?;
            how.uses.push(UseData {
                label,
                output,
                kind,
            });
        }
        how.use_offsets.push(how.uses.len() as u32);
    }
    Ok((how, sets))
}

/// A layer of the in-place form over `n` package nodes: its edges
/// borrowed from their arrays once every id in them is checked against its
/// range (offsets ordered from 0 to the edge count, targets below `n`);
/// `head` is its [`layer_head`], of which only the flag is read here (it
/// must say what `present`, from the package nodes, says); `how` gives how
/// the edges are taken, on first use ([`edge_uses_in_place`]).
pub(super) fn layer_in_place(
    head: &[u8],
    n: usize,
    present: bool,
    [offsets, targets]: [Col<u32>; 2],
    how: Deferred<EdgeUses>,
) -> Result<Option<Layer>, SnapshotError> {
    let flag = head.first().copied();
    if flag.map(|f| f != 0) != Some(present) {
        return Err(invalid("the package nodes and an edge section disagree"));
    }
    if !present {
        if head.len() != 1 || !offsets.is_empty() || !targets.is_empty() {
            return Err(invalid("bytes after an empty edge section"));
        }
        return Ok(None);
    }
    let edges = targets.len() as u64;
    let ordered = offsets.len() == n + 1
        && offsets.first() == Some(&0)
        && offsets.last().map(|&x| u64::from(x)) == Some(edges)
        && offsets.windows(2).all(|w| w[0] <= w[1]);
    if !ordered {
        return Err(invalid(
            "package edge offsets are not ordered from 0 to the edge count",
        ));
    }
    if targets.iter().any(|&t| t as usize >= n) {
        return Err(invalid("package input out of range"));
    }
    let targets = match targets {
        Col::Mapped {
            backing,
            start,
            len,
        } => Col::Mapped {
            backing,
            start,
            len,
        },
        Col::Owned(v) => Col::Owned(v.into_iter().map(PackageId).collect()),
    };
    Ok(Some(Layer {
        inputs: crate::dag::Csr::of(offsets, targets, None),
        how,
        ..Layer::default()
    }))
}

/// How the `edges` edges of an in-place layer are taken: the use sets of
/// its `head` ([`layer_head`], whose edge count must be `edges`) over
/// `strings` strings, and the set of each edge (`uses`, each below the
/// number of sets).
pub(super) fn edge_uses_in_place(
    head: &[u8],
    strings: usize,
    edges: usize,
    uses: Col<u32>,
) -> Result<EdgeUses, SnapshotError> {
    let mut d = Dec::new(head);
    if d.u8("package edges flag")? == 0 {
        return Err(invalid("the use sets of an empty edge section"));
    }
    let (mut how, sets) = use_sets(&mut d, strings)?;
    if d.var("package edges")? != edges as u64 || !d.at_end() {
        return Err(invalid(
            "the package edge count or bytes after it in the use sets",
        ));
    }
    if uses.len() != edges {
        return Err(invalid("not one input use set for each package edge"));
    }
    if uses.iter().any(|&u| u as usize >= sets) {
        return Err(invalid("input use set out of range"));
    }
    how.edge_uses = uses;
    Ok(how)
}

/// Decodes the package nodes and both layers of edges for a graph of
/// `graph_nodes` nodes, at once. Ids are range-checked; that every
/// derivation is a derivation node of the graph and that the layers are
/// acyclic is left to [`check`].
pub(super) fn decode_graph(
    nodes: &[u8],
    layers: [&[u8]; 2],
    graph_nodes: usize,
) -> Result<PackageGraph, SnapshotError> {
    let mut pg = decode_nodes(nodes, graph_nodes)?;
    let (n, strings) = (pg.len(), pg.strings.len());
    let present = pg.present;
    let (a, b) = rayon::join(
        || decode_layer(layers[0], n, strings, present[0]),
        || decode_layer(layers[1], n, strings, present[1]),
    );
    pg.layers = [Deferred::ready(a?), Deferred::ready(b?)];
    Ok(pg)
}

/// Decodes the package nodes of a graph of `graph_nodes` nodes: a package
/// graph whose edges are not there yet, but known to be there or not
/// ([`PackageGraph::has`]).
pub(super) fn decode_nodes(
    nodes: &[u8],
    graph_nodes: usize,
) -> Result<PackageGraph, SnapshotError> {
    let mut d = Dec::new(nodes);
    let mut pg = PackageGraph::default();
    if d.u8("package nodes flag")? == 0 {
        return if d.at_end() {
            Ok(pg)
        } else {
            Err(invalid("bytes after empty package nodes"))
        };
    }
    let present = d.u8("package edge sections")?;
    if present >> 2 != 0 {
        return Err(invalid(format!("package edge sections {present}")));
    }
    pg.present = [present & 1 != 0, present & 2 != 0];
    pg.strings = get_strings(&mut d, "package strings")?;
    let n = d.count(3, "package nodes")?;
    let outside = d.var("outside packages")? as usize;
    if outside > n {
        return Err(invalid("more outside packages than packages"));
    }
    let mut node = 0u64;
    for i in 0..n - outside {
        let delta = d.var("package derivation")?;
        if i > 0 && delta == 0 {
            return Err(invalid("two packages on one derivation"));
        }
        node = node.saturating_add(delta);
        if node >= graph_nodes as u64 {
            return Err(invalid(format!("package derivation node {node}")));
        }
        pg.drv.push(node as u32);
    }
    for _ in 0..outside {
        let base = d.str("outside package derivation")?;
        let p = StorePath::from_base_name(base)
            .map_err(|e| invalid(format!("outside package derivation: {e}")))?;
        pg.drv.push(NO_DRV);
        pg.outside.push(p);
    }
    let strings = pg.strings.len();
    for ids in [&mut pg.names, &mut pg.versions] {
        ids.reserve(n);
        for _ in 0..n {
            ids.push(StrId(d.below(strings, "package name")?));
        }
    }
    for &b in d.bytes(n, "package status")? {
        pg.status
            .push(Status::from_byte(b).ok_or_else(|| invalid(format!("package status {b}")))?);
    }
    if !d.at_end() {
        return Err(invalid("bytes after the package nodes"));
    }
    Ok(pg)
}

/// Decodes one section of package edges over `n` package nodes with
/// `strings` strings; `present` is what the package nodes say of it.
pub(super) fn decode_layer(
    data: &[u8],
    n: usize,
    strings: usize,
    present: bool,
) -> Result<Option<Layer>, SnapshotError> {
    let layer = layer(data, n, strings)?;
    if layer.is_some() != present {
        return Err(invalid("the package nodes and an edge section disagree"));
    }
    Ok(layer)
}

fn layer(data: &[u8], n: usize, strings: usize) -> Result<Option<Layer>, SnapshotError> {
    let mut d = Dec::new(data);
    if d.u8("package edges flag")? == 0 {
        return if d.at_end() {
            Ok(None)
        } else {
            Err(invalid("bytes after an empty edge section"))
        };
    }
    let (mut how, sets) = use_sets(&mut d, strings)?;
    let edges = d.count(2, "package edges")?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u32);
    let mut targets = Vec::with_capacity(edges);
    let mut edge_uses = Vec::with_capacity(edges);
    for _ in 0..n {
        let count = d.count(2, "package inputs")?;
        let mut t = 0u64;
        for j in 0..count {
            let delta = d.var("package input")?;
            if j > 0 && delta == 0 {
                return Err(invalid("repeated package edge"));
            }
            t = t.saturating_add(delta);
            if t >= n as u64 {
                return Err(invalid(format!("package input {t}")));
            }
            targets.push(PackageId(t as u32));
        }
        for _ in 0..count {
            edge_uses.push(d.below(sets, "input use set")?);
        }
        if targets.len() > edges {
            return Err(invalid("more package edges than announced"));
        }
        offsets.push(targets.len() as u32);
    }
    if targets.len() != edges || !d.at_end() {
        return Err(invalid("package edge count or trailing bytes"));
    }
    how.edge_uses = edge_uses.into();
    Ok(Some(Layer {
        inputs: crate::dag::Csr::new(offsets, targets),
        how: Deferred::ready(how),
        ..Layer::default()
    }))
}

/// Decodes the package metadata for a package table of `rows` rows.
pub(super) fn decode_meta(data: &[u8], rows: usize) -> Result<PackageMeta, SnapshotError> {
    let mut d = Dec::new(data);
    let mut meta = PackageMeta::default();
    if d.u8("package metadata flag")? == 0 {
        return if d.at_end() {
            Ok(meta)
        } else {
            Err(invalid("bytes after empty package metadata"))
        };
    }
    meta.strings = get_strings(&mut d, "package metadata strings")?;
    let n = d.count(8, "package metadata rows")?;
    if n != rows {
        return Err(invalid(format!(
            "package metadata has {n} rows, the package table {rows}"
        )));
    }
    let strings = meta.strings.len();
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        let flags = d.u8("package metadata flags")?;
        if flags >> 2 != 0 {
            return Err(invalid(format!("package metadata flags {flags}")));
        }
        let mut f = [StrId(0); 7];
        for id in &mut f {
            *id = StrId(d.below(strings, "package metadata field")?);
        }
        rows.push(MetaRow::from_fields(flags & 1 != 0, flags & 2 != 0, f));
    }
    if !d.at_end() {
        return Err(invalid("bytes after the package metadata"));
    }
    meta.rows = rows.into();
    Ok(meta)
}

/// What ties the package sections to the rest, for a checked read: each
/// package's derivation is a derivation node, and each layer is acyclic.
pub(super) fn check(pg: &PackageGraph, kinds: &[NodeKind]) -> Result<(), SnapshotError> {
    for &d in &pg.drv {
        if d != NO_DRV && kinds.get(d as usize) != Some(&NodeKind::Derivation) {
            return Err(invalid(format!(
                "package derivation {d} is not a derivation node"
            )));
        }
    }
    for layer in GraphType::ALL.into_iter().filter_map(|ty| pg.layer(ty)) {
        match crate::dag::inputs_first(&layer.inputs, pg.len()) {
            // Kept, so that a query does not compute it again.
            Ok(order) => {
                let _ = layer.topo.set(order.into());
            }
            Err(_) => return Err(invalid("the package edges form a cycle")),
        }
    }
    Ok(())
}

/// A layer for hand-made tests of this module.
#[cfg(test)]
fn csr(rows: &[&[u32]]) -> crate::dag::Csr<PackageId> {
    use crate::dag::{Csr, NodeIndex};
    let (mut offsets, mut targets) = (vec![0], Vec::new());
    for r in rows {
        targets.extend(r.iter().map(|&t| PackageId::from_index(t as usize)));
        offsets.push(targets.len() as u32);
    }
    Csr::new(offsets, targets)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Found with the fuzz target `snapshot`: the package sections' string
    // lengths overflowed their sum as the main table's did.
    #[test]
    fn package_string_lengths_that_overflow_are_refused() {
        let mut e = Enc::default();
        e.var(2);
        e.var(1);
        e.var(u64::MAX);
        let err = get_strings(&mut Dec::new(&e.buf), "package strings").unwrap_err();
        assert!(err.to_string().contains("string table too large"), "{err}");
    }

    // Found with the fuzz target `tables` (fuzz/): a graph given an edge
    // table with no row wrote a snapshot that could not be read ("the
    // package nodes and an edge section disagree").
    #[test]
    fn edges_loaded_without_nodes_round_trip() {
        let mut pg = PackageGraph::default();
        pg.set_layer(GraphType::Package, Deferred::ready(Some(Layer::default())));
        let mut g = crate::build::build_graph(Default::default(), Vec::new()).unwrap();
        g.set_package_graph(pg);
        let [nodes, a, b, _] = encode(&g);
        let back = decode_graph(&nodes, [&a, &b], 0).unwrap();
        assert!(back.is_empty());
        assert!(back.has(GraphType::Package) && !back.has(GraphType::BagEmerged));
        assert_eq!(back.edge_count(GraphType::Package), 0);
    }

    #[test]
    fn layers_round_trip_and_bad_ids_are_refused() {
        let mut l = Layer {
            inputs: csr(&[&[1, 2], &[2], &[]]),
            how: Deferred::ready(EdgeUses {
                edge_uses: vec![0, 1, 0].into(),
                use_offsets: vec![0, 1, 3],
                uses: vec![
                    UseData {
                        label: StrId(0),
                        output: StrId(1),
                        kind: InputKind::Input,
                    },
                    UseData {
                        label: StrId(1),
                        output: StrId(1),
                        kind: InputKind::Implicit,
                    },
                    UseData {
                        label: StrId(0),
                        output: StrId(0),
                        kind: InputKind::PropagatedInput,
                    },
                ],
            }),
            ..Layer::default()
        };
        let mut strings = crate::strings::Interner::new();
        strings.intern("gcc");
        strings.intern("out");
        let mut pg = PackageGraph {
            strings: strings.finish(),
            drv: vec![0, 1, 2],
            names: vec![StrId(0); 3],
            versions: vec![StrId(1); 3],
            status: vec![Status::from_byte(0).unwrap(); 3],
            ..PackageGraph::default()
        };
        pg.set_layer(
            GraphType::BagEmerged,
            Deferred::ready(Some(std::mem::take(&mut l))),
        );
        let mut g = crate::build::build_graph(Default::default(), Vec::new()).unwrap();
        g.set_package_graph(pg);
        let [nodes, a, b, meta] = encode(&g);
        assert_eq!(a, [0]);
        assert_eq!(meta, [0]);
        let back = decode_graph(&nodes, [&a, &b], 3).unwrap();
        let orig = g.package_graph();
        let bag = GraphType::BagEmerged;
        let (x, y) = (back.layer(bag).unwrap(), orig.layer(bag).unwrap());
        assert_eq!(x.inputs.offsets[..], y.inputs.offsets[..]);
        assert_eq!(x.inputs.targets()[..], y.inputs.targets()[..]);
        let (x, y) = (x.how.get(), y.how.get());
        assert_eq!(
            (&x.edge_uses[..], &x.use_offsets, &x.uses),
            (&y.edge_uses[..], &y.use_offsets, &y.uses)
        );
        assert!(back.layer(GraphType::Package).is_none());
        assert!(!back.has(GraphType::Package) && back.has(GraphType::BagEmerged));
        assert_eq!(back.drv, orig.drv);
        // A graph of two nodes cannot hold derivation node 2.
        let err = decode_graph(&nodes, [&a, &b], 2).unwrap_err();
        assert!(
            err.to_string().contains("package derivation node 2"),
            "{err}"
        );
        // Truncated edges.
        let err = decode_graph(&nodes, [&a, &b[..b.len() - 1]], 3).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        // Edges without nodes, or where the nodes say there are none.
        assert!(decode_graph(&[0], [&a, &b], 3).is_err());
        let err = decode_graph(&nodes, [&b, &b], 3).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
        assert!(decode_graph(&[0], [&[0], &[0]], 3).unwrap().is_empty());
        // One row of metadata (with the empty string), for a table of two.
        let one = [1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode_meta(&one, 1).unwrap().rows.len(), 1);
        let err = decode_meta(&one, 2).unwrap_err().to_string();
        assert!(err.contains("has 1 rows, the package table 2"), "{err}");
    }
}
