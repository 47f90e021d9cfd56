//! Records read alone (format version 8) over the whole built-in
//! distribution: the same facts as every derivation decoded at once, and
//! a walk reads the records it reaches and no others.
#![allow(clippy::unwrap_used)]

use crate::graph::{Graph, NodeId, NodeKind};
use crate::query::{Walk, closure};
use crate::snapshot::{self, WriteOptions};

/// The built-in snapshot (the Guix 1.5.0 distribution), decoded, and the
/// same written in place in `dir` and opened there.
fn built_in(dir: &tempfile::TempDir) -> (Graph, Graph) {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/guix-1.5.0.abovo-snapshot"
    ))
    .unwrap();
    let g = snapshot::read(&bytes).unwrap();
    let path = dir.path().join("g.abovo-snapshot");
    std::fs::write(
        &path,
        snapshot::write_in_place(&g, &WriteOptions::default()),
    )
    .unwrap();
    let m = snapshot::open(&path).unwrap();
    (g, m)
}

fn decoded(g: &Graph) -> bool {
    g.columns.drv_columns.decoded().is_some()
}

fn records_read(g: &Graph) -> usize {
    let f = g.columns.facts.as_ref().unwrap();
    f.records.as_ref().unwrap().read_count()
}

/// Everything a derivation node says of itself, as text.
fn facts(g: &Graph, n: NodeId) -> Option<String> {
    g.derivation(n).map(|d| {
        format!(
            "{} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            d.system(),
            d.builder(),
            d.builtin(),
            d.fixed_output(),
            d.kind(),
            d.is_impure(),
            d.fixed_output_path(),
            d.outputs().collect::<Vec<_>>(),
            d.env_vars().collect::<Vec<_>>(),
        )
    })
}

#[test]
fn records_read_alone_are_the_derivations_decoded_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (g, m) = built_in(&dir);
    let mut derivations = 0;
    for n in m.nodes() {
        // The flags answer as the record does, and before it is read.
        let (kind, builtin) = (m.derivation_kind(n), m.builtin(n).map(str::to_owned));
        assert_eq!(m.is_impure(n), g.is_impure(n));
        assert_eq!(facts(&m, n), facts(&g, n), "node {n:?}");
        assert_eq!(kind, g.derivation(n).map(|d| d.kind()));
        assert_eq!(
            builtin.as_deref(),
            g.derivation(n).and_then(|d| d.builtin())
        );
        assert_eq!(m.derivation(n).is_some(), m.kind(n) == NodeKind::Derivation);
        derivations += usize::from(m.derivation(n).is_some());
    }
    assert_eq!(derivations, g.derivation_count());
    assert!(!decoded(&m), "a record read alone decoded every derivation");
    assert_eq!(records_read(&m), derivations);
}

#[test]
fn a_trust_walk_reads_only_the_records_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let (_, m) = built_in(&dir);
    let hello = crate::resolve::resolve(&m, "hello").unwrap();
    let reached = closure(&m, &[hello], &Walk::trust(false));
    // What `abovo seeds` asks of each node it reaches, and of each seed.
    let mut derivations = 0;
    for &n in &reached {
        if let Some(d) = m.derivation(n) {
            derivations += 1;
            let _ = (
                d.builtin(),
                d.is_impure(),
                d.env("url"),
                d.fixed_output_path(),
            );
        }
    }
    assert!(derivations > 100, "{derivations} derivations reached");
    assert!(!decoded(&m), "the walk decoded every derivation");
    assert_eq!(records_read(&m), derivations);
    assert!(derivations * 100 < m.derivation_count());
    // The flags alone answer the walk's questions of the others.
    let before = records_read(&m);
    for n in m.nodes() {
        let _ = (m.derivation_kind(n), m.is_impure(n), m.is_fixed_output(n));
        if m.builtin(n).is_some() {
            assert!(m.derivation(n).unwrap().builder().starts_with("builtin:"));
        }
    }
    let builtins = m.nodes().filter(|&n| m.builtin(n).is_some()).count();
    assert!(
        builtins > 1000,
        "{builtins} derivations built by a built-in"
    );
    assert!(records_read(&m) <= before + builtins);
    assert!(!decoded(&m));
}
