//! The whole-distribution audit (`abovo audit`): for every package, the set
//! of binary seeds it rests on; the core common to all; every other binary
//! seed ranked by how many packages rest on it; who rests on nothing but
//! the core; the largest trust bases.
//!
//! One pass, not one walk per package: every node gets a bitset of the
//! binary seeds below it, computed in topological order (inputs first) as
//! the union of its inputs' bitsets (`sets`). A fixed-output input contributes only
//! its own bit (the trust walk stops there) unless the walk goes through
//! fixed outputs. "Binary seed" means a seed whose kind carries binaries:
//! `binary` or `source-with-binaries`.
//!
//! The `guix refresh -l`-style leaves of a seed are the packages resting on
//! it that no other package resting on it depends on (through edges the
//! trust walk follows): rebuilding those rebuilds all the others.
//!
//! In package terms (when the graph has package graphs), each binary seed
//! also says which packages bring it in
//! ([`crate::packages::Packages::bringers`]), and shows the way from one of
//! its leaves: the derivation path, and the leaf's package path in the
//! `bag-emerged` graph to the package that brings the seed in.
//!
//! [`audit`] runs the steps, one module each: `seeds` (what the walk
//! reaches, classified, the binary seeds numbered), `sets` (the bitsets
//! and which packages another package rests on), `tally` (counts, core,
//! leaves, the largest trust bases) and `attribution` (per seed, the
//! packages that bring it in and an example way to it).

mod attribution;
mod seeds;
mod sets;
mod tally;

use crate::bytes::RejectedFile;
use crate::classify::{Classification, SeedFacts, Seeds};
use crate::kind::{Evidence, Kind};
use crate::packages::{PackageStep, PackageTrail};
use crate::report::Step;
use crate::sizes::SizeError;
use abovo_graph::query::Walk;
use abovo_graph::{Graph, NodeId};
use serde::Serialize;
use std::collections::BTreeMap;

/// A package to audit: its name and version (as people type them) and its
/// node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPackage {
    /// The name (`hello`), or what stands for it when there is no package
    /// table (the name given, or the derivation's label).
    pub name: String,
    /// The version, when a package table gives it.
    pub version: Option<String>,
    /// Its derivation.
    pub node: NodeId,
}

impl AuditPackage {
    /// `name@version` as Guix prints packages, or the name alone.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A binary seed in the audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSeed {
    /// Its id in [`AuditReport::binary_seeds`].
    pub id: u32,
    /// The name reports show: the knowledge base's label, or the store
    /// name, with the store hash added when two binary seeds would
    /// otherwise share it.
    pub label: String,
    /// What the graph says about it.
    #[serde(flatten)]
    pub facts: SeedFacts,
    /// The verdict.
    #[serde(flatten)]
    pub class: Classification,
    /// How many audited packages rest on it.
    pub packages: usize,
    /// The `guix refresh -l`-style leaves: packages resting on it that no
    /// other such package depends on (`name@version`, sorted).
    pub leaves: Vec<String>,
    /// The packages that bring it in (whose derivations use it directly or
    /// through derivations that are no package's), by `name@version`; empty
    /// when the graph has no package graphs.
    pub brought_in_by: Vec<PackageStep>,
    /// The way from its first leaf to it, in derivations and in packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<SeedExample>,
}

/// How one package comes to rest on a seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedExample {
    /// The package (`name@version`).
    pub package: String,
    /// A shortest path of derivations from it to the seed, both ends
    /// included (as `abovo seeds` finds it).
    pub path: Vec<Step>,
    /// The package that brings the seed in on that path, and the path to
    /// it in the `bag-emerged` graph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trail: Option<PackageTrail>,
}

/// One row of the binary seed table: what a seed id stands for.
#[derive(Debug, Clone, Serialize)]
pub struct SeedRow {
    /// The id (its index in the table).
    pub id: u32,
    /// The name reports show (unique in the table).
    pub label: String,
    /// The store name.
    pub name: String,
    /// The seed's store path.
    pub store_path: String,
    /// Its kind (`binary` or `source-with-binaries`).
    pub kind: Kind,
    /// The evidence for it.
    pub evidence: Evidence,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

/// A package and the ids of the binary seeds it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct PackageSeeds {
    /// The package name.
    pub name: String,
    /// Its version, when a package table gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its derivation.
    pub drv: String,
    /// The ids of its binary seeds ([`AuditReport::binary_seeds`]).
    pub seeds: Vec<u32>,
}

/// A package and the size of its trust base.
#[derive(Debug, Clone, Serialize)]
pub struct TrustBase {
    /// `name@version`.
    pub package: String,
    /// Its derivation.
    pub derivation: String,
    /// How many binary seeds it rests on.
    pub binary_seeds: usize,
    /// Their known total size.
    pub known_bytes: u64,
    /// How many of them have no known size.
    pub unknown_sizes: usize,
    /// The binary seeds outside the core, by label (unique, sorted).
    pub beyond_core: Vec<String>,
    /// The same seeds, by id ([`AuditReport::binary_seeds`]).
    pub beyond_core_ids: Vec<u32>,
}

/// A seed that nothing classifies.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownSeed {
    /// What the graph says about it.
    #[serde(flatten)]
    pub facts: SeedFacts,
    /// Why it is unknown.
    pub why: String,
}

/// A file found under a seed's name that is not the seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedRejection {
    /// The seed's store path.
    pub seed: String,
    /// The file and why it was ignored.
    #[serde(flatten)]
    pub file: RejectedFile,
}

/// What the audited items are, so that reports call them by their name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audited {
    /// Packages: the package table's, or named by the caller.
    #[default]
    Packages,
    /// With no package table: the derivations nothing in the graph depends
    /// on (fixed-output ones aside), standing for its packages. A graph of
    /// `.drv` files alone has no notion of package.
    RootDerivations,
}

