//! Counting: how many packages rest on each binary seed, the core common to
//! all, each package's seed ids and whether it is a leaf, the packages
//! resting on nothing but the core, and the largest trust bases.

use super::seeds::Binaries;
use super::sets::{SeedSets, ones};
use super::{AuditPackage, PackageSeeds, TrustBase};
use crate::classify::{Classification, SeedFacts};
use abovo_graph::Graph;
use rayon::prelude::*;

/// The counts of one audit.
pub(super) struct Tally {
    /// Per binary seed, how many packages rest on it.
    pub counts: Vec<usize>,
    /// Per binary seed, the packages resting on it that no other package
    /// rests on (indices into the packages).
    pub leaves: Vec<Vec<u32>>,
    /// The seeds every package rests on (empty with no package).
    core: Vec<u64>,
    /// Every package with the ids of its binary seeds.
    pub package_seeds: Vec<PackageSeeds>,
}

impl Tally {
    /// Counts `packages`' seed sets; `above` says which nodes a package
    /// rests on ([`super::sets::below_a_package`]).
    pub fn count(
        g: &Graph,
        packages: &[AuditPackage],
        sets: &SeedSets,
        above: &[bool],
        bits: usize,
    ) -> Tally {
        // Each package's row in parallel (naming its derivation is most of
        // the work), then the counts in one pass.
        let package_seeds: Vec<PackageSeeds> = packages
            .par_iter()
            .map(|p| PackageSeeds {
                name: p.name.clone(),
                version: p.version.clone(),
                drv: g.display_path(p.node),
                seeds: ones(sets.row(p.node)),
            })
            .collect();
        let mut counts = vec![0usize; bits];
        let mut leaves: Vec<Vec<u32>> = vec![Vec::new(); bits];
        let mut core = vec![u64::MAX; sets.words()];
        for (pi, (p, ps)) in packages.iter().zip(&package_seeds).enumerate() {
            for (c, v) in core.iter_mut().zip(sets.row(p.node)) {
                *c &= v;
            }
            for &b in &ps.seeds {
                counts[b as usize] += 1;
                if !above[p.node.index()] {
                    leaves[b as usize].push(pi as u32);
                }
            }
        }
        if packages.is_empty() {
            core.fill(0);
        }
        Tally {
            counts,
            leaves,
            core,
            package_seeds,
        }
    }

    /// Whether every package rests on binary seed `b`.
    pub fn in_core(&self, b: usize) -> bool {
        self.core[b / 64] >> (b % 64) & 1 == 1
    }

    /// How many packages rest on nothing but the core.
    pub fn core_only(&self, packages: &[AuditPackage], sets: &SeedSets) -> usize {
        packages
            .iter()
            .filter(|p| sets.row(p.node) == self.core.as_slice())
            .count()
    }

    /// The `top` packages with the most binary seeds (then the most known
    /// bytes, then by label), with the seeds they rest on beyond the core.
    pub fn largest(
        &self,
        g: &Graph,
        packages: &[AuditPackage],
        package_labels: &[String],
        binaries: &Binaries,
        classified: &[(SeedFacts, Classification)],
        top: usize,
    ) -> Vec<TrustBase> {
        let size_of = |b: u32| binaries.seed(classified, b as usize).1.size;
        let mut ranked: Vec<(usize, u64, usize, usize)> = self
            .package_seeds
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
        ranked
            .into_iter()
            .map(|(n, bytes, unknown_sizes, pi)| {
                let beyond_core_ids: Vec<u32> = self.package_seeds[pi]
                    .seeds
                    .iter()
                    .copied()
                    .filter(|&b| !self.in_core(b as usize))
                    .collect();
                let mut beyond_core: Vec<String> = beyond_core_ids
                    .iter()
                    .map(|&b| binaries.labels[b as usize].clone())
                    .collect();
                beyond_core.sort_unstable();
                beyond_core.dedup();
                TrustBase {
                    package: package_labels[pi].clone(),
                    derivation: g.display_path(packages[pi].node),
                    binary_seeds: n,
                    known_bytes: bytes,
                    unknown_sizes,
                    beyond_core,
                    beyond_core_ids,
                }
            })
            .collect()
    }
}
