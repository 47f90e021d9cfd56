//! Trust over time: what changed in the trust base between two revisions
//! (`abovo seeds TARGET --against OLD`, `abovo audit --against OLD`).
//!
//! Two reports, computed on their own graphs with the same classifier, are
//! compared seed by seed:
//!
//! - **unchanged**: the same content in both: the same fixed-output hash
//!   (algorithm, digest, recursive or flat), else the same store base name
//!   (input sources). The hash, not the store path, decides, so a seed is
//!   the same in a Nix and a Guix graph, and under another file name.
//! - **changed**: a seed gone and a seed come that play the same *role*
//!   ([`SeedKey`]): the same knowledge-base entry once versions are set
//!   aside (`guile-… (x86_64-linux bootstrap Guile)`), else the same name
//!   once versions and archive extensions are set aside
//!   (`stage0-posix-1.4.tar.gz` → `stage0-posix-1.6.0.tar.gz`,
//!   `hello-2.10.tar.gz` → `hello-2.12.2.tar.gz`). Two seeds that the
//!   knowledge base names differently never pair (the i686 and armhf
//!   `bash`). When several play one role, the newest pair first.
//! - **added** and **removed**: the rest.
//!
//! For the audit, packages are matched by name across versions
//! ([`match_packages`]), and every matched package's binary seeds are
//! compared: what it gained, lost, or rests on in another version, each
//! with a shortest path (in the graph the seed is in) from the package.
//!
//! [`FailOn`] is the guard for CI: [`SeedsComparison::violations`] and
//! [`AuditComparison::violations`] list what makes it fail.

use crate::audit::{AuditPackage, AuditReport, AuditSeed, Audited};
use crate::classify::{Classification, SeedFacts};
use crate::kind::{Evidence, Kind};
use crate::report::{SeedEntry, TrustReport, WalkOptions, expands};
use crate::sizes::SizeSource;
use abovo_graph::version::{compare_versions, split_name_version};
use abovo_graph::{Graph, NodeId};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

/// What happened to a seed between the old and the new revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Only in the new revision.
    Added,
    /// Only in the old revision.
    Removed,
    /// Another seed in the same role: other content (hash) or version.
    Changed,
    /// The same content in both.
    Unchanged,
}

impl Change {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
        }
    }
}

/// When the guard for CI fails (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailOn {
    /// The new revision rests on a binary seed (kind `binary` or
    /// `source-with-binaries`) that the old one did not: added, or changed
    /// (other bytes); in the audit also a matched package newly resting on
    /// one.
    NewBinary,
    /// Any binary seed added, removed or changed; in the audit also any
    /// matched package that gained or lost one.
    AnyChange,
}

impl FailOn {
    /// The name of the flag's value.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::NewBinary => "new-binary",
            FailOn::AnyChange => "any-change",
        }
    }
}

/// What identifies a seed across revisions, and the role it plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedKey {
    /// The content: `hash:<r:algo:nix32>`, or `path:<store base name>`.
    pub identity: String,
    /// The name with versions and archive extensions set aside
    /// ([`name_role`]).
    pub role: String,
    /// The knowledge-base entry's name with versions set aside, when the
    /// knowledge base knows the seed.
    pub known_role: Option<String>,
    /// The store name, to order seeds of one role by version.
    pub name: String,
}

impl SeedKey {
    /// The key of a seed from its facts and verdict.
    pub fn of(facts: &SeedFacts, class: &Classification) -> SeedKey {
        SeedKey::new(
            facts.hash.as_deref(),
            facts.base_name(),
            &facts.name,
            class.known.as_ref().map(|k| k.name.as_str()),
        )
    }

    /// A key from its parts: the fixed-output hash as Guix shows it
    /// (`r:sha256:<nix32>`), the store base name, the store name and the
    /// knowledge base's name.
    pub fn new(hash: Option<&str>, base_name: &str, name: &str, known: Option<&str>) -> SeedKey {
        SeedKey {
            identity: match hash {
                Some(h) => format!("hash:{h}"),
                None => format!("path:{base_name}"),
            },
            role: name_role(name),
            known_role: known.map(known_role),
            name: name.to_owned(),
        }
    }

    /// The role shown in reports: the knowledge base's, else the name's.
    pub fn shown_role(&self) -> &str {
        self.known_role.as_deref().unwrap_or(&self.role)
    }
}

