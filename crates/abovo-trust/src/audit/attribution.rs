//! Per binary seed, in package terms: its leaves by name, the packages
//! that bring it in, and an example way from its first leaf to it (the
//! derivation path and the package trail on it).
//!
//! Most seeds share their first leaf, so the shortest-path tree of each
//! distinct first leaf is computed once; the trees, then the seeds, are
//! computed in parallel (each is independent of the others, and together
//! they were a sixth of the audit on one core).

use super::seeds::Binaries;
use super::tally::Tally;
use super::{AuditPackage, AuditSeed, SeedExample};
use crate::classify::{Classification, SeedFacts};
use crate::packages::{Packages, Trails};
use crate::report::steps;
use abovo_graph::query::{ShortestPaths, Walk};
use abovo_graph::{Graph, NodeId};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// What attributing seeds to packages needs, computed once.
pub(super) struct Attribution<'a> {
    g: &'a Graph,
    packages: &'a [AuditPackage],
    walk: &'a Walk,
    /// Every package's `name@version`.
    pub package_labels: Vec<String>,
    /// The graph's packages, when it has package graphs.
    in_packages: Option<Packages<'a>>,
}

/// A seed's leaves by label (sorted, each label once) and the package
/// index of the first.
struct Leaves<'l> {
    labels: Vec<&'l str>,
    first: Option<usize>,
}

impl<'a> Attribution<'a> {
    /// Prepares the attribution of seeds to `packages`.
    pub fn new(g: &'a Graph, packages: &'a [AuditPackage], walk: &'a Walk) -> Attribution<'a> {
        Attribution {
            g,
            packages,
            walk,
            package_labels: packages.iter().map(AuditPackage::label).collect(),
            in_packages: Packages::new(g),
        }
    }

    /// The binary seeds `bits` as the report shows them, in that order.
    pub fn seeds(
        &self,
        bits: &[usize],
        binaries: &Binaries,
        classified: &[(SeedFacts, Classification)],
        tally: &Tally,
    ) -> Vec<AuditSeed> {
        let leaves: Vec<Leaves<'_>> = bits
            .iter()
            .map(|&b| self.leaves(&tally.leaves[b]))
            .collect();
        // Each distinct example package's shortest-path tree and package
        // trails, once.
        let mut froms: Vec<NodeId> = leaves
            .iter()
            .filter_map(|l| Some(self.packages[l.first?].node))
            .collect();
        froms.sort_unstable();
        froms.dedup();
        let ways: FxHashMap<NodeId, Way<'_>> = froms
            .par_iter()
            .map(|&from| {
                let trails = self
                    .in_packages
                    .as_ref()
                    .and_then(|p| Trails::with(p, from));
                (from, (ShortestPaths::tree(self.g, from, self.walk), trails))
            })
            .collect();
        bits.par_iter()
            .zip(leaves)
            .map(|(&b, leaves)| self.seed(b, leaves, &ways, binaries, classified, tally))
            .collect()
    }

    /// The leaves of a seed (`of`, indices into the packages) by label.
    fn leaves(&self, of: &[u32]) -> Leaves<'_> {
        let mut by_label: Vec<(&str, u32)> = of
            .iter()
            .map(|&i| (self.package_labels[i as usize].as_str(), i))
            .collect();
        by_label.sort_unstable();
        by_label.dedup_by(|a, b| a.0 == b.0);
        Leaves {
            first: by_label.first().map(|&(_, i)| i as usize),
            labels: by_label.into_iter().map(|(l, _)| l).collect(),
        }
    }

    /// Binary seed `b`, whose leaves are `leaves`.
    fn seed(
        &self,
        b: usize,
        leaves: Leaves<'_>,
        ways: &FxHashMap<NodeId, Way<'_>>,
        binaries: &Binaries,
        classified: &[(SeedFacts, Classification)],
        tally: &Tally,
    ) -> AuditSeed {
        let (f, c) = binaries.seed(classified, b);
        let example = leaves.first.and_then(|i| {
            let way = ways.get(&self.packages[i].node)?;
            self.example(leaves.labels[0], way, &binaries.nodes[b])
        });
        AuditSeed {
            id: b as u32,
            label: binaries.labels[b].clone(),
            facts: f.clone(),
            class: c.clone(),
            packages: tally.counts[b],
            leaves: leaves.labels.iter().map(|&l| l.to_owned()).collect(),
            brought_in_by: self
                .in_packages
                .as_ref()
                .map(|p| {
                    p.bringers(&binaries.nodes[b])
                        .into_iter()
                        .map(|b| p.step(b))
                        .collect()
                })
                .unwrap_or_default(),
            example,
        }
    }

    /// How `package` comes to rest on a seed (one of the nodes `seed`),
    /// by its `way`: the shortest derivation path of its trust walk, and
    /// the package trail on it.
    fn example(&self, package: &str, way: &Way<'_>, seed: &[NodeId]) -> Option<SeedExample> {
        let (tree, trails) = way;
        let path = seed
            .iter()
            .filter_map(|&n| tree.path_to(n))
            .min_by_key(Vec::len)?;
        Some(SeedExample {
            package: package.to_owned(),
            trail: trails.as_ref().and_then(|t| t.trail(&path)),
            path: steps(self.g, &path),
        })
    }
}

/// An example package's shortest-path tree of its trust walk, and its
/// package trails.
type Way<'g> = (ShortestPaths<NodeId>, Option<Trails<'g>>);
