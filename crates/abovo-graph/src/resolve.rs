//! Name resolution: from what a person types to a node.
//!
//! Accepted, in this order:
//! 1. an absolute store path: a `.drv` path, or an output path (or a file
//!    inside one), resolved to the derivation that builds it;
//! 2. a store base name `<hash>-<name>`, likewise;
//! 3. `name` or `name@version`. The version after `@` is a prefix, component
//!    by component as in Guix (`openjdk@21` is the newest 21.x). With a
//!    package table, names are package names; names the table does not know
//!    (or every name, without a table) are matched against the derivations
//!    that are not fixed-output, split into name and version at the first
//!    hyphen followed by a digit; derived sources (`…-checkout`, `….tar.xz`)
//!    count only when nothing else matches. The newest version wins.
//! 4. a derivation name as in its file name (`hello-2.12.2` or
//!    `hello-2.12.2.drv`), when exactly one derivation has it.
//!
//! Several distinct derivations left after name and version matching (the
//! same `name@version` built for three systems, or defined twice) are a
//! tie. [`resolve`] calls every tie an ambiguity; [`resolve_with`] first
//! lets [`Preferences`] break it, the way Guix would never meet it: a
//! preferred system (Guix works for one system at a time, by default the
//! host's, [`host_system`]) keeps the candidates built for it, then, for
//! the second node of a question about two (`path FROM TO`), reachability
//! from the first keeps the candidates it depends on. A preference that no
//! candidate satisfies is passed over; one candidate left wins, and the
//! [`Resolution`] says which preference chose it ([`TieBreak`]), so that a
//! tool can tell the person.
//!
//! A package table lists the derivations of one system (Guix computes it
//! for one), while a store holds those of several: when a name resolves
//! to a derivation built for another system than the preferred one, the
//! derivation of the same name built for the preferred system is taken
//! instead (a [`TieBreak::System`] among all of that name), and when the
//! graph has none, [`Resolution::system_unavailable`] says so, so that
//! nobody is silently handed another system's derivation.
//!
//! An unknown name is an error that suggests near names (whatever their
//! case); a known name with no matching version lists the versions there
//! are; an ambiguity describes each candidate left by what tells it apart
//! ([`Candidate`]). For answers that a name leads astray, [`namesakes`]
//! gives the other derivations answering to the same name, and
//! [`spec_for`] the shortest name that selects one of them.

mod candidates;
mod hints;
mod near;
mod prefer;
mod scan;
#[cfg(test)]
mod tests;

pub use candidates::{Candidate, describe_candidates};
pub use hints::{namesakes, spec_for, suggest};
pub use prefer::{Preferences, Resolution, TieBreak, guix_system, host_system};

use crate::error::ResolveError;
use crate::graph::{Graph, NodeId};
use crate::version::{compare_versions, is_version_prefix, split_name_version};
use abovo_store::store_path::StorePath;

/// Resolves `spec` to one node of `g` (see the [module docs](self)); every
/// tie is an ambiguity.
pub fn resolve(g: &Graph, spec: &str) -> Result<NodeId, ResolveError> {
    resolve_with(g, spec, &Preferences::new()).map(|r| r.node)
}

/// Resolves `spec` to one node of `g`, breaking ties by `prefs` (see the
/// [module docs](self)).
pub fn resolve_with(
    g: &Graph,
    spec: &str,
    prefs: &Preferences,
) -> Result<Resolution, ResolveError> {
    let spec = spec.trim();
    if spec.starts_with('/') {
        return resolve_path(g, spec).map(Resolution::unique);
    }
    if looks_like_base_name(spec) {
        let full = format!("{}/{}", g.store_dir(), spec);
        return resolve_path(g, &full).map(Resolution::unique);
    }
    let found = resolve_name(g, spec, prefs)?;
    prefer::prefer_system(g, spec, found, prefs)
}

