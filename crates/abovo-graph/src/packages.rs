//! The package table: which derivation each public package of the
//! distribution has (Guix's `packages.tsv`: name, version, derivation,
//! module).
//!
//! With a table, names resolve through it and `dependents` counts packages,
//! like `guix refresh -l`; without one, derivation names stand in.

use crate::column::Col;
use crate::error::LoadError;
use crate::graph::{Graph, NodeId};
use crate::tsv;
use crate::version::{compare_versions, is_version_prefix};
use abovo_store::store_path::{StoreDir, StorePath};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// One package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// The package name, e.g. `hello`.
    pub name: String,
    /// Its version, e.g. `2.12.2`.
    pub version: String,
    /// Its derivation.
    #[serde(skip)]
    pub derivation: StorePath,
    /// Where it is defined (a Guix module file), possibly empty.
    pub module: String,
}

impl Package {
    /// `name@version`, as Guix prints packages.
    pub fn full_name(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// The package table of a graph.
///
/// A table read from an in-place snapshot keeps its rows encoded in the
/// mapped file (an offset per row): names, versions and modules are read
/// from there as they are asked for ([`PackageTable::name`],
/// [`PackageTable::version`], [`PackageTable::module`]), and the rows as
/// [`Package`]s, with their derivation paths, are only made when
/// [`PackageTable::rows`] or [`PackageTable::packages_of`] is first
/// called; a query that resolves a name or two never pays for 30,000 rows.
#[derive(Debug, Clone, Default)]
pub struct PackageTable {
    /// The rows, made on first use when the table is encoded.
    rows: OnceLock<Vec<Package>>,
    /// Node of each row's derivation, once attached to a graph.
    nodes: Vec<Option<NodeId>>,
    /// Rows of each node, indexed on first use.
    by_node: OnceLock<RowsByNode>,
    /// The rows as a snapshot encodes them, when read from one in place.
    encoded: Option<Encoded>,
}

/// The rows of each node of a package table, in table order: a counting
/// sort of the rows by node, rows of node `n` at `rows[start[n]..start[n +
/// 1]]`. (A hash map of a vector per node took 2 ms to build for 30,000
/// rows, on the way of every answer that names each node's packages.)
#[derive(Debug, Clone, Default)]
struct RowsByNode {
    start: Vec<u32>,
    rows: Vec<u32>,
}

impl RowsByNode {
    /// Indexes the rows whose derivation `nodes` gives.
    fn new(nodes: &[Option<NodeId>]) -> RowsByNode {
        let len = nodes.iter().flatten().map(|n| n.index() + 1).max();
        let mut start = vec![0u32; len.unwrap_or(0) + 1];
        for n in nodes.iter().flatten() {
            start[n.index() + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        // Each node's start serves as its cursor while the rows are
        // placed, ending as the next node's start; then moved back.
        let mut rows = vec![0u32; nodes.iter().flatten().count()];
        for (i, n) in nodes.iter().enumerate() {
            if let Some(n) = n {
                let at = &mut start[n.index()];
                rows[*at as usize] = i as u32;
                *at += 1;
            }
        }
        start.rotate_right(1);
        start[0] = 0;
        RowsByNode { start, rows }
    }

    /// The rows of node `n`.
    fn of(&self, n: NodeId) -> &[u32] {
        let i = n.index();
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => self.rows.get(a as usize..b as usize).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// The rows of a package table as an in-place snapshot holds them, read
/// where they lie.
#[derive(Clone)]
pub(crate) struct Encoded {
    /// The package section (see [`crate::snapshot`]), checked when opened.
    bytes: Col<u8>,
    /// Where each row starts in `bytes`.
    at: Vec<u32>,
    /// The `.drv` path of a node of the graph.
    path: Arc<dyn Fn(NodeId) -> StorePath + Send + Sync>,
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("rows", &self.at.len())
            .finish()
    }
}

impl Encoded {
    /// Row `i`'s first `upto` fields, read in place (see
    /// [`crate::snapshot::package_fields`]).
    fn fields(&self, i: usize, upto: usize) -> crate::snapshot::PackageFields<'_> {
        let at = self.at.get(i).map_or(usize::MAX, |&a| a as usize);
        crate::snapshot::package_fields(self.bytes.get(at..).unwrap_or_default(), upto)
    }
}

impl PackageTable {
    /// A table of these rows.
    pub fn new(rows: Vec<Package>) -> PackageTable {
        PackageTable {
            rows: OnceLock::from(rows),
            ..PackageTable::default()
        }
    }

    /// A table read in place from a snapshot's package section `bytes`,
    /// whose rows start at `at` and name `nodes` (all checked by the
    /// caller); `path` gives the `.drv` path of a node.
    pub(crate) fn encoded(
        bytes: Col<u8>,
        at: Vec<u32>,
        nodes: Vec<Option<NodeId>>,
        path: Arc<dyn Fn(NodeId) -> StorePath + Send + Sync>,
    ) -> PackageTable {
        PackageTable {
            rows: OnceLock::new(),
            nodes,
            by_node: OnceLock::new(),
            encoded: Some(Encoded { bytes, at, path }),
        }
    }

    /// Reads `packages.tsv` (or `.tsv.zst`): a header line `name version
    /// derivation module`, then one package per line.
    pub fn read(path: &Path, store: &StoreDir) -> Result<PackageTable, LoadError> {
        let mut table = tsv::Table::open(path, &["name", "version", "derivation"])?;
        let path = table.path().to_owned();
        let mut rows = Vec::new();
        while let Some((line, fields)) = table.next_row()? {
            if fields.len() < 3 {
                return Err(tsv::bad(
                    &path,
                    line,
                    "expected at least 3 tab-separated fields",
                ));
            }
            let derivation = store.parse(fields[2]).map_err(|e| {
                tsv::bad(
                    &path,
                    line,
                    format!("bad derivation path: {}", tsv::clip(&e.to_string())),
                )
            })?;
            rows.push(Package {
                name: fields[0].to_owned(),
                version: fields[1].to_owned(),
                derivation,
                module: fields.get(3).copied().unwrap_or("").to_owned(),
            });
        }
        Ok(PackageTable::new(rows))
    }

    /// A table whose rows are already matched to nodes (snapshots store
    /// the node of each row).
    pub(crate) fn from_rows_and_nodes(rows: Vec<(Package, Option<NodeId>)>) -> PackageTable {
        let (rows, nodes): (Vec<Package>, Vec<Option<NodeId>>) = rows.into_iter().unzip();
        PackageTable {
            rows: OnceLock::from(rows),
            nodes,
            by_node: OnceLock::new(),
            encoded: None,
        }
    }

    /// The rows of each node.
    fn by_node(&self) -> &RowsByNode {
        self.by_node.get_or_init(|| RowsByNode::new(&self.nodes))
    }

    /// Matches rows to the nodes of `graph`.
    pub(crate) fn attach(&mut self, graph: &Graph) {
        let rows = std::mem::take(&mut self.rows)
            .into_inner()
            .unwrap_or_else(|| self.make_rows());
        self.nodes = rows.iter().map(|p| graph.lookup(&p.derivation)).collect();
        self.rows = OnceLock::from(rows);
        self.by_node = OnceLock::new();
        self.encoded = None;
    }

    /// The rows of an encoded table as [`Package`]s (none for a table
    /// that is not encoded).
    fn make_rows(&self) -> Vec<Package> {
        let Some(e) = &self.encoded else {
            return Vec::new();
        };
        (0..e.at.len())
            .map(|i| {
                let f = e.fields(i, usize::MAX);
                let derivation = match self.node(i) {
                    Some(n) => (e.path)(n),
                    None => StorePath::from_base_name(f.derivation)
                        .unwrap_or_else(|_| crate::graph::path_from_parts(&[b'0'; 32], "invalid")),
                };
                Package {
                    name: f.name.to_owned(),
                    version: f.version.to_owned(),
                    derivation,
                    module: f.module.to_owned(),
                }
            })
            .collect()
    }

    /// Whether the table has no row (no table was loaded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of packages.
    pub fn len(&self) -> usize {
        match &self.encoded {
            Some(e) => e.at.len(),
            None => self.rows().len(),
        }
    }

    /// Every package, in table order (made on first use for a table read
    /// in place: [`PackageTable::name`] and its kin read one field
    /// without).
    pub fn rows(&self) -> &[Package] {
        self.rows.get_or_init(|| self.make_rows())
    }

    /// The name of row `i` (empty past the end).
    pub fn name(&self, i: usize) -> &str {
        match (&self.encoded, self.rows.get()) {
            (Some(e), None) => e.fields(i, 1).name,
            _ => self.rows().get(i).map_or("", |p| p.name.as_str()),
        }
    }

    /// Whether row `i` is called `name` ([`PackageTable::name`] equal to
    /// it), read without checking the row's name as UTF-8: a name is
    /// resolved by asking this of all 30,000 rows.
    pub fn is_named(&self, i: usize, name: &str) -> bool {
        // Equal to a string's bytes, they are UTF-8.
        self.name_bytes(i) == name.as_bytes()
    }

    /// The bytes of [`PackageTable::name`], not checked as UTF-8 (for a
    /// table read in place): for a scan of every row that checks only the
    /// names it keeps.
    pub(crate) fn name_bytes(&self, i: usize) -> &[u8] {
        match (&self.encoded, self.rows.get()) {
            (Some(e), None) => {
                let at = e.at.get(i).map_or(usize::MAX, |&a| a as usize);
                crate::snapshot::package_name_bytes(e.bytes.get(at..).unwrap_or_default())
            }
            _ => self.name(i).as_bytes(),
        }
    }

    /// The version of row `i` (empty past the end).
    pub fn version(&self, i: usize) -> &str {
        match (&self.encoded, self.rows.get()) {
            (Some(e), None) => e.fields(i, 2).version,
            _ => self.rows().get(i).map_or("", |p| p.version.as_str()),
        }
    }

    /// The module of row `i` (empty when unknown or past the end).
    pub fn module(&self, i: usize) -> &str {
        match (&self.encoded, self.rows.get()) {
            (Some(e), None) => e.fields(i, usize::MAX).module,
            _ => self.rows().get(i).map_or("", |p| p.module.as_str()),
        }
    }

    /// `name@version` of row `i`, as Guix prints packages.
    pub fn full_name(&self, i: usize) -> String {
        format!("{}@{}", self.name(i), self.version(i))
    }

    /// The node of row `i`, when its derivation is in the graph.
    pub fn node(&self, i: usize) -> Option<NodeId> {
        self.nodes.get(i).copied().flatten()
    }

    /// The rows whose derivation is node `n` (several packages can share one).
    pub fn packages_of(&self, n: NodeId) -> impl Iterator<Item = &Package> {
        let rows = self.rows();
        self.rows_of(n).map(move |i| &rows[i])
    }

    /// The indices of the rows whose derivation is node `n`, in table
    /// order.
    pub fn rows_of(&self, n: NodeId) -> impl Iterator<Item = usize> + '_ {
        self.by_node().of(n).iter().map(|&i| i as usize)
    }

    /// Whether node `n` is the derivation of some package.
    pub fn is_package(&self, n: NodeId) -> bool {
        !self.by_node().of(n).is_empty()
    }

    /// The rows of the packages called `name` whose version starts with
    /// `version` (component by component, as Guix's
    /// `find-packages-by-name` matches it), newest version first, rows of
    /// one version in table order.
    pub fn find(&self, name: &str, version: Option<&str>) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.len())
            .filter(|&i| {
                self.is_named(i, name)
                    && version.is_none_or(|v| is_version_prefix(v, self.version(i)))
            })
            .collect();
        rows.sort_by(|&a, &b| compare_versions(self.version(b), self.version(a)).then(a.cmp(&b)));
        rows
    }

    /// How many rows have a derivation that is not in the graph.
    pub fn unmatched(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_none()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Each node's rows are those whose node it is, in table order;
        /// a node no row has (or past every row's) has none.
        #[test]
        fn rows_by_node_are_the_rows_of_each_node(
            nodes in proptest::collection::vec(proptest::option::of(0u32..40), 0..200),
        ) {
            let nodes: Vec<Option<NodeId>> = nodes.into_iter().map(|n| n.map(NodeId)).collect();
            let index = RowsByNode::new(&nodes);
            for n in 0..45u32 {
                let expected: Vec<u32> = (0..nodes.len() as u32)
                    .filter(|&i| nodes[i as usize] == Some(NodeId(n)))
                    .collect();
                prop_assert_eq!(index.of(NodeId(n)), &expected[..]);
            }
        }
    }
}
