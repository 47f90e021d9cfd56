//! The package table: which derivation each public package of the
//! distribution has (Guix's `packages.tsv`: name, version, derivation,
//! module).
//!
//! With a table, names resolve through it and `dependents` counts packages,
//! like `guix refresh -l`; without one, derivation names stand in.

use crate::error::LoadError;
use crate::graph::{Graph, NodeId};
use crate::tsv;
use crate::version::{compare_versions, is_version_prefix};
use abovo_store::store_path::{StoreDir, StorePath};
use rustc_hash::FxHashMap;
use std::path::Path;

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
#[derive(Debug, Clone, Default)]
pub struct PackageTable {
    rows: Vec<Package>,
    /// Node of each row's derivation, once attached to a graph.
    nodes: Vec<Option<NodeId>>,
    /// Rows of each node.
    by_node: FxHashMap<NodeId, Vec<u32>>,
}

impl PackageTable {
    /// A table of these rows.
    pub fn new(rows: Vec<Package>) -> PackageTable {
        PackageTable {
            rows,
            ..PackageTable::default()
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
        let mut t = PackageTable {
            rows,
            nodes,
            by_node: FxHashMap::default(),
        };
        t.index();
        t
    }

    fn index(&mut self) {
        self.by_node.clear();
        self.by_node.reserve(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(n) = n {
                self.by_node.entry(*n).or_default().push(i as u32);
            }
        }
    }

    /// Matches rows to the nodes of `graph`.
    pub(crate) fn attach(&mut self, graph: &Graph) {
        self.nodes = self
            .rows
            .iter()
            .map(|p| graph.lookup(&p.derivation))
            .collect();
        self.index();
    }

    /// Whether the table has no row (no table was loaded).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The number of packages.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Every package, in table order.
    pub fn rows(&self) -> &[Package] {
        &self.rows
    }

    /// The node of row `i`, when its derivation is in the graph.
    pub fn node(&self, i: usize) -> Option<NodeId> {
        self.nodes.get(i).copied().flatten()
    }

    /// The rows whose derivation is node `n` (several packages can share one).
    pub fn packages_of(&self, n: NodeId) -> impl Iterator<Item = &Package> {
        self.by_node
            .get(&n)
            .into_iter()
            .flatten()
            .map(|&i| &self.rows[i as usize])
    }

    /// Whether node `n` is the derivation of some package.
    pub fn is_package(&self, n: NodeId) -> bool {
        self.by_node.contains_key(&n)
    }

    /// The rows of the packages called `name` whose version starts with
    /// `version` (component by component, as Guix's
    /// `find-packages-by-name` matches it), newest version first, rows of
    /// one version in table order.
    pub fn find(&self, name: &str, version: Option<&str>) -> Vec<usize> {
        let mut rows: Vec<usize> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.name == name && version.is_none_or(|v| is_version_prefix(v, &p.version))
            })
            .map(|(i, _)| i)
            .collect();
        rows.sort_by(|&a, &b| {
            compare_versions(&self.rows[b].version, &self.rows[a].version).then(a.cmp(&b))
        });
        rows
    }

    /// How many rows have a derivation that is not in the graph.
    pub fn unmatched(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_none()).count()
    }
}