const ARCHIVE_EXTENSIONS: [&str; 14] = [
    ".gz", ".xz", ".bz2", ".zst", ".lz", ".lzma", ".Z", ".tar", ".tgz", ".tbz2", ".tbz", ".txz",
    ".zip", ".tlz",
];

/// Whether a `-`-separated part of a version is itself version-like: it
/// starts with a digit (`2.12.2`, `1103`, `16.e3226ff`) or is a `git
/// describe` commit (`g6e62e0e`).
fn is_version_part(part: &str) -> bool {
    let b = part.as_bytes();
    match b.first() {
        None => true,
        Some(c) if c.is_ascii_digit() => true,
        Some(b'g') => b.len() >= 8 && b[1..].iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// The role a store name plays, with versions and archive extensions set
/// aside: `stage0-posix-1.6.0.tar.gz` → `stage0-posix-*`,
/// `mes-minimal-stripped-0.19-i686-linux.tar.xz` →
/// `mes-minimal-stripped-*-i686-linux`, `bash` → `bash`.
pub fn name_role(name: &str) -> String {
    let mut base = name;
    while let Some(ext) = ARCHIVE_EXTENSIONS.iter().find(|e| base.ends_with(*e)) {
        if base.len() == ext.len() {
            break;
        }
        base = &base[..base.len() - ext.len()];
    }
    match split_name_version(base) {
        (stem, None) => stem.to_owned(),
        (stem, Some(version)) => {
            let rest: Vec<&str> = version.split('-').filter(|p| !is_version_part(p)).collect();
            if rest.is_empty() {
                format!("{stem}-*")
            } else {
                format!("{stem}-*-{}", rest.join("-"))
            }
        }
    }
}

/// A knowledge-base name with versions set aside: the file name's role,
/// and the words of its description that are not versions:
/// `guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)` → `guile-*
/// (x86_64-linux bootstrap Guile)`.
pub fn known_role(name: &str) -> String {
    match name.split_once(" (") {
        Some((file, rest)) => {
            let words: Vec<&str> = rest
                .trim_end_matches(')')
                .split(' ')
                .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            format!("{} ({})", name_role(file), words.join(" "))
        }
        None => name_role(name),
    }
}

/// How two lists of seeds pair up (indices into the lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairing {
    /// `(old, new)` with the same content.
    pub unchanged: Vec<(usize, usize)>,
    /// `(old, new)` in the same role, with other content.
    pub changed: Vec<(usize, usize)>,
    /// Old seeds with no counterpart.
    pub removed: Vec<usize>,
    /// New seeds with no counterpart.
    pub added: Vec<usize>,
}

fn version_order(a: &SeedKey, b: &SeedKey) -> Ordering {
    let va = split_name_version(&a.name).1.unwrap_or("");
    let vb = split_name_version(&b.name).1.unwrap_or("");
    compare_versions(va, vb)
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.identity.cmp(&b.identity))
}

/// Pairs `old` with `new` (see the module docs): by content, then by
/// knowledge-base role, then by name role, newest with newest.
pub fn pair(old: &[SeedKey], new: &[SeedKey]) -> Pairing {
    let mut out = Pairing::default();
    let mut old_done = vec![false; old.len()];
    let mut new_done = vec![false; new.len()];
    let mut by_identity: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (j, k) in new.iter().enumerate() {
        by_identity.entry(&k.identity).or_default().push_back(j);
    }
    for (i, k) in old.iter().enumerate() {
        if let Some(j) = by_identity
            .get_mut(k.identity.as_str())
            .and_then(VecDeque::pop_front)
        {
            out.unchanged.push((i, j));
            old_done[i] = true;
            new_done[j] = true;
        }
    }
    // Two rounds: the knowledge base's role, then the name's.
    for round in 0..2 {
        let role = |k: &SeedKey| -> Option<String> {
            if round == 0 {
                k.known_role.clone()
            } else {
                Some(k.role.clone())
            }
        };
        let mut groups: HashMap<String, (Vec<usize>, Vec<usize>)> = HashMap::new();
        for (i, k) in old.iter().enumerate().filter(|(i, _)| !old_done[*i]) {
            if let Some(r) = role(k) {
                groups.entry(r).or_default().0.push(i);
            }
        }
        for (j, k) in new.iter().enumerate().filter(|(j, _)| !new_done[*j]) {
            if let Some(r) = role(k) {
                groups.entry(r).or_default().1.push(j);
            }
        }
        let mut groups: Vec<_> = groups
            .into_iter()
            .filter(|(_, (o, n))| !o.is_empty() && !n.is_empty())
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, (mut olds, mut news)) in groups {
            olds.sort_by(|&a, &b| version_order(&old[b], &old[a]));
            news.sort_by(|&a, &b| version_order(&new[b], &new[a]));
            for i in olds {
                // The newest new seed of the role not yet taken whose
                // knowledge-base role does not contradict the old one's.
                let found = news.iter().position(|&j| {
                    !new_done[j]
                        && match (&old[i].known_role, &new[j].known_role) {
                            (Some(a), Some(b)) => a == b,
                            _ => true,
                        }
                });
                if let Some(p) = found {
                    let j = news.remove(p);
                    out.changed.push((i, j));
                    old_done[i] = true;
                    new_done[j] = true;
                }
            }
        }
    }
    out.removed = (0..old.len()).filter(|&i| !old_done[i]).collect();
    out.added = (0..new.len()).filter(|&j| !new_done[j]).collect();
    out.changed.sort_unstable();
    out
}

