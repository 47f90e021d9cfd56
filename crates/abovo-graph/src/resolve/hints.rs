//! What to tell a person whose name did not lead where they meant: near
//! names for an unknown one, the versions there are when none matches, and
//! the other derivations that share a name (several `glibc` derivations
//! exist; the one a name resolves to need not be the one a package uses).
//!
//! Near names cost a pass over every name a graph knows (94,000 in the
//! built-in snapshot), on one thread: each name's bytes are put to the
//! bound of [`super::near`] where they lie (package names in the package
//! section, derivation names in the string table, read in the table's
//! order and split at their version eight bytes at a time), and only the
//! few that pass are checked as UTF-8 and measured. A thread pool cost
//! more to start than it saved on two shared cores.

use super::is_source_artifact;
use super::near::Wanted;
use crate::graph::{Graph, NodeId};
use crate::version::{compare_versions, split_name_version};
use rustc_hash::FxHashSet;

/// How many near names an unknown name suggests.
const SUGGESTIONS: usize = 5;

/// Names longer than this get no suggestions: no package name comes near
/// it, and the similarity measure costs time in the product of the lengths
/// (a 100 kB "name" would take most of a minute against every known name).
const LONGEST_SUGGESTED: usize = 256;

/// Up to five known names close to `name` (package names, and the names
/// of derivations), best first. Case does not matter: `Hello` suggests
/// `hello` first. See the module `resolve::near` for what is close.
pub fn suggest(g: &Graph, name: &str) -> Vec<String> {
    if name.len() > LONGEST_SUGGESTED {
        return Vec::new();
    }
    let wanted = Wanted::new(name);
    // Every name is first put to the bound on its bytes, where they lie:
    // of the 94,000 names of the built-in snapshot, the few dozen it lets
    // through are checked as UTF-8 and scored. A name is scored as often
    // as it is given (most packages' names are those of their derivations
    // too), and the few near ones made distinct afterwards: cheaper than
    // hashing every name to meet each once.
    let mut scored: Vec<(f64, &str)> = Vec::new();
    let mut keep = |k| {
        if let Some(score) = wanted.score(k) {
            scored.push((score, k));
        }
    };
    let table = g.packages();
    for i in 0..table.len() {
        if !wanted.far(table.name_bytes(i)) {
            keep(table.name(i));
        }
    }
    for d in super::scan::distinct_derivation_names(g) {
        // Only derivations with a version: `name-VERSION`.
        let Some((at, far)) = wanted.far_before_version(d) else {
            continue;
        };
        // A name that is not UTF-8 as a whole is no name.
        if !far {
            if let Ok(d) = std::str::from_utf8(d) {
                keep(&d[..at]);
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    // Equal names have equal scores: they are next to each other.
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, k)| k.to_owned())
        .collect()
}

/// Every version known for `name`, newest first: the package table's, and
/// those of non-fixed-output derivations named `name-VERSION` (derived
/// sources such as `name-1.0-checkout` only when there is nothing else).
pub(crate) fn versions_of(g: &Graph, name: &str) -> Vec<String> {
    let table = g.packages();
    let mut versions: Vec<String> = (0..table.len())
        .filter(|&i| table.name(i) == name)
        .map(|i| table.version(i).to_owned())
        .collect();
    let mut artifacts = Vec::new();
    let named = super::scan::derivations_named(g, &format!("{name}-"));
    for d in named.into_iter().filter(|d| !d.fixed) {
        if let (n, Some(v)) = split_name_version(d.name) {
            if n == name {
                if is_source_artifact(v) {
                    artifacts.push(v.to_owned());
                } else {
                    versions.push(v.to_owned());
                }
            }
        }
    }
    if versions.is_empty() {
        versions = artifacts;
    }
    versions.sort_by(|a, b| compare_versions(b, a).then_with(|| a.cmp(b)));
    versions.dedup();
    versions
}

/// The other derivations that answer to the same name as `n`: for a
/// package or a derivation `glibc-2.41`, every other non-fixed-output
/// derivation named `glibc-VERSION` and every other package named `glibc`,
/// in id order. Derived sources (`glibc-2.41.tar.xz`) count only when `n`
/// is one.
pub fn namesakes(g: &Graph, n: NodeId) -> Vec<NodeId> {
    let own_label = g.label(n);
    let table = g.packages();
    let (name, own_version) = match table.rows_of(n).next() {
        Some(i) => (table.name(i), Some(table.version(i))),
        None => split_name_version(own_label),
    };
    let artifacts_too = own_version.is_some_and(is_source_artifact);
    let mut found: FxHashSet<NodeId> = FxHashSet::default();
    for i in 0..table.len() {
        if table.name(i) == name {
            if let Some(m) = table.node(i) {
                found.insert(m);
            }
        }
    }
    let named = super::scan::derivations_named(g, &format!("{name}-"));
    for d in named.into_iter().filter(|d| !d.fixed) {
        if let (dn, Some(v)) = split_name_version(d.name) {
            if dn == name && (artifacts_too || !is_source_artifact(v)) {
                found.insert(d.node);
            }
        }
    }
    found.remove(&n);
    let mut out: Vec<NodeId> = found.into_iter().collect();
    out.sort();
    out
}

/// The shortest name that [`resolve_with`](super::resolve_with) and
/// `prefs` (those of the command the name is suggested for: a name means
/// another derivation under another `--system`) turn back into exactly
/// `n`: `name@version` when that is unambiguous, else the absolute store
/// path.
pub fn spec_for(g: &Graph, n: NodeId, prefs: &super::Preferences) -> String {
    let label = super::candidates::label(g, n);
    if super::resolve_with(g, &label, prefs).ok().map(|r| r.node) == Some(n) {
        return label;
    }
    g.display_path(n)
}
