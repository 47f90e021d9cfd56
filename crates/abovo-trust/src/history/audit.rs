//! The whole distribution in two revisions (`abovo audit --against OLD`):
//! packages matched by name across versions ([`match_packages`]), binary
//! seeds paired ([`pair`]), and for every matched package what it gained,
//! lost, or rests on in another version, each with a shortest path.

use super::Change;
use super::roles::{SeedKey, pair};
use crate::audit::{AuditPackage, AuditReport, AuditSeed, Audited};
use crate::kind::{Evidence, Kind};
use crate::sizes::SizeSource;
use abovo_graph::query::{PathsTo, Walk};
use abovo_graph::version::{compare_versions, split_name_version};
use abovo_graph::{Graph, NodeId};
use serde::Serialize;
use std::collections::HashMap;

/// One revision of an audit comparison: its graph, the packages audited
/// (in the order of `report.packages`) and the audit.
#[derive(Clone, Copy)]
pub struct Revision<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// The packages audited.
    pub packages: &'a [AuditPackage],
    /// Their audit.
    pub report: &'a AuditReport,
}

/// Matches packages across revisions by name (see [`package_name`]):
/// equal versions first, then the rest newest with newest. Returns `(old
/// index, new index)` pairs, sorted.
pub fn match_packages(old: &[AuditPackage], new: &[AuditPackage]) -> Vec<(usize, usize)> {
    let mut groups: HashMap<&str, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, p) in old.iter().enumerate() {
        groups.entry(package_name(p).0).or_default().0.push(i);
    }
    for (j, p) in new.iter().enumerate() {
        groups.entry(package_name(p).0).or_default().1.push(j);
    }
    let mut out = Vec::new();
    for (_, (mut olds, mut news)) in groups {
        if olds.is_empty() || news.is_empty() {
            continue;
        }
        // Same version first.
        olds.retain(|&i| {
            let v = package_name(&old[i]).1;
            match news.iter().position(|&j| package_name(&new[j]).1 == v) {
                Some(p) => {
                    out.push((i, news.remove(p)));
                    false
                }
                None => true,
            }
        });
        let newest_first = |list: &mut Vec<usize>, ps: &[AuditPackage]| {
            list.sort_by(|&a, &b| {
                compare_versions(
                    package_name(&ps[b]).1.unwrap_or(""),
                    package_name(&ps[a]).1.unwrap_or(""),
                )
                .then(a.cmp(&b))
            });
        };
        newest_first(&mut olds, old);
        newest_first(&mut news, new);
        out.extend(olds.into_iter().zip(news));
    }
    out.sort_unstable();
    out
}

/// A package's name and version: the package table's, or, for a root
/// derivation (no version given), its label split as Guix splits
/// `name-version`.
pub fn package_name(p: &AuditPackage) -> (&str, Option<&str>) {
    match &p.version {
        Some(v) => (p.name.as_str(), Some(v.as_str())),
        None => split_name_version(&p.name),
    }
}

/// A binary seed of one side of an audit comparison.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSeedSide {
    /// Its id in that side's audit (`binary_seeds`).
    pub id: u32,
    /// The label that audit shows.
    pub label: String,
    /// The store name.
    pub name: String,
    /// The seed's store path.
    pub store_path: String,
    /// Its fixed-output hash, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Its kind.
    pub kind: Kind,
    /// The evidence for it.
    pub evidence: Evidence,
    /// Its size, when known.
    pub size: Option<u64>,
    /// Where the size came from.
    pub size_source: SizeSource,
    /// How many audited packages of that side rest on it.
    pub packages: usize,
    #[serde(skip)]
    node: Option<NodeId>,
}