// ---------------------------------------------------------------------
// One target: `abovo seeds TARGET --against OLD`.

/// One side of a comparison of trust reports.
#[derive(Debug, Clone, Serialize)]
pub struct TargetSide {
    /// The graph it was computed on.
    pub graph: String,
    /// The target's store path.
    pub target: String,
    /// Its label (`hello-2.10`).
    pub target_label: String,
    /// Derivations the walk visited.
    pub derivations_walked: usize,
    /// How many seeds it rests on.
    pub seeds: usize,
}

/// A seed of one target in either revision.
#[derive(Debug, Clone, Serialize)]
pub struct SeedChange {
    /// What happened to it.
    pub change: Change,
    /// The role it plays (see [`SeedKey::shown_role`]).
    pub role: String,
    /// The seed in the old revision, with its path from the old target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<SeedEntry>,
    /// The seed in the new revision, with its path from the new target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<SeedEntry>,
}

impl SeedChange {
    /// The entry reports show first: the new one, else the old one.
    pub fn entry(&self) -> &SeedEntry {
        match (&self.new, &self.old) {
            (Some(e), _) | (None, Some(e)) => e,
            (None, None) => unreachable!("a seed change has at least one side"),
        }
    }

    /// Its kind: the new side's, else the old side's.
    pub fn kind(&self) -> Kind {
        self.entry().class.kind
    }

    /// Whether either side carries binaries.
    pub fn carries_binaries(&self) -> bool {
        [&self.old, &self.new]
            .into_iter()
            .flatten()
            .any(|e| e.class.kind.carries_binaries())
    }

    /// Whether the new side is binary content the old side was not.
    pub fn is_new_binary(&self) -> bool {
        matches!(self.change, Change::Added | Change::Changed)
            && self
                .new
                .as_ref()
                .is_some_and(|e| e.class.kind.carries_binaries())
    }
}

/// Counts of changes for one kind.
#[derive(Debug, Clone, Serialize)]
pub struct KindChanges {
    /// The kind.
    pub kind: Kind,
    /// Seeds added.
    pub added: usize,
    /// Seeds removed.
    pub removed: usize,
    /// Seeds changed.
    pub changed: usize,
    /// Seeds unchanged.
    pub unchanged: usize,
}

/// The sizes of one side's binary seeds (kinds that carry binaries).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BinaryBytes {
    /// How many.
    pub seeds: usize,
    /// The sum of the known sizes.
    pub known_bytes: u64,
    /// How many have no known size.
    pub unknown_sizes: usize,
    /// How many were measured on their own bytes.
    pub measured_seeds: usize,
    /// The sum of the measured sizes (part of `known_bytes`).
    pub measured_bytes: u64,
}

impl BinaryBytes {
    fn of<'a>(entries: impl Iterator<Item = &'a SeedEntry>) -> BinaryBytes {
        let mut b = BinaryBytes::default();
        for e in entries.filter(|e| e.class.kind.carries_binaries()) {
            b.seeds += 1;
            match e.class.size {
                Some(s) => {
                    b.known_bytes += s;
                    if e.class.size_source == SizeSource::Bytes {
                        b.measured_seeds += 1;
                        b.measured_bytes += s;
                    }
                }
                None => b.unknown_sizes += 1,
            }
        }
        b
    }
}

