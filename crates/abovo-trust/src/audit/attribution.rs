//! Per binary seed, in package terms: its leaves by name, the packages
//! that bring it in, and an example way from its first leaf to it (the
//! derivation path and the package trail on it).

use super::seeds::Binaries;
use super::tally::Tally;
use super::{AuditPackage, AuditSeed, SeedExample};
use crate::classify::{Classification, SeedFacts};
use crate::packages::{Packages, Trails};
use crate::report::steps;
use abovo_graph::query::{ShortestPaths, Walk};
use abovo_graph::{Graph, NodeId};
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
    /// Per example package (a seed's first leaf), its shortest-path tree
    /// and package trails: most seeds share their first leaf, so each is
    /// computed once, not once per seed.
    ways: FxHashMap<NodeId, (ShortestPaths<NodeId>, Option<Trails<'a>>)>,
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
            ways: FxHashMap::default(),
        }
    }

    /// Binary seed `b` as the report shows it.
    pub fn seed(
        &mut self,
        b: usize,
        binaries: &Binaries,
        classified: &[(SeedFacts, Classification)],
        tally: &Tally,
    ) -> AuditSeed {
        let (f, c) = binaries.seed(classified, b);
        let mut by_label: Vec<(&str, u32)> = tally.leaves[b]
            .iter()
            .map(|&i| (self.package_labels[i as usize].as_str(), i))
            .collect();
        by_label.sort_unstable();
        by_label.dedup_by(|a, b| a.0 == b.0);
        let leaves: Vec<String> = by_label.iter().map(|(l, _)| (*l).to_owned()).collect();
        let first = by_label.first().map(|&(_, i)| i as usize);
        let example = first.and_then(|i| {
            let from = self.packages[i].node;
            self.example(&leaves[0], from, &binaries.nodes[b])
        });
        AuditSeed {
            id: b as u32,
            label: binaries.labels[b].clone(),
            facts: f.clone(),
            class: c.clone(),
            packages: tally.counts[b],
            leaves,
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

    /// How `package` (at `from`) comes to rest on a seed (one of the nodes
    /// `seed`): the shortest derivation path of its trust walk, and the
    /// package trail on it.
    fn example(&mut self, package: &str, from: NodeId, seed: &[NodeId]) -> Option<SeedExample> {
        let (g, walk, packages) = (self.g, self.walk, self.in_packages.as_ref());
        let (tree, trails) = self.ways.entry(from).or_insert_with(|| {
            let trails = packages.and_then(|p| Trails::with(p, from));
            (ShortestPaths::tree(g, from, walk), trails)
        });
        let path = seed
            .iter()
            .filter_map(|&n| tree.path_to(n))
            .min_by_key(Vec::len)?;
        Some(SeedExample {
            package: package.to_owned(),
            trail: trails.as_ref().and_then(|t| t.trail(&path)),
            path: steps(g, &path),
        })
    }
}
