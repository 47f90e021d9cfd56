//! Name resolution on a snapshot opened in place gives the answers it
//! gives on a decoded graph, without decoding the derivation facts: what
//! keeps a query on a live store's index (no package table, 200,000
//! derivation names) from decoding every derivation.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::graph::NodeKind;
use crate::snapshot::{self, WriteOptions};
use crate::version::split_name_version;
use crate::{Package, PackageTable};

/// The built-in snapshot (the Guix 1.5.0 distribution), decoded, with
/// its package table replaced by `rows` of it (none: as a live store's
/// index has none).
pub(super) fn built_in(rows: impl Fn(&PackageTable) -> Vec<Package>) -> Graph {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/guix-1.5.0.abovo-snapshot"
    ))
    .unwrap();
    let mut g = snapshot::read(&bytes).unwrap();
    let kept = rows(g.packages());
    g.set_packages(PackageTable::new(kept));
    g
}

/// `g` written in place in a file in `dir`.
pub(super) fn in_place(g: &Graph, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("g.abovo-snapshot");
    std::fs::write(&path, snapshot::write_in_place(g, &WriteOptions::default())).unwrap();
    path
}

fn decoded(g: &Graph) -> bool {
    g.columns.drv_columns.decoded().is_some()
}

/// What a person could type for `n`: its name, name@version (whole, and
/// its first component), its full name with and without `.drv`; with
/// `misspelt`, two names and a version there are not (an unknown name's
/// suggestions compare it with every name: slow, so only for some).
fn specs_for(g: &Graph, n: NodeId, misspelt: bool) -> Vec<String> {
    let label = g.label(n);
    let mut specs = vec![label.to_owned(), g.name(n).to_owned()];
    let (name, version) = split_name_version(label);
    specs.push(name.to_owned());
    if misspelt {
        specs.push(name.to_uppercase());
        specs.push(format!("{name}x"));
    }
    if let Some(v) = version {
        specs.push(format!("{name}@{v}"));
        specs.push(format!("{name}@{}", v.split('.').next().unwrap_or(v)));
        if misspelt {
            specs.push(format!("{name}@999"));
        }
    }
    specs
}

/// Resolves specs of every 211th derivation of `g` on `g` and on `g`
/// opened in place, with and without a preferred system, and checks that
/// the answers are the same and that only an ambiguity (whose candidates
/// are described by their outputs) decoded the opened graph's derivations.
fn same_answers_undecoded(g: &Graph) {
    let dir = tempfile::tempdir().unwrap();
    let path = in_place(g, &dir);
    let mut m = snapshot::open(&path).unwrap();
    assert!(!decoded(&m), "opening decodes the derivation facts");
    assert_eq!(m.derivation_count(), g.derivation_count());
    assert!(!decoded(&m), "counting decodes the derivation facts");
    let nodes: Vec<NodeId> = g
        .nodes()
        .filter(|&n| g.kind(n) == NodeKind::Derivation)
        .step_by(211)
        .collect();
    let (mut checked, mut ambiguous) = (0, 0);
    for (i, &n) in nodes.iter().enumerate() {
        for spec in specs_for(g, n, i % 50 == 0) {
            for prefs in [Preferences::new(), Preferences::new().system("i686-linux")] {
                let want = resolve_with(g, &spec, &prefs);
                let got = resolve_with(&m, &spec, &prefs);
                assert_eq!(got, want, "{spec} {prefs:?}");
                checked += 1;
                if decoded(&m) {
                    assert!(
                        matches!(got, Err(ResolveError::Ambiguous { .. })),
                        "resolving {spec} ({prefs:?}) decoded the derivation facts: {got:?}"
                    );
                    ambiguous += 1;
                    m = snapshot::open(&path).unwrap();
                }
            }
        }
        assert_eq!(namesakes(&m, n), namesakes(g, n));
        assert!(!decoded(&m), "namesakes of {}", g.label(n));
    }
    assert!(checked > 2_000, "{checked} resolutions");
    assert!(
        ambiguous < checked / 10,
        "{ambiguous} of {checked} ambiguous"
    );
}

#[test]
fn names_resolve_in_place_without_decoding_derivations() {
    // As a live store's index: no package table, every name a derivation's.
    same_answers_undecoded(&built_in(|_| Vec::new()));
}

#[test]
fn names_resolve_in_place_without_decoding_derivations_with_a_package_table() {
    // Half the table, so that names it lacks fall through to derivations.
    same_answers_undecoded(&built_in(|t| t.rows().iter().step_by(2).cloned().collect()));
}
