//! The package graphs of Guix, beside the derivation graph: what `guix
//! graph` draws with `--type package` (its default: packages and their
//! explicit inputs, native inputs and propagated inputs) and with `--type
//! bag-emerged` (the same with the implicit inputs a build system adds,
//! such as GCC and Coreutils, except that the standard packages of
//! `gnu-build-system` are drawn without their own inputs).
//!
//! Why both levels matter: a derivation graph flattens propagated inputs
//! (R's Seurat's derivation uses Pandoc's directly, though Seurat reaches
//! it through two other packages) and adds what the builder needs (the
//! Guile that runs the build script, module trees), so "which package
//! brings X in" is a question only the package graphs answer.
//!
//! # Nodes
//!
//! A node is a package object, identified by its derivation (as `guix
//! graph -t bag-emerged` identifies them; two package objects with one
//! derivation, which Guix's `package` type would draw twice, are one node
//! here). It has a name and version (`name@version`, as `guix graph`
//! labels it) and a [`Status`]: public (a package `guix show` knows),
//! hidden (bound to a public variable but hidden from the user
//! interface), private (reachable only as an input), with marks for the
//! standard packages of `gnu-build-system`. Nodes are numbered in the
//! order of their derivations' node ids in the derivation graph (path
//! order), the few whose derivation the graph lacks last; a [`PackageId`]
//! is an index into them.
//!
//! # Edges
//!
//! Each [`GraphType`] has its own edges (a layer): from a package to the
//! packages it takes as inputs, each edge carrying how: the input's label,
//! the output used and the [`InputKind`] (several when a package takes the
//! same input twice, say `out` and `static`). Inputs that are not packages
//! (origins, files) are left out, as `guix graph` leaves them out. The
//! same queries as for derivations ([`crate::query`]) run on a
//! [`PackageView`], which pairs a layer with the derivation graph.
//!
//! # Where the data comes from
//!
//! Guix itself (`guix repl`) writes the two edge tables of a corpus
//! (`package-edges.tsv`, `bag-emerged-edges.tsv`; see [`read`](fn@read)); a
//! snapshot stores them in sections of their own.

mod read;

pub use read::read;

use crate::dag::{Csr, Dag, NodeIndex};
use crate::graph::{Deferred, Graph, NodeId, path_from_parts};
use crate::strings::{StrId, Strings};
use abovo_store::store_path::StorePath;
use std::sync::OnceLock;

/// A node of a package graph: an index into its node arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[repr(transparent)]
pub struct PackageId(pub u32);

crate::pod_u32!(PackageId);

impl NodeIndex for PackageId {
    fn index(self) -> usize {
        self.0 as usize
    }

    fn from_index(i: usize) -> PackageId {
        PackageId(i as u32)
    }
}

/// Which package graph: the `--type` of `guix graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GraphType {
    /// `package`: packages and their explicit inputs (`guix graph`'s
    /// default).
    Package,
    /// `bag-emerged`: packages with the implicit inputs of their build
    /// systems.
    BagEmerged,
}

impl GraphType {
    /// Both, in the order of a snapshot's sections.
    pub const ALL: [GraphType; 2] = [GraphType::Package, GraphType::BagEmerged];

    /// The name `guix graph --type` gives it.
    pub fn name(self) -> &'static str {
        match self {
            GraphType::Package => "package",
            GraphType::BagEmerged => "bag-emerged",
        }
    }

    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// How visible a package is to Guix's user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    /// Bound to a public variable and shown (`guix show`, `guix search`).
    Public,
    /// Public, but not for the system the data was made for.
    PublicExcluded,
    /// Bound to a public variable but hidden from the user interface.
    Hidden,
    /// A package object that no public variable holds (made by a
    /// procedure, or private to a module): reachable only as an input.
    Private,
}

impl Visibility {
    /// Every visibility, from the most visible.
    pub const ALL: [Visibility; 4] = [
        Visibility::Public,
        Visibility::PublicExcluded,
        Visibility::Hidden,
        Visibility::Private,
    ];