/// A binary seed of either revision of an audit comparison.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSeedChange {
    /// Its id in the comparison (`seeds`): what `packages[].gained` … point to.
    pub id: u32,
    /// What happened to it.
    pub change: Change,
    /// The role it plays.
    pub role: String,
    /// The seed in the old revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<AuditSeedSide>,
    /// The seed in the new revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<AuditSeedSide>,
    /// Matched packages that rest on it now and did not before.
    pub gained: usize,
    /// Matched packages that rested on it before and do not now.
    pub lost: usize,
    /// Matched packages that rest on it in both, in another version
    /// (`changed` seeds only).
    pub changed_under: usize,
}

impl AuditSeedChange {
    /// The side reports show first: the new one, else the old one.
    pub fn side(&self) -> &AuditSeedSide {
        match (&self.new, &self.old) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => unreachable!("a seed change has at least one side"),
        }
    }
}

/// A seed of a package's change, with a shortest path to it.
#[derive(Debug, Clone, Serialize)]
pub struct SeedPath {
    /// The seed's id in [`AuditComparison::seeds`].
    pub seed: u32,
    /// A shortest path from the package to it (labels), in the revision
    /// the seed is in.
    pub path: Vec<String>,
}

/// A seed a package rests on in another version.
#[derive(Debug, Clone, Serialize)]
pub struct SeedSwap {
    /// The old seed, in the old revision.
    pub old: SeedPath,
    /// The new seed, in the new revision.
    pub new: SeedPath,
}

/// What changed under one package present in both revisions.
#[derive(Debug, Clone, Serialize)]
pub struct PackageChange {
    /// The package name.
    pub name: String,
    /// Its old version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_version: Option<String>,
    /// Its new version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_version: Option<String>,
    /// Its old derivation.
    pub old_drv: String,
    /// Its new derivation.
    pub new_drv: String,
    /// Binary seeds it rests on now and did not before.
    pub gained: Vec<SeedPath>,
    /// Binary seeds it rested on before and does not now.
    pub lost: Vec<SeedPath>,
    /// Binary seeds it rests on in another version (a changed seed, or a
    /// seed lost and one gained in the same role).
    pub changed: Vec<SeedSwap>,
}

/// One side of an audit comparison.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSide {
    /// The graph.
    pub graph: String,
    /// What was audited.
    pub audited: Audited,
    /// How many.
    pub package_count: usize,
    /// Distinct binary seeds reached.
    pub binary_seeds: usize,
}

/// What changed in the binary seeds of a distribution.
#[derive(Debug, Clone, Serialize)]
pub struct AuditComparison {
    /// The old revision.
    pub old: AuditSide,
    /// The new revision.
    pub new: AuditSide,
    /// Whether the walks went through fixed-output derivations.
    pub through_fixed: bool,
    /// Packages present in both (matched by name).
    pub matched: usize,
    /// Matched packages whose binary seeds did not change.
    pub unchanged_packages: usize,
    /// Packages only in the old revision (`name@version`).
    pub only_old: Vec<String>,
    /// Packages only in the new revision.
    pub only_new: Vec<String>,
    /// Every binary seed of either revision, added, removed, changed,
    /// unchanged in that order, then by packages resting on it.
    pub seeds: Vec<AuditSeedChange>,
    /// Every matched package whose binary seeds changed, by name.
    pub packages: Vec<PackageChange>,
}

/// The binary seeds of one side's audit, in the order of its
/// `binary_seeds`, each with its key.
fn audit_sides(r: &AuditReport) -> (Vec<AuditSeedSide>, Vec<SeedKey>) {
    let by_id: HashMap<u32, &AuditSeed> =
        r.core.iter().chain(&r.others).map(|s| (s.id, s)).collect();
    r.binary_seeds
        .iter()
        .map(|row| {
            let full = by_id.get(&row.id);
            let side = AuditSeedSide {
                id: row.id,
                label: row.label.clone(),
                name: row.name.clone(),
                store_path: row.store_path.clone(),
                hash: full.and_then(|s| s.facts.hash.clone()),
                kind: row.kind,
                evidence: row.evidence.clone(),
                size: row.size,
                size_source: full.map_or(SizeSource::Unknown, |s| s.class.size_source),
                packages: full.map_or(0, |s| s.packages),
                node: full.map(|s| s.facts.node),
            };
            let known = full.and_then(|s| s.class.known.as_ref());
            let base = row.store_path.rsplit('/').next().unwrap_or(&row.store_path);
            let key = SeedKey::new(
                side.hash.as_deref(),
                base,
                &row.name,
                known.map(|k| k.name.as_str()),
            );
            (side, key)
        })
        .unzip()
}

