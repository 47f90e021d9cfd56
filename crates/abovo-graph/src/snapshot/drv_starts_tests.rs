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

fn records(g: &Graph) -> &crate::graph::Records {
    g.columns.facts.as_ref().unwrap().records.as_ref().unwrap()
}

fn records_read(g: &Graph) -> usize {
    records(g).read_count()
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
    let columns = g.drv_columns();
    let mut derivations = 0;
    for n in m.nodes() {
        // Every record read alone (past the point where the graph would
        // decode them all), as the whole decode has it.
        let alone = records(&m).get(n).map(|r| {
            let d = &r.data;
            let key = format!("{:?}", (d.node, d.system, d.builder, d.fixed, d.kind));
            (key, format!("{:?} {:?}", r.outputs, r.env))
        });
        let whole = g.derivation(n).map(|d| {
            let d0 = &columns.drvs[columns.drv_slot[n.index()] as usize];
            let key = format!("{:?}", (d0.node, d0.system, d0.builder, d0.fixed, d0.kind));
            let ((a, b), (c, e)) = (d0.outputs, d0.env);
            let outputs = &columns.outputs[a as usize..b as usize];
            let env = &columns.env[c as usize..e as usize];
            assert_eq!(d.node(), n);
            (key, format!("{outputs:?} {env:?}"))
        });
        assert_eq!(alone, whole, "node {n:?}");
        // The flags answer as the record does.
        assert_eq!(m.derivation_kind(n), g.derivation(n).map(|d| d.kind()));
        assert_eq!(m.is_impure(n), g.is_impure(n));
        assert_eq!(m.builtin(n), g.derivation(n).and_then(|d| d.builtin()));
        derivations += usize::from(alone.is_some());
    }
    assert_eq!(derivations, g.derivation_count());
    assert_eq!(records_read(&m), derivations);
}

#[test]
fn many_records_asked_for_give_way_to_decoding_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let (g, m) = built_in(&dir);
    // Through the graph: records read alone until a sixteenth of the nodes
    // were, then every derivation decoded at once; the same facts
    // throughout, and a derivation given out before stays good.
    let first = m
        .nodes()
        .find(|&n| m.kind(n) == NodeKind::Derivation)
        .unwrap();
    let early = m.derivation(first).unwrap();
    for n in m.nodes() {
        assert_eq!(facts(&m, n), facts(&g, n), "node {n:?}");
        assert_eq!(m.derivation(n).is_some(), m.kind(n) == NodeKind::Derivation);
    }
    assert!(decoded(&m));
    assert_eq!(records_read(&m), m.len() / crate::graph::SATURATED + 1);
    let again = g.derivation(first).unwrap();
    assert_eq!(
        early.env_vars().collect::<Vec<_>>(),
        again.env_vars().collect::<Vec<_>>()
    );
    assert_eq!(
        early.outputs().collect::<Vec<_>>(),
        again.outputs().collect::<Vec<_>>()
    );
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
    // The flags alone answer the walk's questions of every node, and
    // which derivations no built-in builds.
    let before = records_read(&m);
    let mut builtins = 0;
    for n in m.nodes() {
        let _ = (m.derivation_kind(n), m.is_impure(n), m.is_fixed_output(n));
        if m.kind_flags(n)
            .flatten()
            .is_some_and(|f| f & crate::graph::FACT_BUILTIN != 0)
        {
            builtins += 1;
        } else {
            assert_eq!(m.builtin(n), None);
        }
    }
    assert!(
        builtins > 1000,
        "{builtins} derivations built by a built-in"
    );
    assert_eq!(records_read(&m), before);
    assert!(!decoded(&m));
}
