//! The seeds an audit reaches: the nodes the walk reaches from the
//! packages, the seeds among them classified and counted by kind, and the
//! binary seeds numbered, one bit each.
//!
//! Of the 71,000 seeds of a distribution nearly all are sources and
//! generated items that nothing but the rules speaks of (no bytes in the
//! fetch cache, no knowledge-base entry): their kind
//! ([`Seeds::plain_kind`]) and store path are all the report needs, and
//! only the others (binary, unknown, or with anything beyond the graph to
//! say of them) get their facts read and a full verdict.

use super::AuditPackage;
use super::{SeedRejection, SeedRow, UnknownSeed};
use crate::classify::{Classification, SeedFacts, Seeds};
use crate::kind::Kind;
use crate::report::is_seed;
use crate::sizes::SizeError;
use abovo_graph::query::{Walk, closure};
use abovo_graph::{Graph, NodeId};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What one walk from every package at once reaches.
pub(super) struct Reached {
    /// Per node, whether the walk reaches it.
    pub nodes: Vec<bool>,
    /// The seeds reached, sorted by id.
    pub seeds: Vec<NodeId>,
}

impl Reached {
    /// Walks from every package.
    pub fn walk(g: &Graph, packages: &[AuditPackage], walk: &Walk) -> Reached {
        let roots: Vec<NodeId> = packages.iter().map(|p| p.node).collect();
        let all = closure(g, &roots, walk);
        let mut nodes = vec![false; g.len()];
        for n in &all {
            nodes[n.index()] = true;
        }
        let seeds = all.into_par_iter().filter(|&n| is_seed(g, n)).collect();
        Reached { nodes, seeds }
    }
}

/// The seeds reached, classified, and what the report says of them as a
/// whole.
pub(super) struct Classified {
    /// The seeds the report shows (binary, unknown, with files found
    /// under their name; every seed with seed directories), with their
    /// facts and verdicts, in id order.
    pub seeds: Vec<(SeedFacts, Classification)>,
    /// Distinct seeds (store paths) per kind.
    pub by_kind: BTreeMap<Kind, usize>,
    /// The seeds of kind `unknown`, by name.
    pub unknown: Vec<UnknownSeed>,
    /// Files found under a seed's name that are not the seed.
    pub rejected_files: Vec<SeedRejection>,
    /// Files in the seed directories that no seed answers to.
    pub unused_seed_files: Vec<PathBuf>,
}

/// One classified seed, as the audit keeps it: whole when the report shows
/// it (a binary seed, an unknown one, one with files found under its name,
/// every seed when seed directories are given, for their unused files),
/// else only what the count per kind needs. Most of the tens of thousands
/// of seeds of a distribution are sources and generated items that the
/// report only counts: keeping their facts and verdicts would hold
/// hundreds of megabytes for nothing.
enum Entry {
    /// The facts and verdict, in full.
    Kept(Box<(SeedFacts, Classification)>),
    /// The hash part of the store path ([`SeedFacts::store_hash_of`]:
    /// the store item, without making its path) and the kind alone.
    Counted { store_hash: [u8; 32], kind: Kind },
}

impl Entry {
    /// The hash part of the seed's store path, which tells store items
    /// apart, and its kind.
    fn store_hash_and_kind(&self) -> ([u8; 32], Kind) {
        match self {
            Entry::Kept(fc) => {
                let hash = fc.0.hash_part().unwrap_or("").as_bytes();
                (hash.try_into().unwrap_or([0; 32]), fc.1.kind)
            }
            Entry::Counted { store_hash, kind } => (*store_hash, *kind),
        }
    }
}