/// Shortest paths from packages to seeds ([`PathsTo`]), one tree per
/// seed, over the edges the trust walk follows.
struct Paths<'a> {
    graph: &'a Graph,
    walk: Walk,
    /// Per seed node: the paths to it.
    to: HashMap<NodeId, PathsTo<NodeId>>,
}

impl<'a> Paths<'a> {
    fn new(graph: &'a Graph, walk: &Walk) -> Paths<'a> {
        Paths {
            graph,
            walk: *walk,
            to: HashMap::new(),
        }
    }

    /// A shortest path from `from` to `seed` (labels); empty when there is
    /// none, or no seed.
    fn path(&mut self, from: NodeId, seed: Option<NodeId>) -> Vec<String> {
        let g = self.graph;
        let Some(seed) = seed else {
            return Vec::new();
        };
        let walk = self.walk;
        let to = self.to.entry(seed).or_insert_with(|| {
            // Every fixed-output derivation with the seed's output path is
            // the seed (the same download for several systems).
            let mut targets = vec![seed];
            if let Some(out) = g.derivation(seed).and_then(|d| d.fixed_output_path()) {
                targets.extend(g.nodes().filter(|&n| {
                    n != seed
                        && g.is_fixed_output(n)
                        && g.name(n) == g.name(seed)
                        && g.derivation(n).and_then(|d| d.fixed_output_path()).as_ref()
                            == Some(&out)
                }));
            }
            PathsTo::tree(g, &targets, &walk)
        });
        to.path_from(from)
            .map(|p| p.iter().map(|&n| g.label(n).to_owned()).collect())
            .unwrap_or_default()
    }
}

/// Compares the audits of two revisions: binary seeds of the
/// distributions, and of every package both have.
pub fn compare_audits(old: Revision<'_>, new: Revision<'_>, walk: &Walk) -> AuditComparison {
    let (old_sides, ok) = audit_sides(old.report);
    let (new_sides, nk) = audit_sides(new.report);
    let p = pair(&ok, &nk);

    // The comparison's seed table, with the key of each (the new side's,
    // else the old side's); each side's ids map into it.
    let mut seeds: Vec<AuditSeedChange> = Vec::new();
    let mut cid_key: Vec<&SeedKey> = Vec::new();
    let mut old_cid = vec![u32::MAX; old_sides.len()];
    let mut new_cid = vec![u32::MAX; new_sides.len()];
    let mut push = |change, i: Option<usize>, j: Option<usize>| {
        let cid = seeds.len() as u32;
        let key = match (i, j) {
            (_, Some(j)) => &nk[j],
            (Some(i), None) => &ok[i],
            (None, None) => unreachable!("a seed change has at least one side"),
        };
        cid_key.push(key);
        if let Some(i) = i {
            old_cid[i] = cid;
        }
        if let Some(j) = j {
            new_cid[j] = cid;
        }
        seeds.push(AuditSeedChange {
            id: cid,
            change,
            role: key.shown_role().to_owned(),
            old: i.map(|i| old_sides[i].clone()),
            new: j.map(|j| new_sides[j].clone()),
            gained: 0,
            lost: 0,
            changed_under: 0,
        });
    };
    for &j in &p.added {
        push(Change::Added, None, Some(j));
    }
    for &i in &p.removed {
        push(Change::Removed, Some(i), None);
    }
    for &(i, j) in &p.changed {
        push(Change::Changed, Some(i), Some(j));
    }
    for &(i, j) in &p.unchanged {
        push(Change::Unchanged, Some(i), Some(j));
    }

    // Packages both revisions have.
    let matched = match_packages(old.packages, new.packages);
    let mut in_old = vec![false; old.packages.len()];
    let mut in_new = vec![false; new.packages.len()];
    let mut old_paths = Paths::new(old.graph, walk);
    let mut new_paths = Paths::new(new.graph, walk);
    let mut packages = Vec::new();
    let mut counts = vec![(0usize, 0usize, 0usize); seeds.len()];
    for &(oi, ni) in &matched {
        in_old[oi] = true;
        in_new[ni] = true;
        let o: Vec<u32> = old.report.packages[oi]
            .seeds
            .iter()
            .map(|&b| old_cid[b as usize])
            .collect();
        let n: Vec<u32> = new.report.packages[ni]
            .seeds
            .iter()
            .map(|&b| new_cid[b as usize])
            .collect();
        let mut lost: Vec<u32> = o.iter().copied().filter(|c| !n.contains(c)).collect();
        let mut gained: Vec<u32> = n.iter().copied().filter(|c| !o.contains(c)).collect();
        let mut swaps: Vec<(u32, u32)> = o
            .iter()
            .copied()
            .filter(|c| n.contains(c) && seeds[*c as usize].change == Change::Changed)
            .map(|c| (c, c))
            .collect();
        for &c in &gained {
            counts[c as usize].0 += 1;
        }
        for &c in &lost {
            counts[c as usize].1 += 1;
        }
        for &(c, _) in &swaps {
            counts[c as usize].2 += 1;
        }
        if lost.is_empty() && gained.is_empty() && swaps.is_empty() {
            continue;
        }
        // A seed lost and one gained in the same role: another version.
        if !lost.is_empty() && !gained.is_empty() {
            let lk: Vec<SeedKey> = lost.iter().map(|&c| cid_key[c as usize].clone()).collect();
            let gk: Vec<SeedKey> = gained
                .iter()
                .map(|&c| cid_key[c as usize].clone())
                .collect();
            let local = pair(&lk, &gk);
            swaps.extend(local.changed.iter().map(|&(a, b)| (lost[a], gained[b])));
            let keep_lost: Vec<u32> = local.removed.iter().map(|&a| lost[a]).collect();
            let keep_gained: Vec<u32> = local.added.iter().map(|&b| gained[b]).collect();
            lost = keep_lost;
            gained = keep_gained;
        }
        let old_node = old.packages[oi].node;
        let new_node = new.packages[ni].node;
        let old_seed = |c: u32| seeds[c as usize].old.as_ref().and_then(|s| s.node);
        let new_seed = |c: u32| seeds[c as usize].new.as_ref().and_then(|s| s.node);
        let (op, np) = (&old.packages[oi], &new.packages[ni]);
        packages.push(PackageChange {
            name: package_name(np).0.to_owned(),
            old_version: package_name(op).1.map(str::to_owned),
            new_version: package_name(np).1.map(str::to_owned),
            old_drv: old.report.packages[oi].drv.clone(),
            new_drv: new.report.packages[ni].drv.clone(),
            gained: gained
                .iter()
                .map(|&c| SeedPath {
                    seed: c,
                    path: new_paths.path(new_node, new_seed(c)),
                })
                .collect(),
            lost: lost
                .iter()
                .map(|&c| SeedPath {
                    seed: c,
                    path: old_paths.path(old_node, old_seed(c)),
                })
                .collect(),
            changed: swaps
                .iter()
                .map(|&(a, b)| SeedSwap {
                    old: SeedPath {
                        seed: a,
                        path: old_paths.path(old_node, old_seed(a)),
                    },
                    new: SeedPath {
                        seed: b,
                        path: new_paths.path(new_node, new_seed(b)),
                    },
                })
                .collect(),
        });
    }
    for (s, (g, l, c)) in seeds.iter_mut().zip(counts) {
        s.gained = g;
        s.lost = l;
        s.changed_under = c;
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.new_drv.cmp(&b.new_drv)));