    /// Its name in the data and in JSON: `public`, `public-excluded`,
    /// `hidden`, `private`.
    pub fn name(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::PublicExcluded => "public-excluded",
            Visibility::Hidden => "hidden",
            Visibility::Private => "private",
        }
    }
}

/// What the data says of a package node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Status {
    /// How visible it is.
    pub visibility: Visibility,
    /// One of the standard packages of `gnu-build-system` (which
    /// `bag-emerged` draws without their own inputs).
    pub bootstrap: bool,
    /// Another package object with the derivation of a standard package
    /// (whose inputs `bag-emerged` does draw).
    pub bootstrap_alias: bool,
}

impl Status {
    /// Parses a status column: `public`, `public-excluded`, `hidden` or
    /// `private`, then `,bootstrap` or `,bootstrap-alias`. `Ok(None)` for
    /// the statuses of inputs that are not packages (`origin`,
    /// `file-like`, `file`).
    pub fn parse(text: &str) -> Result<Option<Status>, String> {
        let mut parts = text.split(',');
        let visibility = match parts.next().unwrap_or("") {
            "origin" | "file-like" | "file" => return Ok(None),
            name => match Visibility::ALL.into_iter().find(|v| v.name() == name) {
                Some(v) => v,
                None => return Err(format!("unknown status `{name}`")),
            },
        };
        let mut status = Status {
            visibility,
            bootstrap: false,
            bootstrap_alias: false,
        };
        for flag in parts {
            match flag {
                "bootstrap" => status.bootstrap = true,
                "bootstrap-alias" => status.bootstrap_alias = true,
                other => return Err(format!("unknown status mark `{other}`")),
            }
        }
        Ok(Some(status))
    }

    /// The status as one byte: the visibility in the low two bits, then
    /// the marks (what snapshots store).
    pub(crate) fn to_byte(self) -> u8 {
        (self.visibility as u8)
            | u8::from(self.bootstrap) << 2
            | u8::from(self.bootstrap_alias) << 3
    }

    /// The status of a byte written by [`Status::to_byte`].
    pub(crate) fn from_byte(b: u8) -> Option<Status> {
        if b >> 4 != 0 {
            return None;
        }
        let visibility = match b & 3 {
            0 => Visibility::Public,
            1 => Visibility::PublicExcluded,
            2 => Visibility::Hidden,
            _ => Visibility::Private,
        };
        Some(Status {
            visibility,
            bootstrap: b & 4 != 0,
            bootstrap_alias: b & 8 != 0,
        })
    }

    /// The more visible of two statuses of one derivation (two package
    /// objects can share it), with the marks of both.
    pub(crate) fn merge(self, other: Status) -> Status {
        Status {
            visibility: self.visibility.min(other.visibility),
            bootstrap: self.bootstrap || other.bootstrap,
            bootstrap_alias: self.bootstrap_alias || other.bootstrap_alias,
        }
    }
}

/// How a package takes an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// `inputs`.
    Input,
    /// `native-inputs`.
    NativeInput,
    /// `propagated-inputs`.
    PropagatedInput,
    /// Added by the build system (`bag-emerged` only).
    Implicit,
}

impl InputKind {
    /// The kind of a `kind` column.
    pub fn parse(text: &str) -> Option<InputKind> {
        Some(match text {
            "input" => InputKind::Input,
            "native-input" => InputKind::NativeInput,
            "propagated-input" => InputKind::PropagatedInput,
            "implicit" => InputKind::Implicit,
            _ => return None,
        })
    }

    /// Its name in the tables and in reports.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Input => "input",
            InputKind::NativeInput => "native-input",
            InputKind::PropagatedInput => "propagated-input",
            InputKind::Implicit => "implicit",
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<InputKind> {
        Some(match b {
            0 => InputKind::Input,
            1 => InputKind::NativeInput,
            2 => InputKind::PropagatedInput,
            3 => InputKind::Implicit,
            _ => return None,
        })
    }
}