/// Something that makes the guard fail.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// The package concerned (`hello`), or none for a change of the
    /// distribution as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The seed, by label.
    pub seed: String,
    /// Its kind.
    pub kind: Kind,
    /// What happened: added (or gained, for a package), removed (or lost),
    /// changed.
    pub change: Change,
    /// A shortest path from the package to the seed (labels), in the
    /// revision the seed is in; empty for the distribution as a whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

/// What changed in the trust base of one target.
#[derive(Debug, Clone, Serialize)]
pub struct SeedsComparison {
    /// The old revision.
    pub old: TargetSide,
    /// The new revision.
    pub new: TargetSide,
    /// Whether the walks went through fixed-output derivations.
    pub through_fixed: bool,
    /// Changes per kind (a seed counts under its new kind, else its old).
    pub by_kind: Vec<KindChanges>,
    /// The old side's binary seeds: how many, and their sizes.
    pub old_binary: BinaryBytes,
    /// The new side's binary seeds.
    pub new_binary: BinaryBytes,
    /// Every seed of either side: added, removed, changed, unchanged, in
    /// that order, binaries first within each.
    pub seeds: Vec<SeedChange>,
}

fn entry_label(e: &SeedEntry) -> String {
    e.class.display_name(&e.facts).to_owned()
}

fn path_labels(e: &SeedEntry) -> Vec<String> {
    e.path_from_target.iter().map(|s| s.label.clone()).collect()
}

/// Compares the trust reports of one target in two revisions.
pub fn compare_seeds(old: &TrustReport, new: &TrustReport) -> SeedsComparison {
    let key = |e: &SeedEntry| SeedKey::of(&e.facts, &e.class);
    let ok: Vec<SeedKey> = old.seeds.iter().map(key).collect();
    let nk: Vec<SeedKey> = new.seeds.iter().map(key).collect();
    let p = pair(&ok, &nk);
    let mut seeds = Vec::with_capacity(old.seeds.len().max(new.seeds.len()));
    let both = |change, (i, j): (usize, usize)| SeedChange {
        change,
        role: nk[j].shown_role().to_owned(),
        old: Some(old.seeds[i].clone()),
        new: Some(new.seeds[j].clone()),
    };
    seeds.extend(p.added.iter().map(|&j| SeedChange {
        change: Change::Added,
        role: nk[j].shown_role().to_owned(),
        old: None,
        new: Some(new.seeds[j].clone()),
    }));
    seeds.extend(p.removed.iter().map(|&i| SeedChange {
        change: Change::Removed,
        role: ok[i].shown_role().to_owned(),
        old: Some(old.seeds[i].clone()),
        new: None,
    }));
    seeds.extend(p.changed.iter().map(|&ij| both(Change::Changed, ij)));
    seeds.extend(p.unchanged.iter().map(|&ij| both(Change::Unchanged, ij)));
    seeds.sort_by(|a, b| {
        a.change
            .cmp(&b.change)
            .then(a.kind().cmp(&b.kind()))
            .then_with(|| entry_label(a.entry()).cmp(&entry_label(b.entry())))
            .then_with(|| a.entry().facts.store_path.cmp(&b.entry().facts.store_path))
    });
    let by_kind = Kind::ALL
        .iter()
        .filter_map(|&kind| {
            let of = |c: Change| {
                seeds
                    .iter()
                    .filter(|s| s.kind() == kind && s.change == c)
                    .count()
            };
            let k = KindChanges {
                kind,
                added: of(Change::Added),
                removed: of(Change::Removed),
                changed: of(Change::Changed),
                unchanged: of(Change::Unchanged),
            };
            (k.added + k.removed + k.changed + k.unchanged > 0).then_some(k)
        })
        .collect();
    let side = |r: &TrustReport| TargetSide {
        graph: r.graph.clone(),
        target: r.target.clone(),
        target_label: r.target_label.clone(),
        derivations_walked: r.derivations_walked,
        seeds: r.seeds.len(),
    };
    SeedsComparison {
        old: side(old),
        new: side(new),
        through_fixed: new.through_fixed,
        by_kind,
        old_binary: BinaryBytes::of(old.seeds.iter()),
        new_binary: BinaryBytes::of(new.seeds.iter()),
        seeds,
    }
}

