//! The in-memory derivation graph: dense node ids, adjacency arrays in both
//! directions, interned strings.
//!
//! Nodes are every `.drv` path and every input source named by the loaded
//! derivations, numbered `0..n` in the byte order of their absolute paths
//! (so ids sort like paths and a path is found by binary search). Edges go
//! from a derivation to each of its inputs — input derivations, carrying the
//! output names used, and input sources — exactly the node and edge sets of
//! `guix graph -t derivation`. The graph is acyclic: a cycle is rejected when
//! the graph is built, and a topological order is kept for analyses that fold
//! over the graph (inputs come first).

use crate::blocks::Checked;
use crate::column::Col;
use crate::dag::{Csr, Dag, NodeIndex};
use crate::meta::StoreMeta;
use crate::package_graph::{GraphType, PackageGraph, PackageView};
use crate::package_meta::PackageMeta;
use crate::packages::PackageTable;
use crate::strings::{StrId, Strings};
use abovo_store::derivation::{DerivationKind, FixedOutput};
use abovo_store::store_path::{StoreDir, StorePath, output_path_name};
use std::sync::OnceLock;

mod drv;
mod edge_outputs;
mod facts;
mod records;

pub(crate) use crate::deferred::Deferred;
pub(crate) use drv::{DrvColumns, DrvData, NO_DRV, OutPath, OutputData};
#[cfg(test)]
pub(crate) use facts::FACT_BUILTIN;
pub(crate) use facts::{FACT_FIXED, NodeFacts, NodeOutputs, flags_of, valid_flags};
#[cfg(test)]
pub(crate) use records::SATURATED;
pub(crate) use records::{ReadRecord, Record, Records};

/// A node of a [`Graph`]: an index into its node arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[repr(transparent)]
pub struct NodeId(pub u32);

crate::pod_u32!(NodeId);

impl NodeId {
    /// The id as an array index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl NodeIndex for NodeId {
    fn index(self) -> usize {
        self.0 as usize
    }

    fn from_index(i: usize) -> NodeId {
        NodeId(i as u32)
    }
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// A loaded derivation (`.drv`).
    Derivation,
    /// An input source: a store item that no derivation here builds.
    Source,
    /// A `.drv` that a loaded derivation names as input but that was not
    /// loaded (absent from the store directory or tarball).
    Missing,
}

impl NodeKind {
    /// Its code in snapshots: 0, 1, 2 in the order above.
    pub(crate) fn code(self) -> u8 {
        match self {
            NodeKind::Derivation => 0,
            NodeKind::Source => 1,
            NodeKind::Missing => 2,
        }
    }

    /// The kind of a code, `None` for a code no kind has.
    pub(crate) fn from_code(code: u8) -> Option<NodeKind> {
        match code {
            0 => Some(NodeKind::Derivation),
            1 => Some(NodeKind::Source),
            2 => Some(NodeKind::Missing),
            _ => None,
        }
    }
}

/// The columns of a graph as its source gives them (a load of `.drv`
/// files or a snapshot); [`Graph`] adds what is derived from them.
#[derive(Debug)]
pub(crate) struct Columns {
    pub(crate) store: StoreDir,
    pub(crate) strings: Strings,
    /// Per node, the nix32 hash part of its path.
    pub(crate) hash_parts: Checked<[u8; 32]>,
    pub(crate) names: Col<StrId>,
    /// Per node, [`NodeKind::code`].
    pub(crate) kinds: Col<u8>,
    /// Derivation facts (decoded on first use for the built-in snapshot).
    pub(crate) drv_columns: Deferred<DrvColumns>,
    pub(crate) inputs: Csr<NodeId>,
    /// Parallel to `inputs.targets`: index into `out_sets` (a graph has a
    /// few dozen distinct sets; more than 65,536 is refused). Read through
    /// [`Columns::edge_sets`], which checks the blocks of an in-place
    /// snapshot with the targets'.
    pub(crate) edge_outputs: Col<u16>,
    /// Distinct sets of output names used by edges; set 0 is the empty set
    /// (edges to sources).
    pub(crate) out_sets: Vec<Vec<StrId>>,
    /// Per node, what a query asks of its derivation most (its system,
    /// whether it is fixed-output), when the source gives it apart from the
    /// derivation facts (an in-place snapshot of version 4), so that
    /// resolving a name does not decode every derivation.
    pub(crate) facts: Option<NodeFacts>,
    /// What the source stores of what a graph otherwise derives from its
    /// edges (an in-place snapshot of version 5 or later): read on first use
    /// instead of computed.
    pub(crate) stored: Option<Stored>,
}

