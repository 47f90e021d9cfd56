//! `rebuild_graph`, what an index's update builds: the derivations kept
//! from an old graph (read in place from its snapshot) and records parsed
//! now must make the graph `build_graph` makes of all their records, byte
//! for byte in a snapshot, whatever was kept, added and dropped.
#![allow(clippy::unwrap_used)]

mod support;

use abovo_graph::build::{DrvRecord, build_graph, rebuild_graph};
use abovo_graph::snapshot::{WriteOptions, write_in_place};
use abovo_graph::{Graph, NodeId, NodeKind};
use abovo_store::StoreDir;
use abovo_store::derivation::FixedOutput;
use abovo_store::hash::{Hash, HashAlgo};
use proptest::prelude::*;
use support::{record, sp};

fn bytes(g: &Graph) -> Vec<u8> {
    write_in_place(g, &WriteOptions::default())
}

/// The graph of `old` mapped from its in-place snapshot, as an index
/// reads it.
fn in_place(old: &Graph, dir: &tempfile::TempDir) -> Graph {
    let path = dir.path().join("old.abovo-snapshot");
    std::fs::write(&path, bytes(old)).unwrap();
    abovo_graph::snapshot::open(&path).unwrap()
}

/// The derivation nodes of `g` whose path is among `records`.
fn nodes_of(g: &Graph, records: &[DrvRecord]) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = records.iter().map(|r| g.lookup(&r.path).unwrap()).collect();
    v.sort_unstable();
    v
}

/// Checks that keeping `kept` of the graph of `old` and adding `added`
/// gives the graph of `kept` and `added` built afresh.
fn same_as_fresh(old: &[DrvRecord], kept: &[DrvRecord], added: &[DrvRecord]) {
    let dir = tempfile::tempdir().unwrap();
    let built = build_graph(StoreDir::default(), old.to_vec()).unwrap();
    let mapped = in_place(&built, &dir);
    for g in [&built, &mapped] {
        let keep = nodes_of(g, kept);
        assert!(keep.iter().all(|&n| g.kind(n) == NodeKind::Derivation));
        let rebuilt = rebuild_graph(g, &keep, added.iter().collect()).unwrap();
        let all: Vec<DrvRecord> = kept.iter().chain(added).cloned().collect();
        let fresh = build_graph(StoreDir::default(), all).unwrap();
        assert!(
            bytes(&rebuilt) == bytes(&fresh),
            "differs from a fresh build"
        );
    }
}

/// `n` derivations: each uses some earlier ones (with one or two
/// outputs) and some of a few sources; some are fixed-output with an
/// environment, some have two outputs, some name inputs not among them.
fn records(n: usize, seed: &[u8]) -> Vec<DrvRecord> {
    let byte = |i: usize| seed.get(i % seed.len().max(1)).copied().unwrap_or(0) as usize;
    let sources: Vec<_> = (0..4)
        .map(|i| sp(50_000 + i, &format!("src-{i}")))
        .collect();
    let mut out: Vec<DrvRecord> = Vec::new();
    for i in 0..n {
        // Tags scattered, so that path order is not creation order.
        let tag = ((i * 7919 + byte(i)) % 20_000) as u32 + 1;
        if out.iter().any(|r| r.path == sp(tag, &format!("d{i}.drv"))) {
            continue;
        }
        let outputs: &[&str] = if byte(i + 1) % 3 == 0 {
            &["lib", "out"]
        } else {
            &["out"]
        };
        let mut inputs = Vec::new();
        for k in 0..byte(i + 2) % 4 {
            if out.is_empty() {
                break;
            }
            let dep = &out[(byte(i + 3 + k) * 31 + k) % out.len()];
            let used: Vec<&str> = if dep.outputs.len() == 2 && byte(i + k) % 2 == 0 {
                vec!["lib", "out"]
            } else {
                vec!["out"]
            };
            if !inputs.iter().any(|(p, _): &(_, Vec<&str>)| *p == &dep.path) {
                inputs.push((&dep.path, used));
            }
        }
        // An input never loaded (a missing derivation).
        let missing = sp(60_000 + (byte(i + 4) % 5) as u32, "gone.drv");
        if byte(i + 5) % 4 == 0 {
            inputs.push((&missing, vec!["out"]));
        }
        let inputs: Vec<(&abovo_store::StorePath, &[&str])> =
            inputs.iter().map(|(p, o)| (*p, o.as_slice())).collect();
        let srcs: Vec<_> = sources
            .iter()
            .filter(|_| byte(i + 6) % 2 == 0)
            .take(2)
            .collect();
        let mut r = record(tag, &format!("d{i}"), outputs, &inputs, &srcs);
        r.inputs.sort();
        if byte(i + 7) % 5 == 0 {
            r.fixed = Some(FixedOutput {
                recursive: byte(i) % 2 == 0,
                hash: Hash::new(HashAlgo::Sha256, &[byte(i) as u8; 32]).unwrap(),
            });
            r.outputs = vec![("out".into(), Some(sp(tag + 30_000, &format!("d{i}"))))];
            r.env = vec![("url".into(), format!("https://example.org/{}", byte(i)))];
        }
        out.push(r);
    }
    out
}