impl SeedsComparison {
    /// The seeds with a given change.
    pub fn with_change(&self, change: Change) -> impl Iterator<Item = &SeedChange> {
        self.seeds.iter().filter(move |s| s.change == change)
    }

    /// What makes the guard fail: the binary seeds the new revision rests on
    /// that the old one did not (`new-binary`), or every change of a binary
    /// seed (`any-change`), each with its path from the target.
    pub fn violations(&self, fail_on: FailOn) -> Vec<Violation> {
        self.seeds
            .iter()
            .filter(|s| match fail_on {
                FailOn::NewBinary => s.is_new_binary(),
                FailOn::AnyChange => s.change != Change::Unchanged && s.carries_binaries(),
            })
            .map(|s| {
                let e = s.entry();
                Violation {
                    package: Some(match &s.new {
                        Some(_) => self.new.target_label.clone(),
                        None => self.old.target_label.clone(),
                    }),
                    seed: entry_label(e),
                    kind: e.class.kind,
                    change: s.change,
                    path: path_labels(e),
                }
            })
            .collect()
    }
}

// ---------------------------------------------------------------------
// The whole distribution: `abovo audit --against OLD`.

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

fn audit_sides(r: &AuditReport) -> Vec<AuditSeedSide> {
    let by_id: HashMap<u32, &AuditSeed> =
        r.core.iter().chain(&r.others).map(|s| (s.id, s)).collect();
    r.binary_seeds
        .iter()
        .map(|row| {
            let full = by_id.get(&row.id);
            AuditSeedSide {
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
            }
        })
        .collect()
}

fn audit_key(s: &AuditSeedSide, r: &AuditReport) -> SeedKey {
    let known = r
        .core
        .iter()
        .chain(&r.others)
        .find(|a| a.id == s.id)
        .and_then(|a| a.class.known.as_ref())
        .map(|k| k.name.as_str());
    let base = s.store_path.rsplit('/').next().unwrap_or(&s.store_path);
    SeedKey::new(s.hash.as_deref(), base, &s.name, known)
}

/// Shortest paths from packages to seeds, one reverse breadth-first walk
/// per seed over the edges the trust walk follows.
struct Paths<'a> {
    graph: &'a Graph,
    opts: WalkOptions,
    /// Per seed node: per node, the next node towards the seed.
    next: HashMap<NodeId, Vec<u32>>,
}

impl Paths<'_> {
    fn path(&mut self, from: NodeId, seed: Option<NodeId>) -> Vec<String> {
        let g = self.graph;
        let Some(seed) = seed else {
            return Vec::new();
        };
        let opts = self.opts;
        let next = self.next.entry(seed).or_insert_with(|| {
            // Every fixed-output derivation with the seed's output path is
            // the seed (the same download for several systems).
            let mut sources = vec![seed];
            if let Some(out) = g.derivation(seed).and_then(|d| d.fixed_output_path()) {
                sources.extend(g.nodes().filter(|&n| {
                    n != seed
                        && g.is_fixed_output(n)
                        && g.name(n) == g.name(seed)
                        && g.derivation(n).and_then(|d| d.fixed_output_path()).as_ref()
                            == Some(&out)
                }));
            }
            let mut next = vec![u32::MAX; g.len()];
            let mut queue = VecDeque::new();
            for s in sources {
                next[s.index()] = s.0;
                queue.push_back(s);
            }
            while let Some(x) = queue.pop_front() {
                for &d in g.dependents(x) {
                    if next[d.index()] == u32::MAX && expands(g, d, opts) {
                        next[d.index()] = x.0;
                        queue.push_back(d);
                    }
                }
            }
            next
        });
        let mut path = Vec::new();
        let mut cur = from;
        if next[cur.index()] == u32::MAX {
            return path;
        }
        loop {
            path.push(g.label(cur).to_owned());
            let n = next[cur.index()];
            if n == cur.0 {
                break;
            }
            cur = NodeId(n);
        }
        path
    }
}

