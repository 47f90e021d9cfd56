//! The whole-distribution audit (`abovo audit`): for every package, the set
//! of binary seeds it rests on; the core common to all; every other binary
//! seed ranked by how many packages rest on it; who rests on nothing but
//! the core; the largest trust bases.
//!
//! One pass, not one walk per package: every node gets a bitset of the
//! binary seeds below it, computed in topological order (inputs first) as
//! the union of its inputs' bitsets. A fixed-output input contributes only
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

use crate::bytes::RejectedFile;
use crate::classify::{Classification, SeedFacts, Seeds};
use crate::kind::{Evidence, Kind};
use crate::packages::{PackageStep, PackageTrail, Packages, Trails};
use crate::report::{Step, WalkOptions, expands, is_seed, steps};
use crate::sizes::SizeError;
use abovo_graph::{Graph, NodeId};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

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

struct Bits {
    words: usize,
    data: Vec<u64>,
}

impl Bits {
    fn row(&self, n: usize) -> &[u64] {
        &self.data[n * self.words..(n + 1) * self.words]
    }
}

/// Audits `packages` on `g`; `top` bounds the list of largest trust bases.
/// Fails only when a size source is refused (see [`Seeds::classify`]).
pub fn audit(
    g: &Graph,
    packages: &[AuditPackage],
    seeds: &Seeds,
    opts: WalkOptions,
    top: usize,
) -> Result<AuditReport, SizeError> {
    // 1. The seeds reachable from the packages, by one walk from all of them.
    let mut reached = vec![false; g.len()];
    let mut stack: Vec<NodeId> = packages.iter().map(|p| p.node).collect();
    for p in &stack {
        reached[p.index()] = true;
    }
    let mut seed_nodes = Vec::new();
    while let Some(x) = stack.pop() {
        if is_seed(g, x) {
            seed_nodes.push(x);
        }
        if !expands(g, x, opts) {
            continue;
        }
        for &y in g.inputs(x) {
            if !reached[y.index()] {
                reached[y.index()] = true;
                stack.push(y);
            }
        }
    }
    seed_nodes.sort_unstable();

    // 2. Classify them (in parallel: content scans may run) and number the
    //    binary ones.
    let classified: Vec<(SeedFacts, Classification)> = seed_nodes
        .par_iter()
        .map(|&n| {
            let facts = SeedFacts::of(g, n);
            seeds.classify(g, &facts).map(|class| (facts, class))
        })
        .collect::<Result<_, _>>()?;
    let mut by_kind = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut rejected_files = Vec::new();
    let mut counted = HashSet::new();
    for (f, c) in &classified {
        if !counted.insert(f.store_path.as_str()) {
            continue;
        }
        *by_kind.entry(c.kind).or_insert(0usize) += 1;
        if c.kind == Kind::Unknown {
            unknown.push(UnknownSeed {
                facts: f.clone(),
                why: c.why.clone(),
            });
        }
        rejected_files.extend(c.rejected_files.iter().map(|r| SeedRejection {
            seed: f.store_path.clone(),
            file: r.clone(),
        }));
    }
    let unused_seed_files =
        crate::bytes::unused_files(&seeds.seed_dirs, classified.iter().map(|(f, _)| f));
    unknown.sort_by(|a, b| {
        a.facts
            .name
            .cmp(&b.facts.name)
            .then(a.facts.store_path.cmp(&b.facts.store_path))
    });
    // Two fixed-output derivations with the same output path (the same
    // hash and name, built for different systems) are one seed: one bit.
    let mut bit_of = vec![u32::MAX; g.len()];
    let mut binaries: Vec<usize> = Vec::new();
    let mut by_path: HashMap<&str, u32> = HashMap::new();
    for (i, (f, c)) in classified.iter().enumerate() {
        if c.kind.carries_binaries() {
            let bit = *by_path.entry(f.store_path.as_str()).or_insert_with(|| {
                binaries.push(i);
                (binaries.len() - 1) as u32
            });
            bit_of[f.node.index()] = bit;
        }
    }
    let labels = unique_labels(&classified, &binaries);
    // Every node of each binary seed (one store path, several systems).
    let mut nodes_of: Vec<Vec<NodeId>> = vec![Vec::new(); binaries.len()];
    for n in g.nodes() {
        if let Some(b) = nodes_of.get_mut(bit_of[n.index()] as usize) {
            b.push(n);
        }
    }
    let in_packages = Packages::new(g);

    // 3. Bitsets in topological order (inputs first).
    let words = binaries.len().div_ceil(64).max(1);
    let mut bits = Bits {
        words,
        data: vec![0u64; g.len() * words],
    };
    let mut row = vec![0u64; words];
    for &x in g.topological_order() {
        if !reached[x.index()] {
            continue;
        }
        row.fill(0);
        if bit_of[x.index()] != u32::MAX {
            let b = bit_of[x.index()] as usize;
            row[b / 64] |= 1 << (b % 64);
        }
        if expands(g, x, opts) {
            for &y in g.inputs(x) {
                let yr = bits.row(y.index());
                for (w, v) in row.iter_mut().zip(yr) {
                    *w |= v;
                }
            }
        }
        bits.data[x.index() * words..(x.index() + 1) * words].copy_from_slice(&row);
    }

    // 4. Which package nodes have another package above them (for leaves),
    //    in reverse topological order over edges the walk follows.
    let mut is_pkg = vec![false; g.len()];
    for p in packages {
        is_pkg[p.node.index()] = true;
    }
    let mut above = vec![false; g.len()];
    for &x in g.topological_order().iter().rev() {
        if !reached[x.index()] {
            continue;
        }
        if expands(g, x, opts) && (is_pkg[x.index()] || above[x.index()]) {
            for &y in g.inputs(x) {
                above[y.index()] = true;
            }
        }
    }

    // 5. Counts, core, leaves, and each package's seed ids.
    let mut counts = vec![0usize; binaries.len()];
    let mut leaves: Vec<Vec<u32>> = vec![Vec::new(); binaries.len()];
    let mut core = vec![u64::MAX; words];
    let mut package_seeds: Vec<PackageSeeds> = Vec::with_capacity(packages.len());
    for (pi, p) in packages.iter().enumerate() {
        let r = bits.row(p.node.index());
        for (c, v) in core.iter_mut().zip(r) {
            *c &= v;
        }
        let ids = ones(r);
        for &b in &ids {
            counts[b as usize] += 1;
            if !above[p.node.index()] {
                leaves[b as usize].push(pi as u32);
            }
        }
        package_seeds.push(PackageSeeds {
            name: p.name.clone(),
            version: p.version.clone(),
            drv: g.display_path(p.node),
            seeds: ids,
        });
    }
    if packages.is_empty() {
        core.fill(0);
    }
    let in_core = |b: usize| core[b / 64] >> (b % 64) & 1 == 1;
    let package_labels: Vec<String> = packages.iter().map(AuditPackage::label).collect();
    let make = |b: usize| {
        let (f, c) = &classified[binaries[b]];
        let mut by_label: Vec<(&str, u32)> = leaves[b]
            .iter()
            .map(|&i| (package_labels[i as usize].as_str(), i))
            .collect();
        by_label.sort_unstable();
        by_label.dedup_by(|a, b| a.0 == b.0);
        let example = by_label.first().and_then(|&(label, i)| {
            example(g, label, packages[i as usize].node, &nodes_of[b], opts)
        });
        AuditSeed {
            id: b as u32,
            label: labels[b].clone(),
            facts: f.clone(),
            class: c.clone(),
            packages: counts[b],
            leaves: by_label.iter().map(|(l, _)| (*l).to_owned()).collect(),
            brought_in_by: in_packages
                .as_ref()
                .map(|p| {
                    p.bringers(&nodes_of[b])
                        .into_iter()
                        .map(|b| p.step(b))
                        .collect()
                })
                .unwrap_or_default(),
            example,
        }
    };
    let mut core_seeds: Vec<AuditSeed> = (0..binaries.len())
        .filter(|&b| in_core(b))
        .map(make)
        .collect();
    core_seeds.sort_by(|a, b| b.class.size.cmp(&a.class.size).then(a.label.cmp(&b.label)));
    let mut others: Vec<AuditSeed> = (0..binaries.len())
        .filter(|&b| !in_core(b) && counts[b] > 0)
        .map(make)
        .collect();
    others.sort_by(|a, b| b.packages.cmp(&a.packages).then(a.label.cmp(&b.label)));

    // 6. Core-only packages and the largest trust bases.
    let core_only = packages
        .iter()
        .filter(|p| bits.row(p.node.index()) == core.as_slice())
        .count();
    let size_of = |b: u32| classified[binaries[b as usize]].1.size;
    let mut ranked: Vec<(usize, u64, usize, usize)> = package_seeds
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let bytes = p.seeds.iter().filter_map(|&b| size_of(b)).sum();
            let unknown = p.seeds.iter().filter(|&&b| size_of(b).is_none()).count();
            (p.seeds.len(), bytes, unknown, pi)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(package_labels[a.3].cmp(&package_labels[b.3]))
    });
    ranked.truncate(top);
    let largest: Vec<TrustBase> = ranked
        .into_iter()
        .map(|(n, bytes, unknown_sizes, pi)| {
            let p = &packages[pi];
            let beyond_core_ids: Vec<u32> = package_seeds[pi]
                .seeds
                .iter()
                .copied()
                .filter(|&b| !in_core(b as usize))
                .collect();
            let mut beyond_core: Vec<String> = beyond_core_ids
                .iter()
                .map(|&b| labels[b as usize].clone())
                .collect();
            beyond_core.sort_unstable();
            beyond_core.dedup();
            TrustBase {
                package: package_labels[pi].clone(),
                derivation: g.display_path(p.node),
                binary_seeds: n,
                known_bytes: bytes,
                unknown_sizes,
                beyond_core,
                beyond_core_ids,
            }
        })
        .collect();
    let binary_seeds = binaries
        .iter()
        .enumerate()
        .map(|(b, &i)| {
            let (f, c) = &classified[i];
            SeedRow {
                id: b as u32,
                label: labels[b].clone(),
                name: f.name.clone(),
                store_path: f.store_path.clone(),
                kind: c.kind,
                evidence: c.evidence.clone(),
                size: c.size,
            }
        })
        .collect();

    Ok(AuditReport {
        audited: Audited::Packages,
        graph: g.description().to_owned(),
        through_fixed: opts.through_fixed,
        package_count: packages.len(),
        seeds_by_kind: by_kind,
        core_known_bytes: core_seeds.iter().filter_map(|s| s.class.size).sum(),
        core_unknown_sizes: core_seeds.iter().filter(|s| s.class.size.is_none()).count(),
        core: core_seeds,
        others,
        core_only_packages: core_only,
        largest,
        unknown,
        rejected_files,
        unused_seed_files,
        binary_seeds,
        packages: package_seeds,
    })
}