impl Columns {
    /// The output sets of the edges in `range` (as [`Csr::range`] gives
    /// a node's), checked with the targets they run parallel to; none
    /// when their block is damaged.
    pub(crate) fn edge_sets(&self, range: std::ops::Range<usize>) -> &[u16] {
        match self.inputs.ensure(range.clone()) {
            true => self.edge_outputs.get(range).unwrap_or_default(),
            false => &[],
        }
    }
}

/// Reverse edges and an inputs-first order of a graph of `N`s as a source
/// stores them, each read (and checked) on first use; `None` when the
/// stored one is damaged, and the graph then computes it.
pub(crate) struct Stored<N: bytemuck::Pod = NodeId> {
    /// The transpose of the input rows.
    pub(crate) dependents: Box<dyn Fn() -> Option<Csr<N>> + Send + Sync>,
    /// Every node once, inputs first.
    pub(crate) topo: Box<dyn Fn() -> Option<Col<N>> + Send + Sync>,
}

impl<N: bytemuck::Pod> std::fmt::Debug for Stored<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stored")
    }
}

/// A derivation graph. See the [module documentation](self).
#[derive(Debug)]
pub struct Graph {
    /// Nodes, edges and derivation facts, as loaded.
    pub(crate) columns: Columns,
    /// The transpose of `inputs`, built on first use.
    pub(crate) dependents: OnceLock<Csr<NodeId>>,
    /// Inputs-first order; computed (and the graph checked acyclic) when the
    /// graph is built, or on first use for the trusted built-in snapshot.
    pub(crate) topo: OnceLock<Col<NodeId>>,
    pub(crate) packages: PackageTable,
    /// What `guix show` says of each row of `packages` (decoded on first
    /// use for the built-in snapshot).
    pub(crate) package_meta: Deferred<PackageMeta>,
    /// The package graphs (decoded on first use for the built-in
    /// snapshot).
    pub(crate) package_graph: Deferred<PackageGraph>,
    /// Store metadata (decoded on first use for the built-in snapshot).
    pub(crate) meta: Deferred<StoreMeta>,
    pub(crate) description: String,
    pub(crate) output_index: OnceLock<rustc_hash::FxHashMap<[u8; 32], NodeId>>,
}

/// A derivation node of a graph, with its recorded facts.
#[derive(Debug, Clone, Copy)]
pub struct DerivationNode<'g> {
    graph: &'g Graph,
    node: NodeId,
    data: &'g DrvData,
    /// Its outputs and kept environment (from the graph's columns, or
    /// from its record read alone).
    outputs: &'g [OutputData],
    env: &'g [(StrId, StrId)],
}

/// One output of a derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputInfo<'g> {
    /// The output name (`out`, `lib`, …).
    pub name: &'g str,
    /// Its recorded store path; `None` where the `.drv` has none.
    pub path: Option<StorePath>,
}

/// One edge from a derivation to an input.
#[derive(Debug, Clone, Copy)]
pub struct Edge<'g> {
    /// The derivation that uses the input.
    pub from: NodeId,
    /// The input: a derivation (or missing one) or a source.
    pub to: NodeId,
    graph: &'g Graph,
    set: u32,
}