impl Classified {
    /// Classifies `nodes` (in parallel: content scans may run).
    pub fn new(g: &Graph, nodes: &[NodeId], seeds: &Seeds) -> Result<Classified, SizeError> {
        let keep_all = !seeds.seed_dirs.is_empty();
        let entries: Vec<Entry> = seeds.batch(|| {
            nodes
                .par_iter()
                .map(|&n| {
                    // Most seeds are sources that only the rules speak of:
                    // their kind, without their facts or a verdict, is all
                    // the report needs of them.
                    if let Some(kind) = seeds.plain_kind(g, n) {
                        if !keep_all && !kind.carries_binaries() && kind != Kind::Unknown {
                            let store_hash = SeedFacts::store_hash_of(g, n);
                            return Ok(Entry::Counted { store_hash, kind });
                        }
                    }
                    let facts = SeedFacts::of(g, n);
                    let class = seeds.classify(g, &facts)?;
                    let kept = keep_all
                        || class.kind.carries_binaries()
                        || class.kind == Kind::Unknown
                        || !class.rejected_files.is_empty();
                    Ok(if kept {
                        Entry::Kept(Box::new((facts, class)))
                    } else {
                        Entry::Counted {
                            store_hash: SeedFacts::store_hash_of(g, n),
                            kind: class.kind,
                        }
                    })
                })
                .collect::<Result<_, _>>()
        })?;
        let mut by_kind = BTreeMap::new();
        let mut unknown = Vec::new();
        let mut rejected_files = Vec::new();
        // Fixed-output derivations for several systems are one store item.
        // (Fx, not SipHash: tens of thousands of paths, none chosen by an
        // adversary who could aim at the hash; sized once, as growing it
        // was a tenth of the audit's page faults.)
        let mut counted = FxHashSet::with_capacity_and_hasher(entries.len(), Default::default());
        for e in &entries {
            let (store_hash, kind) = e.store_hash_and_kind();
            if !counted.insert(store_hash) {
                continue;
            }
            *by_kind.entry(kind).or_insert(0usize) += 1;
            let Entry::Kept(fc) = e else { continue };
            let (f, c) = &**fc;
            if c.kind == Kind::Unknown {
                unknown.push(UnknownSeed {
                    facts: f.clone(),
                    why: c.why.to_string(),
                });
            }
            rejected_files.extend(c.rejected_files.iter().map(|r| SeedRejection {
                seed: f.store_path.clone(),
                file: r.clone(),
            }));
        }
        drop(counted);
        let classified: Vec<(SeedFacts, Classification)> = entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Kept(fc) => Some(*fc),
                Entry::Counted { .. } => None,
            })
            .collect();
        let unused_seed_files =
            crate::bytes::unused_files(&seeds.seed_dirs, classified.iter().map(|(f, _)| f));
        unknown.sort_by(|a, b| {
            a.facts
                .name
                .cmp(&b.facts.name)
                .then(a.facts.store_path.cmp(&b.facts.store_path))
        });
        Ok(Classified {
            seeds: classified,
            by_kind,
            unknown,
            rejected_files,
            unused_seed_files,
        })
    }
}

/// The binary seeds (whose kind carries binaries), numbered: one bit per
/// store path, so that two fixed-output derivations with the same output
/// path (the same hash and name, built for different systems) are one seed.
pub(super) struct Binaries {
    /// Per node, its seed's bit (`u32::MAX`: none).
    pub bit_of: Vec<u32>,
    /// Per bit, the index in the classified seeds of its first node.
    first: Vec<usize>,
    /// Per bit, the name reports show (unique among binary seeds).
    pub labels: Vec<String>,
    /// Per bit, every node of the seed (one store path, several systems).
    pub nodes: Vec<Vec<NodeId>>,
}

impl Binaries {
    /// Numbers the binary seeds of `classified`, in its order.
    pub fn number(g: &Graph, classified: &[(SeedFacts, Classification)]) -> Binaries {
        let mut bit_of = vec![u32::MAX; g.len()];
        let mut first: Vec<usize> = Vec::new();
        let mut by_path: FxHashMap<&str, u32> = FxHashMap::default();
        for (i, (f, c)) in classified.iter().enumerate() {
            if c.kind.carries_binaries() {
                let bit = *by_path.entry(f.store_path.as_str()).or_insert_with(|| {
                    first.push(i);
                    (first.len() - 1) as u32
                });
                bit_of[f.node.index()] = bit;
            }
        }
        let labels = unique_labels(classified, &first);
        let mut nodes: Vec<Vec<NodeId>> = vec![Vec::new(); first.len()];
        for n in g.nodes() {
            if let Some(b) = nodes.get_mut(bit_of[n.index()] as usize) {
                b.push(n);
            }
        }
        Binaries {
            bit_of,
            first,
            labels,
            nodes,
        }
    }

    /// How many binary seeds.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// The facts and verdict of binary seed `b`.
    pub fn seed<'c>(
        &self,
        classified: &'c [(SeedFacts, Classification)],
        b: usize,
    ) -> &'c (SeedFacts, Classification) {
        &classified[self.first[b]]
    }

    /// The binary seed table.
    pub fn rows(&self, classified: &[(SeedFacts, Classification)]) -> Vec<SeedRow> {
        (0..self.len())
            .map(|b| {
                let (f, c) = self.seed(classified, b);
                SeedRow {
                    id: b as u32,
                    label: self.labels[b].clone(),
                    name: f.name.clone(),
                    store_path: f.store_path.clone(),
                    kind: c.kind,
                    evidence: c.evidence.clone(),
                    size: c.size,
                }
            })
            .collect()
    }
}

/// A label per binary seed, unique among them: the display name, with the
/// store hash part added to every seed whose display name another binary
/// seed shares (two platform tarballs with the same file name and no
/// knowledge-base entry).
fn unique_labels(classified: &[(SeedFacts, Classification)], binaries: &[usize]) -> Vec<String> {
    let names: Vec<&str> = binaries
        .iter()
        .map(|&i| classified[i].1.display_name(&classified[i].0))
        .collect();
    let mut uses: FxHashMap<&str, usize> = FxHashMap::default();
    for n in &names {
        *uses.entry(n).or_insert(0) += 1;
    }
    binaries
        .iter()
        .zip(&names)
        .map(|(&i, n)| {
            if uses[n] > 1 {
                let hash = classified[i].0.hash_part().unwrap_or("");
                format!("{n} [{hash}]")
            } else {
                (*n).to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