    // The table in report order (a stable sort); package changes follow
    // the new ids.
    let in_use = |s: &AuditSeedChange| {
        s.new
            .as_ref()
            .map_or(0, |x| x.packages)
            .max(s.old.as_ref().map_or(0, |x| x.packages))
    };
    seeds.sort_by(|x, y| {
        x.change
            .cmp(&y.change)
            .then(in_use(y).cmp(&in_use(x)))
            .then_with(|| x.side().label.cmp(&y.side().label))
    });
    let mut renumber = vec![0u32; seeds.len()];
    for (new_id, s) in seeds.iter_mut().enumerate() {
        renumber[s.id as usize] = new_id as u32;
        s.id = new_id as u32;
    }
    for pc in &mut packages {
        for sp in pc.gained.iter_mut().chain(pc.lost.iter_mut()) {
            sp.seed = renumber[sp.seed as usize];
        }
        for sw in &mut pc.changed {
            sw.old.seed = renumber[sw.old.seed as usize];
            sw.new.seed = renumber[sw.new.seed as usize];
        }
    }

    let only = |ps: &[AuditPackage], taken: &[bool]| -> Vec<String> {
        let mut v: Vec<String> = ps
            .iter()
            .zip(taken)
            .filter(|(_, t)| !**t)
            .map(|(p, _)| p.label())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let side = |r: &Revision<'_>| AuditSide {
        graph: r.report.graph.clone(),
        audited: r.report.audited,
        package_count: r.report.package_count,
        binary_seeds: r.report.binary_seeds.len(),
    };
    AuditComparison {
        old: side(&old),
        new: side(&new),
        through_fixed: !walk.stop_at_fixed,
        matched: matched.len(),
        unchanged_packages: matched.len() - packages.len(),
        only_old: only(old.packages, &in_old),
        only_new: only(new.packages, &in_new),
        seeds,
        packages,
    }
}