/// Compares the audits of two revisions: binary seeds of the
/// distributions, and of every package both have.
pub fn compare_audits(old: Revision<'_>, new: Revision<'_>, opts: WalkOptions) -> AuditComparison {
    let old_sides = audit_sides(old.report);
    let new_sides = audit_sides(new.report);
    let ok: Vec<SeedKey> = old_sides.iter().map(|s| audit_key(s, old.report)).collect();
    let nk: Vec<SeedKey> = new_sides.iter().map(|s| audit_key(s, new.report)).collect();
    let p = pair(&ok, &nk);

    // The comparison's seed table; each side's ids map into it.
    let mut seeds: Vec<AuditSeedChange> = Vec::new();
    let mut old_cid = vec![u32::MAX; old_sides.len()];
    let mut new_cid = vec![u32::MAX; new_sides.len()];
    let mut push = |change, i: Option<usize>, j: Option<usize>| {
        let cid = seeds.len() as u32;
        let role = match (i, j) {
            (_, Some(j)) => nk[j].shown_role().to_owned(),
            (Some(i), None) => ok[i].shown_role().to_owned(),
            (None, None) => String::new(),
        };
        if let Some(i) = i {
            old_cid[i] = cid;
        }
        if let Some(j) = j {
            new_cid[j] = cid;
        }
        seeds.push(AuditSeedChange {
            id: cid,
            change,
            role,
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
    let cid_key: Vec<&SeedKey> = seeds
        .iter()
        .map(|s| match (&s.new, &s.old) {
            (Some(n), _) => &nk[n.id as usize],
            (None, Some(o)) => &ok[o.id as usize],
            (None, None) => unreachable!("a seed change has at least one side"),
        })
        .collect();

    // Packages both revisions have.
    let matched = match_packages(old.packages, new.packages);
    let mut in_old = vec![false; old.packages.len()];
    let mut in_new = vec![false; new.packages.len()];
    let mut old_paths = Paths {
        graph: old.graph,
        opts,
        next: HashMap::new(),
    };
    let mut new_paths = Paths {
        graph: new.graph,
        opts,
        next: HashMap::new(),
    };
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

    // The table in report order; package changes follow the new ids.
    let mut order: Vec<usize> = (0..seeds.len()).collect();
    let in_use = |s: &AuditSeedChange| {
        s.new
            .as_ref()
            .map_or(0, |x| x.packages)
            .max(s.old.as_ref().map_or(0, |x| x.packages))
    };
    order.sort_by(|&a, &b| {
        let (x, y) = (&seeds[a], &seeds[b]);
        x.change
            .cmp(&y.change)
            .then(in_use(y).cmp(&in_use(x)))
            .then_with(|| x.side().label.cmp(&y.side().label))
    });
    let mut renumber = vec![0u32; seeds.len()];
    for (new_id, &old_id) in order.iter().enumerate() {
        renumber[old_id] = new_id as u32;
    }
    let mut table: Vec<Option<AuditSeedChange>> = seeds.into_iter().map(Some).collect();
    let seeds: Vec<AuditSeedChange> = order
        .iter()
        .enumerate()
        .filter_map(|(new_id, &i)| {
            table[i].take().map(|mut s| {
                s.id = new_id as u32;
                s
            })
        })
        .collect();
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
        through_fixed: opts.through_fixed,
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

    /// What makes the guard fail: binary seeds new to the distribution and
    /// matched packages newly resting on a binary seed (`new-binary`), or
    /// every change of either (`any-change`). Package entries come with
    /// their path.
    pub fn violations(&self, fail_on: FailOn) -> Vec<Violation> {
        let mut out = Vec::new();
        for s in &self.seeds {
            let counts = match fail_on {
                FailOn::NewBinary => matches!(s.change, Change::Added | Change::Changed),
                FailOn::AnyChange => s.change != Change::Unchanged,
            };
            if counts {
                out.push(Violation {
                    package: None,
                    seed: s.side().label.clone(),
                    kind: s.side().kind,
                    change: s.change,
                    path: Vec::new(),
                });
            }
        }
        for p in &self.packages {
            let name = p.name.clone();
            let mut add = |sp: &SeedPath, change| {
                out.push(Violation {
                    package: Some(name.clone()),
                    seed: self.label(sp.seed).to_owned(),
                    kind: self.seeds[sp.seed as usize].side().kind,
                    change,
                    path: sp.path.clone(),
                });
            };
            for sp in &p.gained {
                add(sp, Change::Added);
            }
            for sw in &p.changed {
                add(&sw.new, Change::Changed);
            }
            if fail_on == FailOn::AnyChange {
                for sp in &p.lost {
                    add(sp, Change::Removed);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: &str, name: &str, known: Option<&str>) -> SeedKey {
        SeedKey::new(Some(hash), &format!("h-{name}"), name, known)
    }

    #[test]
    fn roles_set_versions_and_archive_extensions_aside() {
        assert_eq!(name_role("stage0-posix-1.6.0.tar.gz"), "stage0-posix-*");
        assert_eq!(name_role("stage0-posix-1.4.tar.xz"), "stage0-posix-*");
        assert_eq!(
            name_role("mes-minimal-stripped-0.19-i686-linux.tar.xz"),
            "mes-minimal-stripped-*-i686-linux"
        );
        assert_eq!(
            name_role("tcc-0.9.26-1149-g46a75d0c.tar.gz"),
            name_role("tcc-0.9.26-1103-g6e62e0e.tar.gz")
        );
        assert_eq!(name_role("bash"), "bash");
        assert_ne!(name_role("bash"), name_role("bash-5.2.tar.gz"));
        assert_eq!(name_role("static-binaries.tar.xz"), "static-binaries");
        assert_eq!(name_role(".tar.gz"), ".tar");
        assert_eq!(
            name_role("linux-libre-6.12.17-gnu.tar.xz"),
            "linux-libre-*-gnu"
        );
        assert_eq!(
            known_role("guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)"),
            known_role("guile-2.0.11.tar.xz (x86_64-linux bootstrap Guile)")
        );
        assert_ne!(
            known_role("guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)"),
            known_role("guile-2.0.11.tar.xz (armhf-linux bootstrap Guile)")
        );
        assert_eq!(
            known_role("ocaml-4.14.1.tar.xz (OCaml 4.14.1 source release)"),
            "ocaml-* (OCaml source release)"
        );
    }

    #[test]
    fn pairing_by_content_then_role_newest_first() {
        let old = [
            key("sha256:a", "bash", None),
            key("sha256:b", "stage0-posix-1.4.tar.gz", None),
            key(
                "sha256:c",
                "mes-minimal-stripped-0.19-i686-linux.tar.xz",
                None,
            ),
            key("sha256:d", "ocaml-4.07.1.tar.xz", None),
            key("sha256:e", "ocaml-4.09.0.tar.xz", None),
        ];
        let new = [
            key("sha256:f", "stage0-posix-1.6.0.tar.gz", None),
            key("sha256:a", "bash-renamed", None),
            key("sha256:g", "ocaml-4.14.1.tar.xz", None),
        ];
        let p = pair(&old, &new);
        assert_eq!(
            p.unchanged,
            vec![(0, 1)],
            "the same hash under another name"
        );
        assert_eq!(p.changed, vec![(1, 0), (4, 2)], "newest with newest");
        assert_eq!(p.removed, vec![2, 3]);
        assert!(p.added.is_empty());
    }

    #[test]
    fn the_knowledge_base_keeps_systems_apart() {
        let old = [key(
            "sha256:a",
            "bash",
            Some("bash (i686-linux static bootstrap executable)"),
        )];
        let new = [key(
            "sha256:b",
            "bash",
            Some("bash (armhf-linux static bootstrap executable)"),
        )];
        let p = pair(&old, &new);
        assert!(p.changed.is_empty() && p.unchanged.is_empty());
        assert_eq!((p.removed, p.added), (vec![0], vec![0]));
        // The same entry under another file name is the same role.
        let old = [key(
            "sha256:a",
            "guile-2.0.9.tar.xz",
            Some("guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)"),
        )];
        let new = [key(
            "sha256:b",
            "guile-static.tar.xz",
            Some("guile-3.0.tar.xz (x86_64-linux bootstrap Guile)"),
        )];
        assert_eq!(pair(&old, &new).changed, vec![(0, 0)]);
    }

    #[test]
    fn duplicates_pair_one_to_one() {
        let old = [key("sha256:a", "x", None), key("sha256:a", "x", None)];
        let new = [key("sha256:a", "x", None)];
        let p = pair(&old, &new);
        assert_eq!(p.unchanged, vec![(0, 0)]);
        assert_eq!(p.removed, vec![1]);
    }

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