impl<'g> Edge<'g> {
    /// The output names of the input that are used; empty for a source.
    pub fn outputs(&self) -> impl ExactSizeIterator<Item = &'g str> + 'g {
        let g = self.graph;
        let set = g.columns.out_sets.get(self.set as usize);
        set.map_or(&[][..], Vec::as_slice)
            .iter()
            .map(move |&s| g.columns.strings.get(s))
    }

    /// Which set of output names the edge uses: edges with the same id
    /// use the same names (a graph has a few such sets for hundreds of
    /// thousands of edges), so that a writer can render each set once.
    pub fn outputs_id(&self) -> u32 {
        self.set
    }
}

impl Graph {
    /// The store directory of every path in the graph.
    pub fn store_dir(&self) -> &StoreDir {
        &self.columns.store
    }

    /// A one-line description of where the graph came from (shown in reports,
    /// since every answer names the graph it was computed on).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Sets the description.
    pub fn set_description(&mut self, description: impl Into<String>) {
        self.description = description.into();
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.columns.kinds.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.columns.kinds.is_empty()
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.columns.inputs.edge_count()
    }

    /// Every node id, in path order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = NodeId> + use<> {
        (0..self.columns.kinds.len() as u32).map(NodeId)
    }

    /// The derivation columns (decoding them on first use).
    pub(crate) fn drv_columns(&self) -> &DrvColumns {
        self.columns.drv_columns.get()
    }

    /// The number of loaded derivations: counted in the node kinds while
    /// the derivation facts are not decoded (`abovo index` says how many
    /// there are without decoding them), and in the facts once decoded
    /// (none, when their section turned out damaged).
    pub fn derivation_count(&self) -> usize {
        match self.columns.drv_columns.decoded() {
            Some(c) => c.drvs.len(),
            None => {
                let derivation = NodeKind::Derivation.code();
                self.columns
                    .kinds
                    .iter()
                    .filter(|&&k| k == derivation)
                    .count()
            }
        }
    }

    /// Every loaded derivation, in path order.
    pub fn derivations(&self) -> impl ExactSizeIterator<Item = DerivationNode<'_>> {
        let columns = self.drv_columns();
        columns
            .drvs
            .iter()
            .map(|data| DerivationNode::of_columns(self, columns, data))
    }

    /// What node `n` is.
    pub fn kind(&self, n: NodeId) -> NodeKind {
        // Codes are checked when the column is made.
        NodeKind::from_code(self.columns.kinds[n.index()]).unwrap_or(NodeKind::Missing)
    }

    /// The derivation at `n`, or `None` for sources and missing derivations.
    /// Where the source can, its record alone is read (once), until so
    /// many were that decoding the rest at once is cheaper; otherwise
    /// every derivation is decoded at the first one asked for.
    pub fn derivation(&self, n: NodeId) -> Option<DerivationNode<'_>> {
        let records = self.columns.facts.as_ref().and_then(|f| f.records.as_ref());
        let records = records.filter(|r| !r.saturated());
        if let (None, Some(records)) = (self.columns.drv_columns.decoded(), records) {
            let r = records.get(n)?;
            return Some(DerivationNode {
                graph: self,
                node: n,
                data: &r.data,
                outputs: &r.outputs,
                env: &r.env,
            });
        }
        let columns = self.drv_columns();
        let slot = *columns.drv_slot.get(n.index())?;
        let data = columns.drvs.get(slot as usize)?;
        Some(DerivationNode::of_columns(self, columns, data))
    }

    /// The store path name of `n` (after the hash part), e.g. `hello-2.12.2.drv`.
    pub fn name(&self, n: NodeId) -> &str {
        self.columns.strings.get(self.columns.names[n.index()])
    }

    /// The interned id of `n`'s name: two nodes of one graph have the same
    /// name exactly when their ids are equal, so an index by name can be
    /// keyed by these without reading any text.
    pub fn name_id(&self, n: NodeId) -> StrId {
        self.columns.names[n.index()]
    }

    /// The 32-character hash part of `n`.
    pub fn hash_part(&self, n: NodeId) -> &str {
        // Hash parts are validated nix32 (ASCII) when the graph is built or read.
        let bytes = self.columns.hash_parts.get(n.index());
        bytes
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// The store path of `n`.
    pub fn path(&self, n: NodeId) -> StorePath {
        // Only a damaged in-place snapshot has no hash part (and the
        // program told of it stops before it answers).
        let hash_part = self
            .columns
            .hash_parts
            .get(n.index())
            .unwrap_or(&[b'0'; 32]);
        path_from_parts(hash_part, self.name(n))
    }

    /// `<hash>-<name>` of `n`.
    pub fn base_name(&self, n: NodeId) -> String {
        format!("{}-{}", self.hash_part(n), self.name(n))
    }

    /// The absolute path of `n`, e.g. `/gnu/store/…-hello-2.12.2.drv`.
    pub fn display_path(&self, n: NodeId) -> String {
        // Pushed, not formatted: an audit makes one per seed.
        let (store, hash, name) = (self.columns.store.as_str(), self.hash_part(n), self.name(n));
        let mut s = String::with_capacity(store.len() + hash.len() + name.len() + 2);
        for part in [store, "/", hash, "-", name] {
            s.push_str(part);
        }
        s
    }

    /// A short label for people: the name without `.drv` for derivations,
    /// the name for sources.
    pub fn label(&self, n: NodeId) -> &str {
        let name = self.name(n);
        name.strip_suffix(".drv").unwrap_or(name)
    }

    /// The inputs of `n` (input derivations and sources), sorted by id;
    /// empty for sources.
    pub fn inputs(&self, n: NodeId) -> &[NodeId] {
        self.columns.inputs.neighbours(n)
    }

    /// The edges from `n` to its inputs, with the outputs each one uses.
    pub fn input_edges(&self, n: NodeId) -> impl ExactSizeIterator<Item = Edge<'_>> {
        let range = self.columns.inputs.range(n);
        // Both read as none when their block is damaged (checked together).
        let (targets, sets) = (
            self.columns.inputs.neighbours(n),
            self.columns.edge_sets(range),
        );
        targets.iter().zip(sets).map(move |(&to, &set)| Edge {
            from: n,
            to,
            graph: self,
            set: set.into(),
        })
    }

    /// The edge `from -> to`, if there is one.
    pub fn edge(&self, from: NodeId, to: NodeId) -> Option<Edge<'_>> {
        let range = self.columns.inputs.range(from);
        let i = self
            .columns
            .inputs
            .neighbours(from)
            .binary_search(&to)
            .ok()?;
        Some(Edge {
            from,
            to,
            graph: self,
            set: (*self.columns.edge_sets(range).get(i)?).into(),
        })
    }

    /// The derivations that have `n` as a direct input, sorted by id.
    pub fn dependents(&self, n: NodeId) -> &[NodeId] {
        self.dependent_rows().neighbours(n)
    }

    /// The transpose of the input rows: stored by the source, else built
    /// on first use.
    pub(crate) fn dependent_rows(&self) -> &Csr<NodeId> {
        self.dependents.get_or_init(|| {
            let stored = self.columns.stored.as_ref().and_then(|s| (s.dependents)());
            stored.unwrap_or_else(|| self.columns.inputs.transpose(self.len()))
        })
    }

    /// Every node, inputs before the derivations that use them.
    pub fn topological_order(&self) -> &[NodeId] {
        self.topo.get_or_init(|| {
            if let Some(order) = self.columns.stored.as_ref().and_then(|s| (s.topo)()) {
                return order;
            }
            crate::build::topological_order(self)
                .unwrap_or_else(|_| self.nodes().collect())
                .into()
        })
    }

    /// The node of a store path, if it is in the graph.
    pub fn lookup(&self, path: &StorePath) -> Option<NodeId> {
        self.lookup_parts(path.hash_part_bytes(), path.name())
    }

    /// The node of an absolute path in this graph's store directory.
    pub fn lookup_str(&self, path: &str) -> Option<NodeId> {
        self.lookup(&self.columns.store.parse(path).ok()?)
    }

    pub(crate) fn lookup_parts(&self, hash_part: &[u8; 32], name: &str) -> Option<NodeId> {
        // A binary search that reads (and so checks) only what it probes.
        let hashes = &self.columns.hash_parts;
        let (mut low, mut high) = (0, hashes.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match hashes.get(mid) {
                Some(h) if h < hash_part => low = mid + 1,
                Some(_) => high = mid,
                None => return None,
            }
        }
        (low..hashes.len())
            .take_while(|&i| hashes.get(i) == Some(hash_part))
            .map(|i| NodeId(i as u32))
            .find(|&n| self.name(n) == name)
    }

    /// The derivation that has `path` as an output, and the output's name.
    /// Several fixed-output derivations can promise the same content (the
    /// same file fetched from other URLs); the first in path order is given.
    pub fn lookup_output(&self, path: &StorePath) -> Option<(NodeId, &str)> {
        let index = self.output_index.get_or_init(|| {
            let mut map = rustc_hash::FxHashMap::default();
            for d in self.derivations() {
                for o in d.outputs() {
                    if let Some(p) = o.path {
                        map.entry(*p.hash_part_bytes()).or_insert(d.node());
                    }
                }
                if let Some(p) = d.fixed_output_path() {
                    map.entry(*p.hash_part_bytes()).or_insert(d.node());
                }
            }
            map
        });
        let node = *index.get(path.hash_part_bytes())?;
        let drv = self.derivation(node)?;
        if let Some(o) = drv.outputs().find(|o| o.path.as_ref() == Some(path)) {
            return Some((node, o.name));
        }
        (drv.fixed_output_path().as_ref() == Some(path)).then_some((node, "out"))
    }

    /// The package table (empty when none was loaded).
    pub fn packages(&self) -> &PackageTable {
        &self.packages
    }

    /// The store metadata (empty when none was loaded).
    pub fn meta(&self) -> &StoreMeta {
        self.meta.get()
    }

    /// The NAR size of `n` when the store metadata has it.
    pub fn nar_size(&self, n: NodeId) -> Option<u64> {
        self.meta().nar_size(n)
    }

    /// Attaches a package table (rows are matched to nodes by `.drv` path).
    /// The package metadata, kept per row of the table, goes with the old
    /// table.
    pub fn set_packages(&mut self, packages: PackageTable) {
        let mut packages = packages;
        packages.attach(self);
        self.packages = packages;
        self.package_meta = Deferred::ready(PackageMeta::default());
    }

    /// The metadata of the package table's rows (empty when none was
    /// loaded).
    pub fn package_meta(&self) -> &PackageMeta {
        self.package_meta.get()
    }

    /// Attaches package metadata, whose rows are those of the package
    /// table (see [`PackageMeta::read`]).
    pub fn set_package_meta(&mut self, meta: PackageMeta) {
        self.package_meta = Deferred::ready(meta);
    }

    /// The package graphs (empty when no package-level edges were loaded).
    pub fn package_graph(&self) -> &PackageGraph {
        self.package_graph.get()
    }

    /// The package graph of `ty`, ready for queries; `None` when its edges
    /// were not loaded.
    pub fn package_view(&self, ty: GraphType) -> Option<PackageView<'_>> {
        self.package_graph().view(self, ty)
    }

    /// Attaches package graphs made for this graph
    /// ([`crate::package_graph::read`]).
    pub fn set_package_graph(&mut self, packages: PackageGraph) {
        self.package_graph = Deferred::ready(packages);
    }

    /// Attaches store metadata.
    pub fn set_meta(&mut self, meta: StoreMeta) {
        self.meta = Deferred::ready(meta);
    }

    /// The interned string table.
    pub fn strings(&self) -> &Strings {
        &self.columns.strings
    }
}