#[test]
fn keeping_all_and_adding_some_is_a_fresh_build() {
    let all = records(60, b"rebuild");
    let (old, added) = all.split_at(45);
    same_as_fresh(old, old, added);
    // Nothing added; nothing kept.
    same_as_fresh(old, old, &[]);
    same_as_fresh(old, &[], added);
}

#[test]
fn dropping_some_is_a_fresh_build() {
    let all = records(80, b"forget");
    let (old, added) = all.split_at(70);
    // Dropped: every third; the inputs they named stay as missing nodes.
    let kept: Vec<DrvRecord> = old.iter().step_by(3).cloned().collect();
    same_as_fresh(old, &kept, added);
}

/// A derivation the old graph names as a missing input, added now: its
/// node becomes a derivation.
#[test]
fn a_missing_input_added_becomes_a_derivation() {
    let dep = record(5, "dep", &["out"], &[], &[]);
    let user = record(9, "user", &["out"], &[(&dep.path, &["out"])], &[]);
    let old = [user.clone()];
    let g = build_graph(StoreDir::default(), old.to_vec()).unwrap();
    assert_eq!(g.kind(g.lookup(&dep.path).unwrap()), NodeKind::Missing);
    same_as_fresh(&old, &old, &[dep]);
}

#[test]
fn a_path_kept_and_added_is_given_twice() {
    let all = records(10, b"twice");
    let g = build_graph(StoreDir::default(), all.clone()).unwrap();
    let keep = nodes_of(&g, &all);
    let err = rebuild_graph(&g, &keep, vec![&all[3]]).unwrap_err();
    assert!(
        matches!(err, abovo_graph::GraphError::Duplicate(_)),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Any graph, any derivations dropped and added: the fresh build.
    #[test]
    fn any_change_is_a_fresh_build(
        seed in proptest::collection::vec(0u8..=255, 1..40),
        n in 1usize..60,
        split in 0usize..60,
        drop_mask in any::<u64>(),
    ) {
        let all = records(n, &seed);
        let split = split.min(all.len());
        let (old, added) = all.split_at(split);
        let kept: Vec<DrvRecord> = old
            .iter()
            .enumerate()
            .filter(|(i, _)| drop_mask >> (i % 64) & 1 == 0)
            .map(|(_, r)| r.clone())
            .collect();
        if old.is_empty() {
            return Ok(());
        }
        same_as_fresh(old, &kept, added);
    }
}

/// The first few thousand `.drv` of the Guix 1.5.0 corpus, a third of
/// them dropped and another set added: the fresh build.
#[test]
fn corpus_derivations_rebuild_as_built() {
    let Some(folder) = std::env::var_os("ABOVO_GUIX_CORPUS") else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let tarball = std::path::Path::new(&folder).join("drvs.tar.zst");
    let files = abovo_graph::load::read_tarball(&tarball, &abovo_graph::load::Silent).unwrap();
    let store = StoreDir::default();
    let all: Vec<DrvRecord> = files
        .iter()
        .take(12_000)
        .map(|f| abovo_graph::load::parse_record(&store, &f.name, &f.bytes).unwrap())
        .collect();
    let (old, added) = all.split_at(9_000);
    let kept: Vec<DrvRecord> = old
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, r)| r.clone())
        .collect();
    same_as_fresh(old, &kept, added);
}
