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

use crate::classify::{Classification, SeedFacts, Seeds};
use crate::kind::Kind;
use crate::report::{WalkOptions, expands, is_seed};
use abovo_graph::{Graph, NodeId};
use rayon::prelude::*;
use serde::Serialize;

/// A package to audit: its name (as people type it) and its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPackage {
    /// `name@version`.
    pub name: String,
    /// Its derivation.
    pub node: NodeId,
}

/// A binary seed in the audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSeed {
    /// What the graph says about it.
    #[serde(flatten)]
    pub facts: SeedFacts,
    /// The verdict.
    #[serde(flatten)]
    pub class: Classification,
    /// How many audited packages rest on it.
    pub packages: usize,
    /// The `guix refresh -l`-style leaves: packages resting on it that no
    /// other such package depends on.
    pub leaves: Vec<String>,
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
    /// The binary seeds outside the core (store names).
    pub beyond_core: Vec<String>,
}

/// The audit's answer.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The graph it was computed on.
    pub graph: String,
    /// Whether the walk went through fixed-output derivations.
    pub through_fixed: bool,
    /// Packages audited.
    pub packages: usize,
    /// Distinct seeds (store items) reached from them, per kind.
    pub seeds_by_kind: Vec<(Kind, usize)>,
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
pub fn audit(
    g: &Graph,
    packages: &[AuditPackage],
    seeds: &Seeds,
    opts: WalkOptions,
    top: usize,
) -> AuditReport {
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
            let class = seeds.classify(g, &facts);
            (facts, class)
        })
        .collect();
    let mut by_kind = std::collections::BTreeMap::new();
    let mut counted = std::collections::HashSet::new();
    for (f, c) in &classified {
        if counted.insert(f.store_path.as_str()) {
            *by_kind.entry(c.kind).or_insert(0usize) += 1;
        }
    }
    // Two fixed-output derivations with the same output path (the same
    // hash and name, built for different systems) are one seed: one bit.
    let mut bit_of = vec![u32::MAX; g.len()];
    let mut binaries: Vec<usize> = Vec::new();
    let mut by_path: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for (i, (f, c)) in classified.iter().enumerate() {
        if c.kind.carries_binaries() {
            let bit = *by_path.entry(f.store_path.as_str()).or_insert_with(|| {
                binaries.push(i);
                (binaries.len() - 1) as u32
            });
            bit_of[f.node.index()] = bit;
        }
    }

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

    // 5. Counts, core, leaves.
    let mut counts = vec![0usize; binaries.len()];
    let mut leaves: Vec<Vec<u32>> = vec![Vec::new(); binaries.len()];
    let mut core = vec![u64::MAX; words];
    for (pi, p) in packages.iter().enumerate() {
        let r = bits.row(p.node.index());
        for (c, v) in core.iter_mut().zip(r) {
            *c &= v;
        }
        for (wi, &w) in r.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let b = wi * 64 + w.trailing_zeros() as usize;
                w &= w - 1;
                counts[b] += 1;
                if !above[p.node.index()] {
                    leaves[b].push(pi as u32);
                }
            }
        }
    }
    if packages.is_empty() {
        core.fill(0);
    }
    let in_core = |b: usize| core[b / 64] >> (b % 64) & 1 == 1;
    let make = |b: usize| {
        let (f, c) = &classified[binaries[b]];
        let mut l: Vec<String> = leaves[b]
            .iter()
            .map(|&i| packages[i as usize].name.clone())
            .collect();
        l.sort_unstable();
        l.dedup();
        AuditSeed {
            facts: f.clone(),
            class: c.clone(),
            packages: counts[b],
            leaves: l,
        }
    };
    let mut core_seeds: Vec<AuditSeed> = (0..binaries.len())
        .filter(|&b| in_core(b))
        .map(make)
        .collect();
    core_seeds.sort_by(|a, b| {
        b.class
            .size
            .cmp(&a.class.size)
            .then(a.facts.name.cmp(&b.facts.name))
    });
    let mut others: Vec<AuditSeed> = (0..binaries.len())
        .filter(|&b| !in_core(b) && counts[b] > 0)
        .map(make)
        .collect();
    others.sort_by(|a, b| {
        b.packages
            .cmp(&a.packages)
            .then(a.facts.name.cmp(&b.facts.name))
    });

    // 6. Core-only packages and the largest trust bases.
    let core_only = packages
        .iter()
        .filter(|p| bits.row(p.node.index()) == core.as_slice())
        .count();
    let size_of = |b: usize| classified[binaries[b]].1.size.unwrap_or(0);
    let mut ranked: Vec<(usize, u64, usize)> = packages
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let r = bits.row(p.node.index());
            let mut n = 0;
            let mut bytes = 0;
            for (wi, &w) in r.iter().enumerate() {
                let mut w = w;
                while w != 0 {
                    let b = wi * 64 + w.trailing_zeros() as usize;
                    w &= w - 1;
                    n += 1;
                    bytes += size_of(b);
                }
            }
            (n, bytes, pi)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(packages[a.2].name.cmp(&packages[b.2].name))
    });
    ranked.truncate(top);
    let largest: Vec<TrustBase> = ranked
        .into_iter()
        .map(|(n, bytes, pi)| {
            let p = &packages[pi];
            let r = bits.row(p.node.index());
            TrustBase {
                package: p.name.clone(),
                derivation: g.display_path(p.node),
                binary_seeds: n,
                known_bytes: bytes,
                beyond_core: (0..binaries.len())
                    .filter(|&b| r[b / 64] >> (b % 64) & 1 == 1 && !in_core(b))
                    .map(|b| classified[binaries[b]].0.name.clone())
                    .collect(),
            }
        })
        .collect();

    AuditReport {
        graph: g.description().to_owned(),
        through_fixed: opts.through_fixed,
        packages: packages.len(),
        seeds_by_kind: by_kind.into_iter().collect(),
        core_known_bytes: core_seeds.iter().filter_map(|s| s.class.size).sum(),
        core_unknown_sizes: core_seeds.iter().filter(|s| s.class.size.is_none()).count(),
        core: core_seeds,
        others,
        core_only_packages: core_only,
        largest,
    }
}

/// The packages of a graph's package table, as audit input (rows whose
/// derivation is not in the graph are left out).
pub fn table_packages(g: &Graph) -> Vec<AuditPackage> {
    let table = g.packages();
    (0..table.len())
        .filter_map(|i| {
            let row = &table.rows()[i];
            table.node(i).map(|node| AuditPackage {
                name: row.full_name(),
                node,
            })
        })
        .collect()
}
