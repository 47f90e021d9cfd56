//! The trust report of one target (`abovo seeds TARGET`): the walk, its
//! seeds with their kinds, evidence, sizes and paths, totals per kind, and
//! the daemon built-ins relied on.
//!
//! The walk is the graph's breadth-first [`ShortestPaths`] tree over input
//! edges from the target, visiting inputs in id (store path) order, so the
//! first path found to a node is the shortest and, among the shortest, the
//! smallest by store paths: the same answer as `abovo path`. It walks as
//! [`Walk::trust`] says: it stops at fixed-output derivations (their output
//! is pinned by a hash; how it was fetched does not change it) unless told
//! to go through them; a fixed-output derivation is a seed either way.
//! So is an impure derivation (Nix's `__impure`, which may fetch like a
//! fixed-output one but is pinned by no hash), of unknown kind; the walk
//! goes on into its inputs.
//!
//! When the graph has package graphs, each seed also says which package
//! brings it in and how the target's package reaches that one in the
//! `bag-emerged` graph ([`crate::packages`]).
//!
//! The seeds are traced (given their path and package trail) last, by a
//! [`Tracer`] that keeps the walk's paths and the trails:
//! [`trust_report`] traces every seed, and [`untraced_report`] gives the
//! report untraced with its tracer, for a writer that traces each seed as
//! it writes it (the `abovo seeds` reports, whose paths and trails share
//! most of their steps).

use crate::classify::{Classification, Origin, SeedFacts, Seeds};
use crate::kind::Kind;
use crate::packages::{PackageStep, PackageTrail, Trails};
use crate::sizes::{SizeError, SizeSource};
use abovo_graph::query::{ShortestPaths, Walk};
use abovo_graph::{Graph, NodeId, NodeKind};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// One step of a path from the target.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The node's store path.
    pub path: String,
    /// A short label (`hello-2.12.2`, `bash`).
    pub label: String,
}

/// One seed in a report.
#[derive(Debug, Clone, Serialize)]
pub struct SeedEntry {
    /// What the graph says about it.
    #[serde(flatten)]
    pub facts: SeedFacts,
    /// The verdict.
    #[serde(flatten)]
    pub class: Classification,
    /// The shortest path from the target to it, both ends included (empty
    /// in a report not traced, see [`untraced_report`]).
    pub path_from_target: Vec<Step>,
    /// Which package brings it in, and the target's package path to that
    /// package (when the graph has package graphs and the report is
    /// traced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageTrail>,
}

/// Totals for one kind.
#[derive(Debug, Clone, Serialize)]
pub struct KindTotal {
    /// The kind.
    pub kind: Kind,
    /// How many seeds.
    pub seeds: usize,
    /// The sum of the known sizes.
    pub known_bytes: u64,
    /// How many sizes were measured on the seeds' own bytes.
    pub measured_seeds: usize,
    /// The sum of the measured sizes (part of `known_bytes`).
    pub measured_bytes: u64,
    /// How many have no known size.
    pub unknown_sizes: usize,
}

/// A built-in builder the walk relies on.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltinUse {
    /// `builtin:download`, `builtin:git-download` …
    pub builder: String,
    /// How many derivations of the walk use it.
    pub derivations: usize,
}

/// The trust base of a target.
#[derive(Debug, Clone, Serialize)]
pub struct TrustReport {
    /// The graph it was computed on.
    pub graph: String,
    /// The target's store path.
    pub target: String,
    /// Its label.
    pub target_label: String,
    /// Its package, when it is one (and the graph has package graphs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_package: Option<PackageStep>,
    /// Whether the walk went through fixed-output derivations.
    pub through_fixed: bool,
    /// Derivations the walk visited (the target included).
    pub derivations_walked: usize,
    /// The seeds, grouped by kind (binaries first), biggest first.
    pub seeds: Vec<SeedEntry>,
    /// Totals per kind, in kind order (kinds with no seed left out).
    pub totals: Vec<KindTotal>,
    /// The daemon built-ins relied on: the daemon itself fetches (and is
    /// trusted to check) what these derivations download.
    pub builtins: Vec<BuiltinUse>,
    /// Files in the seed directories that no seed of this report answers
    /// to by name (not used; see [`crate::bytes::unused_files`]).
    pub unused_seed_files: Vec<std::path::PathBuf>,
}