/// Steps 3 and 4 of the [module docs](self): a name, with or without a
/// version, or a derivation's full name.
fn resolve_name(g: &Graph, spec: &str, prefs: &Preferences) -> Result<Resolution, ResolveError> {
    let (name, version) = match spec.rsplit_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let matches = |v: &str| version.is_none_or(|want| is_version_prefix(want, v));

    // Through the package table (a scan, cheaper than building an index
    // for the one or two names a command resolves).
    let table = g.packages();
    let candidates: Vec<(String, NodeId)> = table
        .find(name, version)
        .into_iter()
        .filter_map(|i| Some((table.version(i).to_owned(), table.node(i)?)))
        .collect();
    if let Some(found) = newest(g, spec, candidates, prefs)? {
        return Ok(found);
    }
    // The derivations that steps 3 and 4 look at are named `name-VERSION`
    // or `full`: one scan finds those that start as both do.
    let full = spec.strip_suffix(".drv").unwrap_or(spec);
    let named_dash = format!("{name}-");
    let mut common = named_dash
        .bytes()
        .zip(full.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    // Two characters may share their first bytes.
    while !full.is_char_boundary(common) {
        common -= 1;
    }
    let named = scan::derivations_named(g, &full[..common]);
    // Through derivation names; derived sources (patched checkouts,
    // repacked tarballs) only when no package-like derivation matches.
    // `name-VERSION` starts with `name-`: only those names are split.
    let (sources, packages): (Vec<_>, Vec<_>) = named
        .iter()
        .filter(|d| !d.fixed && d.name.starts_with(&named_dash))
        .filter_map(|d| match split_name_version(d.name) {
            (n, Some(v)) if n == name && matches(v) => Some((v.to_owned(), d.node)),
            _ => None,
        })
        .partition(|(v, _)| is_source_artifact(v));
    for candidates in [packages, sources] {
        if let Some(found) = newest(g, spec, candidates, prefs)? {
            return Ok(found);
        }
    }
    // A derivation's full name.
    let nodes: Vec<NodeId> = named
        .iter()
        .filter(|d| d.name == full)
        .map(|d| d.node)
        .collect();
    match nodes.as_slice() {
        [] => {}
        [one] => return Ok(Resolution::unique(*one)),
        _ => return one_of(g, spec, nodes, prefs),
    }
    if let Some(version) = version {
        let available = hints::versions_of(g, name);
        if !available.is_empty() {
            return Err(ResolveError::NoMatchingVersion {
                name: name.to_owned(),
                version: version.to_owned(),
                available,
            });
        }
    }
    Err(ResolveError::Unknown {
        name: spec.to_owned(),
        suggestions: hints::suggest(g, name),
    })
}

/// The newest of `candidates`; when several distinct nodes share the newest
/// version, the one `prefs` choose ([`one_of`]); `None` when there is no
/// candidate.
fn newest(
    g: &Graph,
    spec: &str,
    mut candidates: Vec<(String, NodeId)>,
    prefs: &Preferences,
) -> Result<Option<Resolution>, ResolveError> {
    candidates.sort_by(|a, b| compare_versions(&b.0, &a.0).then(a.1.cmp(&b.1)));
    candidates.dedup_by(|a, b| a.1 == b.1);
    let Some((best, node)) = candidates.first().cloned() else {
        return Ok(None);
    };
    let mut tied: Vec<NodeId> = candidates
        .iter()
        .filter(|(v, _)| compare_versions(v, &best).is_eq())
        .map(|&(_, n)| n)
        .collect();
    if tied.len() > 1 {
        tied.sort_unstable();
        return one_of(g, spec, tied, prefs).map(Some);
    }
    Ok(Some(Resolution::unique(node)))
}

/// The one of several distinct `tied` nodes that `prefs` choose, or the
/// ambiguity error listing those left.
fn one_of(
    g: &Graph,
    spec: &str,
    tied: Vec<NodeId>,
    prefs: &Preferences,
) -> Result<Resolution, ResolveError> {
    prefer::break_tie(g, tied, prefs).map_err(|left| ResolveError::Ambiguous {
        name: spec.to_owned(),
        candidates: describe_candidates(g, &left),
    })
}

/// Whether a version part names a source artefact rather than a package:
/// Guix calls a patched checkout `NAME-VERSION-checkout` and a repacked
/// tarball `NAME-VERSION.tar.xz`.
fn is_source_artifact(version: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "-checkout",
        ".tar",
        ".tar.gz",
        ".tar.xz",
        ".tar.bz2",
        ".tar.zst",
        ".tar.lz",
        ".tgz",
        ".zip",
        ".patch",
        ".gem",
        ".crate",
        ".jar",
    ];
    SUFFIXES.iter().any(|s| version.ends_with(s))
}

fn looks_like_base_name(spec: &str) -> bool {
    let b = spec.as_bytes();
    b.len() > 33
        && b[32] == b'-'
        && b[..32]
            .iter()
            .all(|&c| abovo_store::nixbase32::is_nix32_char(c))
}

fn resolve_path(g: &Graph, spec: &str) -> Result<NodeId, ResolveError> {
    let not_in_graph = || ResolveError::NotInGraph(spec.to_owned());
    let (item, rest): (StorePath, &str) =
        g.store_dir()
            .parse_prefix(spec)
            .map_err(|e| ResolveError::Unknown {
                name: spec.to_owned(),
                suggestions: vec![format!("a path in {} ({e})", g.store_dir())],
            })?;
    if rest.is_empty() || rest == "/" {
        if let Some(n) = g.lookup(&item) {
            return Ok(n);
        }
    }
    g.lookup_output(&item)
        .map(|(n, _)| n)
        .ok_or_else(not_in_graph)
}