impl Audited {
    /// The noun for `n` of them (`package`, `packages`, `root
    /// derivations`).
    pub fn noun(self, n: usize) -> &'static str {
        if n == 1 { self.one() } else { self.many() }
    }

    /// The noun for one (`package`, `root derivation`).
    pub fn one(self) -> &'static str {
        match self {
            Audited::Packages => "package",
            Audited::RootDerivations => "root derivation",
        }
    }

    /// The noun for many (`packages`, `root derivations`).
    pub fn many(self) -> &'static str {
        match self {
            Audited::Packages => "packages",
            Audited::RootDerivations => "root derivations",
        }
    }
}

/// The audit's answer.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// What the audited items are (`packages` by default; the caller says
    /// `root-derivations` when it audits the roots of a graph with no
    /// package table). The fields named after packages count them.
    pub audited: Audited,
    /// The graph it was computed on.
    pub graph: String,
    /// Whether the walk went through fixed-output derivations.
    pub through_fixed: bool,
    /// Packages audited.
    pub package_count: usize,
    /// Distinct seeds (store items) reached from them, per kind.
    pub seeds_by_kind: BTreeMap<Kind, usize>,
    /// Binary seeds common to every audited package.
    pub core: Vec<AuditSeed>,
    /// Known total size of the core.
    pub core_known_bytes: u64,
    /// Core seeds with no known size.
    pub core_unknown_sizes: usize,
    /// Every other binary seed, by number of packages resting on it.
    pub others: Vec<AuditSeed>,
    /// How many packages rest on nothing but the core.
    pub core_only_packages: usize,
    /// The packages with the most binary seeds (at most `top`).
    pub largest: Vec<TrustBase>,
    /// Every seed of kind `unknown` reached, by name.
    pub unknown: Vec<UnknownSeed>,
    /// Files found under a seed's name that are not the seed (ignored).
    pub rejected_files: Vec<SeedRejection>,
    /// Files in the seed directories that no seed reached answers to by
    /// name (not used; see [`crate::bytes::unused_files`]).
    pub unused_seed_files: Vec<std::path::PathBuf>,
    /// The binary seed table: `packages[].seeds` and `core[].id` point
    /// into it.
    pub binary_seeds: Vec<SeedRow>,
    /// Every audited package with the ids of its binary seeds.
    pub packages: Vec<PackageSeeds>,
}

/// Audits `packages` on `g`, walking as `walk` says ([`Walk::trust`]);
/// `top` bounds the list of largest trust bases. Fails only when a size
/// source is refused (see [`Seeds::classify`]).
///
/// Of `walk` the audit reads whether it stops at fixed-output derivations:
/// a package is a node like any other (its seed set is shared by every
/// package that rests on it), fixed-output packages included, and there is
/// no depth limit.
pub fn audit(
    g: &Graph,
    packages: &[AuditPackage],
    seeds: &Seeds,
    walk: &Walk,
    top: usize,
) -> Result<AuditReport, SizeError> {
    let walk = Walk {
        stop_at_fixed_starts: walk.stop_at_fixed,
        max_depth: None,
        ..*walk
    };
    let reached = seeds::Reached::walk(g, packages, &walk);
    let classified = seeds::Classified::new(g, &reached.seeds, seeds)?;
    let binaries = seeds::Binaries::number(g, &classified.seeds);
    let sets = sets::SeedSets::compute(g, &reached.nodes, &binaries.bit_of, binaries.len(), &walk);
    let above = sets::below_a_package(g, packages, &reached.nodes, &walk);
    let tally = tally::Tally::count(g, packages, &sets, &above, binaries.len());

    let attribution = attribution::Attribution::new(g, packages, &walk);
    // One call for the core and the others: they share example packages.
    let shown: Vec<usize> = (0..binaries.len())
        .filter(|&b| tally.in_core(b) || tally.counts[b] > 0)
        .collect();
    let (mut core, mut others): (Vec<AuditSeed>, Vec<AuditSeed>) = attribution
        .seeds(&shown, &binaries, &classified.seeds, &tally)
        .into_iter()
        .partition(|s| tally.in_core(s.id as usize));
    core.sort_by(|a, b| b.class.size.cmp(&a.class.size).then(a.label.cmp(&b.label)));
    others.sort_by(|a, b| b.packages.cmp(&a.packages).then(a.label.cmp(&b.label)));

    let largest = tally.largest(
        g,
        packages,
        &attribution.package_labels,
        &binaries,
        &classified.seeds,
        top,
    );
    Ok(AuditReport {
        audited: Audited::Packages,
        graph: g.description().to_owned(),
        through_fixed: !walk.stop_at_fixed,
        package_count: packages.len(),
        seeds_by_kind: classified.by_kind,
        core_known_bytes: core.iter().filter_map(|s| s.class.size).sum(),
        core_unknown_sizes: core.iter().filter(|s| s.class.size.is_none()).count(),
        core,
        others,
        core_only_packages: tally.core_only(packages, &sets),
        largest,
        unknown: classified.unknown,
        rejected_files: classified.rejected_files,
        unused_seed_files: classified.unused_seed_files,
        binary_seeds: binaries.rows(&classified.seeds),
        packages: tally.package_seeds,
    })
}

/// The packages of a graph's package table, as audit input (rows whose
/// derivation is not in the graph are left out).
pub fn table_packages(g: &Graph) -> Vec<AuditPackage> {
    let table = g.packages();
    // By field, not by row: the rows' other fields are not decoded.
    (0..table.len())
        .filter_map(|i| {
            table.node(i).map(|node| AuditPackage {
                name: table.name(i).to_owned(),
                version: Some(table.version(i).to_owned()),
                node,
            })
        })
        .collect()
}