/// The derivation graph as the [queries](crate::query) see it: input
/// sources can be hidden, and a walk can stop at fixed-output derivations.
impl Dag for Graph {
    type Node = NodeId;

    fn node_count(&self) -> usize {
        self.len()
    }

    fn inputs(&self, n: NodeId) -> &[NodeId] {
        Graph::inputs(self, n)
    }

    fn dependents(&self, n: NodeId) -> &[NodeId] {
        Graph::dependents(self, n)
    }

    fn topological_order(&self) -> &[NodeId] {
        Graph::topological_order(self)
    }

    fn keeps(&self, walk: &crate::query::Walk, n: NodeId) -> bool {
        !(walk.hide_sources && self.kind(n) == NodeKind::Source)
    }

    fn passes(&self, walk: &crate::query::Walk, n: NodeId) -> bool {
        !(walk.stop_at_fixed && self.is_fixed_output(n))
    }
}

pub(crate) fn path_from_parts(hash_part: &[u8; 32], name: &str) -> StorePath {
    // Both parts were validated when the graph was built or read.
    let hash = std::str::from_utf8(hash_part).unwrap_or("");
    StorePath::from_base_name(&format!("{hash}-{name}")).unwrap_or_else(|_| unreachable_path())
}

#[cold]
fn unreachable_path() -> StorePath {
    // A validated graph never gets here; a fixed dummy beats a panic.
    StorePath::from_base_name("00000000000000000000000000000000-invalid")
        .unwrap_or_else(|_| unreachable_path())
}