/// How one input is taken: its label, the output used, and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct InputUse<'g> {
    /// The input's label in the package (usually the input's name).
    pub label: &'g str,
    /// The output of the input used (`out`, `lib`, `static`, …).
    pub output: &'g str,
    /// Which list of the package it is in.
    pub kind: InputKind,
}

/// The edges of one [`GraphType`]: rows of inputs per package node, and
/// how each edge is taken ([`EdgeUses`], read on first use: following
/// edges, as a trust report's package trails do, never needs them).
#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub(crate) inputs: Csr<PackageId>,
    /// How each edge is taken.
    pub(crate) how: Deferred<EdgeUses>,
    /// The reverse edges and an inputs-first order as an in-place
    /// snapshot stores them (format version 7), read on first use.
    pub(crate) stored: Option<crate::graph::Stored<PackageId>>,
    pub(crate) dependents: OnceLock<Csr<PackageId>>,
    pub(crate) topo: OnceLock<crate::column::Col<PackageId>>,
}

/// How the edges of a [`Layer`] are taken: per edge a set of uses (most
/// edges share a few sets).
#[derive(Debug, Default)]
pub(crate) struct EdgeUses {
    /// Parallel to the layer's edge targets: index into the use sets.
    pub(crate) edge_uses: crate::column::Col<u32>,
    /// Use set `i` is `uses[use_offsets[i]..use_offsets[i + 1]]`.
    pub(crate) use_offsets: Vec<u32>,
    pub(crate) uses: Vec<UseData>,
}

impl EdgeUses {
    /// The uses of edge `e` (none when the edge or its set is missing,
    /// as in a damaged snapshot's empty part).
    pub(crate) fn of_edge(&self, e: usize) -> &[UseData] {
        let set = self.edge_uses.get(e).map(|&s| s as usize);
        let range =
            set.and_then(|s| Some(*self.use_offsets.get(s)?..*self.use_offsets.get(s + 1)?));
        range
            .and_then(|r| self.uses.get(r.start as usize..r.end as usize))
            .unwrap_or_default()
    }
}

impl Layer {
    /// The transpose of the input rows of `n` package nodes: stored by
    /// the source, else built on first use.
    pub(crate) fn dependent_rows(&self, n: usize) -> &Csr<PackageId> {
        self.dependents.get_or_init(|| {
            let stored = self.stored.as_ref().and_then(|s| (s.dependents)());
            stored.unwrap_or_else(|| self.inputs.transpose(n))
        })
    }

    /// Every one of the `n` package nodes, inputs first: stored by the
    /// source, else computed on first use (once: a checked read that
    /// computes it to prove the layer acyclic keeps it).
    pub(crate) fn order(&self, n: usize) -> &[PackageId] {
        self.topo.get_or_init(|| {
            if let Some(order) = self.stored.as_ref().and_then(|s| (s.topo)()) {
                return order;
            }
            // Checked acyclic when the layer was read or decoded.
            crate::dag::inputs_first(&self.inputs, n)
                .unwrap_or_else(|_| (0..n as u32).map(PackageId).collect())
                .into()
        })
    }
}

/// One way of taking an input, with ids into the package strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct UseData {
    pub(crate) label: StrId,
    pub(crate) output: StrId,
    pub(crate) kind: InputKind,
}

/// The package nodes and the layers of edges over them. See the [module
/// documentation](self).
#[derive(Debug, Default)]
pub struct PackageGraph {
    /// Names, versions, labels and output names.
    pub(crate) strings: Strings,
    /// Per node: its derivation's node in the derivation graph, or
    /// [`NO_DRV`] for the nodes (last) whose derivation the graph lacks.
    pub(crate) drv: Vec<u32>,
    /// The `.drv` paths of the nodes whose derivation the graph lacks, in
    /// node order (they are the last `outside.len()` nodes).
    pub(crate) outside: Vec<StorePath>,
    pub(crate) names: Vec<StrId>,
    pub(crate) versions: Vec<StrId>,
    pub(crate) status: Vec<Status>,
    /// Whether the edges of each [`GraphType`] were loaded (known without
    /// decoding them).
    pub(crate) present: [bool; 2],
    /// The edges of each [`GraphType`] (`None` when not loaded), each
    /// decoded on first use for the built-in snapshot: a query of one type
    /// never decodes the other.
    pub(crate) layers: [Deferred<Option<Layer>>; 2],
}