impl AuditComparison {
    /// The label of seed `id` (its new side's, else its old side's).
    pub fn label(&self, id: u32) -> &str {
        &self.seeds[id as usize].side().label
    }

    /// The package's name as reports show it: `name@old → new`, or
    /// `name@version` when the version did not change.
    pub fn package_label(p: &PackageChange) -> String {
        match (&p.old_version, &p.new_version) {
            (Some(a), Some(b)) if a != b => format!("{}@{a} → {b}", p.name),
            (_, Some(v)) | (Some(v), None) => format!("{}@{v}", p.name),
            (None, None) => p.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_match_by_name_across_versions() {
        let pkg = |name: &str, version: Option<&str>, n: u32| AuditPackage {
            name: name.into(),
            version: version.map(str::to_owned),
            node: NodeId(n),
        };
        let old = [
            pkg("hello", Some("2.10"), 0),
            pkg("python", Some("2.7.18"), 1),
            pkg("python", Some("3.8.2"), 2),
            pkg("gone", Some("1"), 3),
        ];
        let new = [
            pkg("python", Some("3.11.11"), 0),
            pkg("hello", Some("2.12.2"), 1),
            pkg("python", Some("2.7.18"), 2),
            pkg("fresh", Some("1"), 3),
        ];
        assert_eq!(match_packages(&old, &new), vec![(0, 1), (1, 2), (2, 0)]);
        // Root derivations: the label's name part.
        let old = [pkg("hello-2.10", None, 0)];
        let new = [pkg("hello-2.12.2", None, 0), pkg("hello-world-1", None, 1)];
        assert_eq!(match_packages(&old, &new), vec![(0, 0)]);
    }
}