/// How `package` (at `from`) comes to rest on a seed (one of the nodes
/// `seed`): the shortest derivation path of its trust walk, and the
/// package trail on it.
fn example(
    g: &Graph,
    package: &str,
    from: NodeId,
    seed: &[NodeId],
    opts: WalkOptions,
) -> Option<SeedExample> {
    let walk = abovo_graph::query::Walk {
        stop_at_fixed: !opts.through_fixed,
        ..Default::default()
    };
    let tree = abovo_graph::query::ShortestPaths::tree(g, from, &walk);
    let path = seed
        .iter()
        .filter_map(|&n| tree.path_to(n))
        .min_by_key(Vec::len)?;
    Some(SeedExample {
        package: package.to_owned(),
        trail: Trails::new(g, from).and_then(|t| t.trail(&path)),
        path: steps(g, &path),
    })
}

/// The set bits of a bitset row, in order.
fn ones(row: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (wi, &w) in row.iter().enumerate() {
        let mut w = w;
        while w != 0 {
            out.push((wi * 64) as u32 + w.trailing_zeros());
            w &= w - 1;
        }
    }
    out
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
    let mut uses: HashMap<&str, usize> = HashMap::new();
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

/// The packages of a graph's package table, as audit input (rows whose
/// derivation is not in the graph are left out).
pub fn table_packages(g: &Graph) -> Vec<AuditPackage> {
    let table = g.packages();
    (0..table.len())
        .filter_map(|i| {
            let row = &table.rows()[i];
            table.node(i).map(|node| AuditPackage {
                name: row.name.clone(),
                version: Some(row.version.clone()),
                node,
            })
        })
        .collect()
}
