//! Store metadata: what the daemon's database records about store items
//! (NAR size, NAR hash, references), as in a corpus's `store-meta.tsv`.
//!
//! Kept per node of the graph. NAR hashes are kept for sources only: the NAR
//! of a `.drv` follows from its bytes, and sources are what a trust analysis
//! needs to identify.

use crate::error::LoadError;
use crate::graph::{Graph, NodeId};
use crate::tsv;
use abovo_store::hash::{Hash, HashAlgo};
use rustc_hash::FxHashMap;
use std::path::Path;

/// Store metadata for the nodes of a graph.
#[derive(Debug, Clone, Default)]
pub struct StoreMeta {
    /// NAR size per node; `u64::MAX` when unknown. Empty when no metadata.
    pub(crate) nar_size: Vec<u64>,
    /// SHA-256 NAR hash of sources.
    pub(crate) nar_hash: FxHashMap<NodeId, [u8; 32]>,
    /// References of non-derivation items, as nodes.
    pub(crate) references: FxHashMap<NodeId, Vec<NodeId>>,
    /// Rows that name a path not in the graph.
    pub(crate) rows_outside: u64,
    /// References to paths that are not in the graph.
    pub(crate) references_outside: u64,
}

impl StoreMeta {
    /// Reads `store-meta.tsv` (or `.tsv.zst`) for the nodes of `graph`: a
    /// header `path nar_hash nar_size references`, then one row per item.
    pub fn read(path: &Path, graph: &Graph) -> Result<StoreMeta, LoadError> {
        let mut table = tsv::Table::open(path, &["path", "nar_hash", "nar_size"])?;
        let mut meta = StoreMeta {
            nar_size: vec![u64::MAX; graph.len()],
            ..StoreMeta::default()
        };
        let store = graph.store_dir();
        while let Some((line, f)) = table.next_row()? {
            if f.len() < 3 {
                return Err(tsv::bad(
                    path,
                    line,
                    "expected at least 3 tab-separated fields",
                ));
            }
            let item = store.parse(f[0]).map_err(|e| {
                tsv::bad(
                    path,
                    line,
                    format!("bad store path: {}", tsv::clip(&e.to_string())),
                )
            })?;
            let size: u64 = f[2]
                .parse()
                .map_err(|_| tsv::bad(path, line, format!("bad nar_size `{}`", tsv::clip(f[2]))))?;
            let hash = Hash::parse_prefixed(f[1]).map_err(|e| {
                tsv::bad(
                    path,
                    line,
                    format!("bad nar_hash: {}", tsv::clip(&e.to_string())),
                )
            })?;
            let Some(node) = graph.lookup(&item) else {
                meta.rows_outside += 1;
                continue;
            };
            meta.nar_size[node.index()] = size;
            if graph.derivation(node).is_some() {
                continue;
            }
            if hash.algo() == HashAlgo::Sha256 {
                let mut h = [0u8; 32];
                h.copy_from_slice(hash.digest());
                meta.nar_hash.insert(node, h);
            }
            let mut refs = Vec::new();
            for r in f
                .get(3)
                .copied()
                .unwrap_or("")
                .split(' ')
                .filter(|r| !r.is_empty())
            {
                let r = store.parse(r).map_err(|e| {
                    tsv::bad(
                        path,
                        line,
                        format!("bad reference: {}", tsv::clip(&e.to_string())),
                    )
                })?;
                match graph.lookup(&r) {
                    Some(n) => refs.push(n),
                    None => meta.references_outside += 1,
                }
            }
            if !refs.is_empty() {
                refs.sort_unstable();
                meta.references.insert(node, refs);
            }
        }
        Ok(meta)
    }

    /// Whether any metadata is known.
    pub fn is_empty(&self) -> bool {
        self.nar_size.is_empty()
    }

    /// The NAR size of `n`, when known.
    pub fn nar_size(&self, n: NodeId) -> Option<u64> {
        self.nar_size
            .get(n.index())
            .copied()
            .filter(|&s| s != u64::MAX)
    }

    /// The SHA-256 NAR hash of source `n`, when known.
    pub fn nar_hash(&self, n: NodeId) -> Option<Hash> {
        self.nar_hash.get(&n).map(|h| Hash::sha256(*h))
    }

    /// The references of source `n` that are nodes of the graph.
    pub fn references(&self, n: NodeId) -> &[NodeId] {
        self.references.get(&n).map(Vec::as_slice).unwrap_or(&[])
    }

    /// How many nodes have a known size.
    pub fn sized(&self) -> usize {
        self.nar_size.iter().filter(|&&s| s != u64::MAX).count()
    }

    /// Rows of the table that named a path outside the graph (ignored).
    pub fn rows_outside(&self) -> u64 {
        self.rows_outside
    }
}