/// [`PackageGraph::drv`] of a node whose derivation is not in the graph.
pub(crate) const NO_DRV: u32 = u32::MAX;

impl PackageGraph {
    /// The number of package nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there is no package node (no package data was loaded).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether the edges of `ty` were loaded.
    pub fn has(&self, ty: GraphType) -> bool {
        self.present[ty.slot()]
    }

    /// The edges of `ty`, when loaded (decoding them on first use).
    pub(crate) fn layer(&self, ty: GraphType) -> Option<&Layer> {
        if !self.has(ty) {
            return None;
        }
        self.layers[ty.slot()].get().as_ref()
    }

    /// Sets the edges of `ty`.
    pub(crate) fn set_layer(&mut self, ty: GraphType, layer: Deferred<Option<Layer>>) {
        self.present[ty.slot()] = true;
        self.layers[ty.slot()] = layer;
    }

    /// The number of edges of `ty` (0 when not loaded).
    pub fn edge_count(&self, ty: GraphType) -> usize {
        self.layer(ty).map_or(0, |l| l.inputs.edge_count())
    }

    /// The package node whose derivation is `drv`.
    pub fn by_drv(&self, drv: NodeId) -> Option<PackageId> {
        // Nodes with a derivation in the graph come first, in node order.
        let inside = &self.drv[..self.drv.len() - self.outside.len()];
        inside
            .binary_search(&drv.0)
            .ok()
            .map(|i| PackageId(i as u32))
    }

    /// The package node whose derivation has this path (also for the
    /// derivations the graph lacks).
    pub fn by_drv_path(&self, graph: &Graph, path: &StorePath) -> Option<PackageId> {
        if let Some(p) = graph.lookup(path).and_then(|n| self.by_drv(n)) {
            return Some(p);
        }
        let first = self.drv.len() - self.outside.len();
        self.outside
            .iter()
            .position(|p| p == path)
            .map(|i| PackageId((first + i) as u32))
    }

    /// Every package node, in id order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = PackageId> + use<> {
        (0..self.len() as u32).map(PackageId)
    }

    /// The package's name, e.g. `hello`.
    pub fn name(&self, p: PackageId) -> &str {
        self.strings.get(self.names[p.index()])
    }

    /// Its version, e.g. `2.12.2`.
    pub fn version(&self, p: PackageId) -> &str {
        self.strings.get(self.versions[p.index()])
    }

    /// `name@version`, as `guix graph` labels it.
    pub fn full_name(&self, p: PackageId) -> String {
        format!("{}@{}", self.name(p), self.version(p))
    }

    /// What the data says of it.
    pub fn status(&self, p: PackageId) -> Status {
        self.status[p.index()]
    }

    /// Its derivation's node in the derivation graph, when the graph has
    /// it.
    pub fn drv(&self, p: PackageId) -> Option<NodeId> {
        let d = self.drv[p.index()];
        (d != NO_DRV).then_some(NodeId(d))
    }

    /// The store path of its derivation.
    pub fn drv_path(&self, graph: &Graph, p: PackageId) -> StorePath {
        match self.drv(p) {
            Some(n) => graph.path(n),
            None => {
                let first = self.drv.len() - self.outside.len();
                self.outside
                    .get(p.index() - first)
                    .cloned()
                    .unwrap_or_else(|| path_from_parts(&[b'0'; 32], "invalid"))
            }
        }
    }

    /// The absolute path of its derivation, e.g.
    /// `/gnu/store/…-hello-2.12.2.drv`.
    pub fn display_drv_path(&self, graph: &Graph, p: PackageId) -> String {
        match self.drv(p) {
            Some(n) => graph.display_path(n),
            None => format!("{}/{}", graph.store_dir(), self.drv_path(graph, p)),
        }
    }

    /// The layer of `ty` paired with the derivation graph, for queries;
    /// `None` when its edges were not loaded.
    pub fn view<'g>(&'g self, graph: &'g Graph, ty: GraphType) -> Option<PackageView<'g>> {
        let layer = self.layer(ty)?;
        Some(PackageView {
            graph,
            packages: self,
            layer,
            ty,
        })
    }
}