/// The result of the walk alone: seeds and the paths to them.
pub struct Walked {
    /// The seeds, in visiting order.
    pub seeds: Vec<NodeId>,
    /// The shortest path from the target to every node reached.
    pub paths: ShortestPaths<NodeId>,
    /// Derivations visited.
    pub derivations: usize,
}

impl Walked {
    /// The built-in builders the walk's derivations use (`builtin:download`
    /// …), with counts. Asked apart from the walk: naming the builder
    /// reads a derivation's record, which a report reads beside the seeds'
    /// facts (on another thread).
    pub fn builtins(&self, g: &Graph) -> BTreeMap<String, usize> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for &x in self.paths.reached() {
            if let Some(b) = g.builtin(x) {
                *counts.entry(b).or_insert(0) += 1;
            }
        }
        counts
            .into_iter()
            .map(|(b, count)| (format!("builtin:{b}"), count))
            .collect()
    }
}

/// Whether `n` is a seed (where content enters the graph): a fixed-output
/// derivation, an input source, a missing derivation, or an impure one
/// (whose inputs are walked too: they are part of what it builds with).
pub fn is_seed(g: &Graph, n: NodeId) -> bool {
    // From the per-node flags: the walk asks this of every node it reaches.
    match g.kind(n) {
        NodeKind::Derivation => g.is_fixed_output(n) || g.is_impure(n),
        NodeKind::Source | NodeKind::Missing => true,
    }
}

/// Walks from `target` (see the module docs; `walk` is [`Walk::trust`]'s).
pub fn walk(g: &Graph, target: NodeId, walk: &Walk) -> Walked {
    let paths = ShortestPaths::tree(g, target, walk);
    let mut seeds = Vec::new();
    let mut derivations = 0;
    for &x in paths.reached() {
        if g.kind(x) == NodeKind::Derivation {
            derivations += 1;
        }
        if is_seed(g, x) {
            seeds.push(x);
        }
    }
    Walked {
        seeds,
        paths,
        derivations,
    }
}

/// A derivation path as report steps.
pub fn steps(g: &Graph, path: &[NodeId]) -> Vec<Step> {
    path.iter().map(|&n| step(g, n)).collect()
}

/// A node as a step of a report's path.
pub fn step(g: &Graph, n: NodeId) -> Step {
    Step {
        path: g.display_path(n),
        label: g.label(n).to_owned(),
    }
}

/// The seeds of a walk, each with its facts and verdict, not yet traced.
struct Classified {
    walked: Walked,
    builtins: BTreeMap<String, usize>,
    /// In visiting order, one per store item.
    entries: Vec<SeedEntry>,
}

/// Walks from `target` and classifies the seeds it reaches.
fn classify_walk(
    g: &Graph,
    target: NodeId,
    seeds: &Seeds,
    walk: &Walk,
) -> Result<Classified, SizeError> {
    let walked = self::walk(g, target, walk);
    // Fixed-output derivations with the same output path (same hash and
    // name, for different systems) are one seed: keep the first reached,
    // whose path is the shortest. The hash part of each seed's store item
    // tells them apart; it is read for all of them (in parallel: it may
    // need a derivation's record) before any is classified, since
    // classifying one may read and scan its bytes.
    let items: Vec<[u8; 32]> = walked
        .seeds
        .par_iter()
        .map(|&n| SeedFacts::store_hash_of(g, n))
        .collect();
    let mut seen = rustc_hash::FxHashSet::default();
    let kept: Vec<NodeId> = walked
        .seeds
        .iter()
        .zip(&items)
        .filter(|&(_, item)| seen.insert(item))
        .map(|(&n, _)| n)
        .collect();
    // Each kept seed's facts and verdict in one parallel pass (a seed's
    // store path may need its output path computed, and a large closure has
    // thousands), with the file system listed once; the daemon built-ins
    // are counted beside it. Collected in place, each result in its slot:
    // collecting into `Result<Vec<_>>` straight away would gather the
    // entries in growing pieces and copy them again (a large report's
    // entries weigh megabytes, and fresh memory costs a page fault a page).
    let (builtins, results) = rayon::join(
        || walked.builtins(g),
        || {
            seeds.batch(|| {
                kept.par_iter()
                    .map(|&n| {
                        let facts = SeedFacts::of(g, n);
                        Ok(SeedEntry {
                            class: seeds.classify(g, &facts)?,
                            facts,
                            path_from_target: Vec::new(),
                            package: None,
                        })
                    })
                    .collect::<Vec<Result<SeedEntry, SizeError>>>()
            })
        },
    );
    let entries = results.into_iter().collect::<Result<_, _>>()?;
    Ok(Classified {
        walked,
        builtins,
        entries,
    })
}

