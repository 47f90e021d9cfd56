//! One target in two revisions (`abovo seeds TARGET --against OLD`): its
//! seeds paired ([`pair`]) and counted by kind and by binary bytes.

use super::Change;
use super::roles::{SeedKey, pair};
use crate::kind::Kind;
use crate::report::{SeedEntry, TrustReport};
use crate::sizes::SizeSource;
use serde::Serialize;

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

pub(super) fn entry_label(e: &SeedEntry) -> String {
    e.class.display_name(&e.facts).to_owned()
}

pub(super) fn path_labels(e: &SeedEntry) -> Vec<String> {
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
}