/// One package graph ready for queries: a layer of edges, its package
/// nodes, and the derivation graph that names their derivations.
#[derive(Debug, Clone, Copy)]
pub struct PackageView<'g> {
    graph: &'g Graph,
    packages: &'g PackageGraph,
    layer: &'g Layer,
    ty: GraphType,
}

impl<'g> PackageView<'g> {
    /// Which graph it is.
    pub fn graph_type(&self) -> GraphType {
        self.ty
    }

    /// The derivation graph.
    pub fn derivations(&self) -> &'g Graph {
        self.graph
    }

    /// The package nodes.
    pub fn packages(&self) -> &'g PackageGraph {
        self.packages
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.layer.inputs.edge_count()
    }

    /// How `from` takes its input `to` (empty when it does not).
    pub fn uses(
        &self,
        from: PackageId,
        to: PackageId,
    ) -> impl ExactSizeIterator<Item = InputUse<'g>> + 'g {
        let l = self.layer;
        let range = l.inputs.range(from);
        let uses = l.inputs.targets()[range.clone()]
            .binary_search(&to)
            .map_or(&[][..], |i| l.how.get().of_edge(range.start + i));
        let strings = &self.packages.strings;
        uses.iter().map(move |u| InputUse {
            label: strings.get(u.label),
            output: strings.get(u.output),
            kind: u.kind,
        })
    }

    /// `name@version` of `p`.
    pub fn full_name(&self, p: PackageId) -> String {
        self.packages.full_name(p)
    }

    /// The absolute `.drv` path of `p`.
    pub fn display_drv_path(&self, p: PackageId) -> String {
        self.packages.display_drv_path(self.graph, p)
    }
}

impl Dag for PackageView<'_> {
    type Node = PackageId;

    fn node_count(&self) -> usize {
        self.packages.len()
    }

    fn inputs(&self, n: PackageId) -> &[PackageId] {
        self.layer.inputs.neighbours(n)
    }

    fn dependents(&self, n: PackageId) -> &[PackageId] {
        self.layer.dependent_rows(self.packages.len()).neighbours(n)
    }

    fn topological_order(&self) -> &[PackageId] {
        self.layer.order(self.packages.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_merge_and_round_trip_through_a_byte() {
        let s = Status::parse("private,bootstrap-alias").unwrap().unwrap();
        assert_eq!(s.visibility, Visibility::Private);
        assert!(s.bootstrap_alias && !s.bootstrap);
        assert_eq!(Status::parse("origin").unwrap(), None);
        assert_eq!(Status::parse("file-like").unwrap(), None);
        assert!(Status::parse("secret").unwrap_err().contains("`secret`"));
        assert!(Status::parse("public,odd").unwrap_err().contains("`odd`"));
        let p = Status::parse("public,bootstrap").unwrap().unwrap();
        let m = s.merge(p);
        assert_eq!(m.visibility, Visibility::Public);
        assert!(m.bootstrap && m.bootstrap_alias);
        for v in ["public", "public-excluded", "hidden", "private,bootstrap"] {
            let s = Status::parse(v).unwrap().unwrap();
            assert_eq!(Status::from_byte(s.to_byte()), Some(s));
        }
        assert_eq!(Status::from_byte(16), None);
        for v in Visibility::ALL {
            assert_eq!(Status::parse(v.name()).unwrap().unwrap().visibility, v);
            assert_eq!(serde_json::to_value(v).unwrap(), v.name());
        }
        for k in ["input", "native-input", "propagated-input", "implicit"] {
            let kind = InputKind::parse(k).unwrap();
            assert_eq!(kind.name(), k);
            assert_eq!(InputKind::from_byte(kind as u8), Some(kind));
        }
        assert_eq!(InputKind::parse("other"), None);
    }
}