/// The trust report of `target`, walking as `walk` says ([`Walk::trust`]),
/// every seed traced. Fails only when a size source is refused (see
/// [`Seeds::classify`]).
pub fn trust_report(
    g: &Graph,
    target: NodeId,
    seeds: &Seeds,
    walk: &Walk,
) -> Result<TrustReport, SizeError> {
    let (mut report, tracer) = untraced_report(g, target, seeds, walk)?;
    tracer.trace(&mut report.seeds);
    Ok(report)
}

/// [`trust_report`] with no seed traced, and what traces them: for a
/// writer that renders what the seeds' paths share once
/// ([`Tracer::trace`] makes the report [`trust_report`] makes).
pub fn untraced_report<'g>(
    g: &'g Graph,
    target: NodeId,
    seeds: &Seeds,
    walk: &Walk,
) -> Result<(TrustReport, Tracer<'g>), SizeError> {
    // The package trails (which decode a package graph) beside the walk
    // and the classification, whose parallel work the other thread joins
    // when it is done; and the store metadata that sizes read, decoded
    // whole on first use: before the classification asks, rather than
    // while every thread of it waits.
    let (trails, classified) = rayon::join(
        || {
            let trails = Trails::new(g, target);
            g.meta();
            trails
        },
        || classify_walk(g, target, seeds, walk),
    );
    let Classified {
        walked,
        builtins,
        mut entries,
    } = classified?;
    // By kind, known sizes first, biggest first, then by name and store
    // path (distinct: the order is total). Sorting the keys and moving each
    // entry once spares the stable sort's copies of whole entries.
    entries.sort_by_cached_key(|e| {
        (
            e.class.kind,
            e.class.size.is_none(),
            std::cmp::Reverse(e.class.size),
            e.facts.name.clone(),
            e.facts.store_path.clone(),
        )
    });
    let totals = Kind::ALL
        .iter()
        .filter_map(|&kind| {
            let of: Vec<&SeedEntry> = entries.iter().filter(|e| e.class.kind == kind).collect();
            (!of.is_empty()).then(|| KindTotal {
                kind,
                seeds: of.len(),
                known_bytes: of.iter().filter_map(|e| e.class.size).sum(),
                measured_seeds: of
                    .iter()
                    .filter(|e| e.class.size_source == SizeSource::Bytes)
                    .count(),
                measured_bytes: of
                    .iter()
                    .filter(|e| e.class.size_source == SizeSource::Bytes)
                    .filter_map(|e| e.class.size)
                    .sum(),
                unknown_sizes: of.iter().filter(|e| e.class.size.is_none()).count(),
            })
        })
        .collect();
    let unused_seed_files =
        crate::bytes::unused_files(&seeds.seed_dirs, entries.iter().map(|e| &e.facts));
    let report = TrustReport {
        unused_seed_files,
        graph: g.description().to_owned(),
        target: g.display_path(target),
        target_label: g.label(target).to_owned(),
        target_package: trails.as_ref().and_then(Trails::target),
        through_fixed: !walk.stop_at_fixed,
        derivations_walked: walked.derivations,
        seeds: entries,
        totals,
        builtins: builtins
            .into_iter()
            .map(|(builder, derivations)| BuiltinUse {
                builder,
                derivations,
            })
            .collect(),
    };
    Ok((report, Tracer::new(g, walked.paths, trails)))
}

impl TrustReport {
    /// The seeds of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &SeedEntry> {
        self.seeds.iter().filter(move |e| e.class.kind == kind)
    }

    /// Whether a seed is a fixed-output derivation.
    pub fn is_fixed(e: &SeedEntry) -> bool {
        e.facts.origin == Origin::FixedOutput
    }
}

mod tracer;

pub use tracer::Tracer;

#[cfg(test)]
mod seed_order_tests;