impl<'g> DerivationNode<'g> {
    /// The derivation `data` of the graph's decoded `columns`.
    fn of_columns(graph: &'g Graph, columns: &'g DrvColumns, data: &'g DrvData) -> Self {
        let ((a, b), (c, d)) = (data.outputs, data.env);
        DerivationNode {
            graph,
            node: data.node,
            data,
            outputs: columns
                .outputs
                .get(a as usize..b as usize)
                .unwrap_or_default(),
            env: columns.env.get(c as usize..d as usize).unwrap_or_default(),
        }
    }

    /// Its node.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The graph it is in.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// The `.drv` store path.
    pub fn path(&self) -> StorePath {
        self.graph.path(self.node)
    }

    /// The derivation name: the `.drv` name without `.drv`.
    pub fn name(&self) -> &'g str {
        let name = self.graph.name(self.node);
        name.strip_suffix(".drv").unwrap_or(name)
    }

    /// The system type, e.g. `x86_64-linux`.
    pub fn system(&self) -> &'g str {
        self.graph.columns.strings.get(self.data.system)
    }

    /// The builder: a store path or `builtin:…`.
    pub fn builder(&self) -> &'g str {
        self.graph.columns.strings.get(self.data.builder)
    }

    /// The built-in builder's name (`download`, `git-download`) when the
    /// daemon itself builds this derivation.
    pub fn builtin(&self) -> Option<&'g str> {
        self.builder()
            .strip_prefix(abovo_store::derivation::BUILTIN_PREFIX)
    }

    /// Whether it is a fixed-output derivation.
    pub fn is_fixed_output(&self) -> bool {
        self.data.fixed.is_some()
    }

    /// The kind of its outputs: input-addressed or fixed (paths known
    /// before the build), or Nix's deferred, floating content-addressed or
    /// impure (paths known only after it).
    pub fn kind(&self) -> DerivationKind {
        self.data.kind
    }

    /// Whether it is impure (Nix's `__impure`): its output depends on more
    /// than its inputs, as a fixed output's does, but no hash pins it.
    pub fn is_impure(&self) -> bool {
        self.data.kind == DerivationKind::Impure
    }

    /// The pinned content hash of a fixed-output derivation.
    pub fn fixed_output(&self) -> Option<FixedOutput> {
        self.data.fixed
    }

    /// The output path of a fixed-output derivation: the recorded one, or
    /// when none is recorded, the one its hash gives.
    pub fn fixed_output_path(&self) -> Option<StorePath> {
        self.data.fixed?;
        self.output_path("out")
            .or_else(|| self.computed_fixed_path())
    }

    /// The outputs, sorted by name.
    pub fn outputs(&self) -> impl ExactSizeIterator<Item = OutputInfo<'g>> + 'g {
        let g = self.graph;
        let this = *self;
        self.outputs.iter().map(move |o| OutputInfo {
            name: g.columns.strings.get(o.name),
            path: match o.path {
                OutPath::None => None,
                OutPath::Stored(h, n) => Some(path_from_parts(&h, g.columns.strings.get(n))),
                OutPath::Fixed => this.computed_fixed_path(),
            },
        })
    }

    /// The path the fixed output's hash gives: stored by the source (an
    /// in-place snapshot of version 8), else computed.
    fn computed_fixed_path(&self) -> Option<StorePath> {
        self.data.fixed?;
        let stored = self.graph.stored_fixed_path(self.node, self.name());
        stored.or_else(|| self.hashed_fixed_path())
    }

    /// The hash part of [`DerivationNode::computed_fixed_path`].
    fn computed_fixed_hash_part(&self) -> Option<[u8; 32]> {
        self.data.fixed?;
        let stored = self.graph.stored_fixed_hash_part(self.node);
        stored.or_else(|| self.hashed_fixed_path().map(|p| *p.hash_part_bytes()))
    }

    /// The hash part of [`DerivationNode::fixed_output_path`], without
    /// making the path: what tells store items apart, for a caller that
    /// compares thousands of them (the seeds of a trust report).
    pub fn fixed_output_hash_part(&self) -> Option<[u8; 32]> {
        self.data.fixed?;
        self.output_hash_part("out")
            .or_else(|| self.computed_fixed_hash_part())
    }

    /// The hash part of [`DerivationNode::output_path`] of `name`, without
    /// making the path.
    pub fn output_hash_part(&self, name: &str) -> Option<[u8; 32]> {
        let strings = &self.graph.columns.strings;
        let output = self.outputs.iter().find(|o| strings.get(o.name) == name)?;
        match output.path {
            OutPath::None => None,
            OutPath::Stored(hash_part, _) => Some(hash_part),
            OutPath::Fixed => self.computed_fixed_hash_part(),
        }
    }

    /// The path the fixed output's hash gives, computed (two SHA-256).
    pub(crate) fn hashed_fixed_path(&self) -> Option<StorePath> {
        let fixed = self.data.fixed?;
        self.graph
            .columns
            .store
            .make_fixed_output_path(self.name(), fixed.recursive, &fixed.hash)
            .ok()
    }

    /// The recorded path of output `name`.
    pub fn output_path(&self, name: &str) -> Option<StorePath> {
        self.outputs().find(|o| o.name == name).and_then(|o| o.path)
    }

    /// The store name output `output` gets (`name` or `name-output`).
    pub fn output_name(&self, output: &str) -> String {
        output_path_name(self.name(), output)
    }

    /// A kept environment variable. Fixed-output derivations keep every
    /// variable except their output's (so `url`, `commit`, `svn url`, …);
    /// other derivations keep none.
    pub fn env(&self, key: &str) -> Option<&'g str> {
        self.env_vars().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every kept environment variable, sorted by name.
    pub fn env_vars(&self) -> impl ExactSizeIterator<Item = (&'g str, &'g str)> + 'g {
        let g = self.graph;
        self.env
            .iter()
            .map(move |&(k, v)| (g.columns.strings.get(k), g.columns.strings.get(v)))
    }

    /// The input edges.
    pub fn input_edges(&self) -> impl ExactSizeIterator<Item = Edge<'g>> {
        self.graph.input_edges(self.node)
    }
}
