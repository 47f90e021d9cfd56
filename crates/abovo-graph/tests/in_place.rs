//! The in-place snapshot form (format version 5): the same graph as the
//! compressed form it is made from, opened from a mapped file, with every
//! kind of damage caught (eagerly for the sections every query reads, on
//! first use for the others) and never a panic.
#![allow(clippy::unwrap_used)]

use abovo_graph::Graph;
use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::package_graph::GraphType;
use abovo_graph::snapshot::{self, OpenOptions, SnapshotError, WriteOptions};
use abovo_store::{StoreDir, StorePath};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

/// The snapshot built into the `abovo` binary (the whole Guix 1.5.0
/// distribution).
fn built_in() -> Graph {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/guix-1.5.0.abovo-snapshot"
    ))
    .unwrap();
    snapshot::read(&bytes).unwrap()
}

/// Asserts that `a` and `b` are the same graph, section by section.
fn same(a: &Graph, b: &Graph) {
    assert_eq!((a.len(), a.edge_count()), (b.len(), b.edge_count()));
    assert_eq!(a.store_dir(), b.store_dir());
    assert_eq!(a.description(), b.description());
    for n in a.nodes() {
        assert_eq!(a.path(n), b.path(n));
        assert_eq!(a.kind(n), b.kind(n));
        assert_eq!(a.inputs(n), b.inputs(n));
        assert_eq!(a.dependents(n), b.dependents(n));
        let outs = |g: &Graph| -> Vec<Vec<String>> {
            g.input_edges(n)
                .map(|e| e.outputs().map(str::to_owned).collect())
                .collect()
        };
        assert_eq!(outs(a), outs(b));
        let facts = |g: &Graph| {
            g.derivation(n).map(|d| {
                (
                    d.system().to_owned(),
                    d.builder().to_owned(),
                    d.fixed_output(),
                    d.kind(),
                    format!("{:?}", d.outputs().collect::<Vec<_>>()),
                    format!("{:?}", d.env_vars().collect::<Vec<_>>()),
                )
            })
        };
        assert_eq!(facts(a), facts(b));
        assert_eq!(a.nar_size(n), b.nar_size(n));
    }
    assert_eq!(a.topological_order(), b.topological_order());
    assert_eq!(a.packages().rows(), b.packages().rows());
    for i in 0..a.packages().len() {
        assert_eq!(a.packages().node(i), b.packages().node(i));
        let meta = |g: &Graph| {
            g.package_meta().get(i).map(|m| {
                (
                    [m.location(), m.home_page(), m.synopsis(), m.description()].map(str::to_owned),
                    m.licenses()
                        .chain(m.systems())
                        .collect::<Vec<_>>()
                        .join(" "),
                    (m.hidden(), m.superseded_by().map(str::to_owned)),
                )
            })
        };
        assert_eq!(meta(a), meta(b));
    }
    assert_eq!(a.meta().sized(), b.meta().sized());
    let (pa, pb) = (a.package_graph(), b.package_graph());
    assert_eq!(pa.len(), pb.len());
    for ty in GraphType::ALL {
        assert_eq!(pa.has(ty), pb.has(ty));
        if pa.has(ty) {
            assert_eq!(pa.edge_count(ty), pb.edge_count(ty));
        }
    }
}

fn write_file(dir: &tempfile::TempDir, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join("g.abovo-snapshot");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A damage handler that keeps what it is told.
fn recorder() -> (OpenOptions, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = Arc::clone(&seen);
    let opts = OpenOptions {
        on_damage: Some(Arc::new(move |e: &SnapshotError| {
            keep.lock().unwrap().push(e.to_string());
        })),
    };
    (opts, seen)
}

/// The section table of an in-place file: (start, length) per section.
fn table(bytes: &[u8]) -> Vec<(usize, usize)> {
    let count = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| {
            let at = 32 + 24 * i;
            let word = |k: usize| {
                u64::from_le_bytes(bytes[at + k..at + k + 8].try_into().unwrap()) as usize
            };
            (word(0), word(8))
        })
        .collect()
}

#[test]
fn the_built_in_snapshot_opens_in_place_as_the_same_graph() {
    let g = built_in();
    let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
    assert_eq!(&bytes[8..12], &snapshot::VERSION_IN_PLACE.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, &bytes);
    let (opts, seen) = recorder();
    let m = snapshot::open_with(&path, &opts).unwrap();
    same(&g, &m);
    assert!(seen.lock().unwrap().is_empty());
    // The checked reader and `info` read the same file.
    same(&g, &snapshot::read(&bytes).unwrap());
    let info = snapshot::info(&bytes).unwrap();
    assert_eq!(info.version, snapshot::VERSION_IN_PLACE);
    assert_eq!(info.nodes, g.len() as u64);
    assert_eq!(info.packages, g.packages().len() as u64);
    // The store directory is peeked from the header section alone.
    assert_eq!(
        snapshot::peek_store_dir(&bytes[..]).unwrap(),
        *g.store_dir()
    );
    // Written again from the mapped graph: the same bytes.
    assert_eq!(
        snapshot::write_in_place(&m, &WriteOptions::default()),
        bytes
    );
    // A metadata row (section 30) naming a string past the table, its
    // checksum made right: refused on first use and reported, never read.
    let (start, len) = table(&bytes)[30];
    let mut bad = bytes.clone();
    bad[start + 4..start + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    rehash(&mut bad, 30, start, len);
    assert!(snapshot::read(&bad).is_err());
    let (opts, seen) = recorder();
    let m = snapshot::open_with(&write_file(&dir, &bad), &opts).unwrap();
    assert!(m.package_meta().get(0).is_none());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("string id out of range"), "{seen:?}");
}

#[test]
fn damage_is_caught_in_every_section_without_a_panic() {
    let g = diamond();
    let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // The sections decoded on first use: derivations, store metadata,
    // package nodes, package edges, bag-emerged edges, package metadata,
    // dependents, the order (the metadata arrays, 28 to 30, are empty
    // here: the graph has none).
    let late = [6, 12, 13, 14, 15, 16, 25, 26, 27];
    for (i, (start, len)) in table(&bytes).into_iter().enumerate() {
        if len == 0 {
            continue;
        }
        let mut bad = bytes.clone();
        bad[start + len / 2] ^= 0x21;
        assert!(snapshot::read(&bad).is_err(), "section {i}");
        let path = write_file(&dir, &bad);
        let (opts, seen) = recorder();
        match snapshot::open_with(&path, &opts) {
            Err(e) => {
                assert!(!late.contains(&i), "section {i} was checked early: {e}");
                assert!(e.to_string().contains("checksum"), "{e}");
            }
            Ok(m) => {
                assert!(late.contains(&i), "section {i} was not checked");
                // Touch every late section.
                let _ = (m.derivation_count(), m.meta().sized());
                let _ = (m.package_graph().len(), m.package_meta().get(0));
                let _ = (
                    m.dependents(m.nodes().next().unwrap()),
                    m.topological_order(),
                );
                let seen = seen.lock().unwrap();
                // The package edge sections of a graph without package
                // graphs are never read, so never checked.
                let want = usize::from(![14, 15].contains(&i));
                assert_eq!(seen.len(), want, "section {i}: {seen:?}");
                assert!(seen.iter().all(|s| s.contains("damaged")), "{seen:?}");
            }
        }
    }
    // The header and the table themselves, and a cut file.
    for at in [9, 13, 17, 25, 40] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        assert!(
            snapshot::open(&write_file(&dir, &bad)).is_err(),
            "byte {at}"
        );
    }
    for cut in [0, 7, 20, 100, bytes.len() - 1] {
        assert!(snapshot::open(&write_file(&dir, &bytes[..cut])).is_err());
        assert!(snapshot::read(&bytes[..cut]).is_err());
        let _ = snapshot::peek_store_dir(&bytes[..cut]);
    }
}

#[test]
fn ids_out_of_range_are_refused_even_with_good_checksums() {
    let g = diamond();
    let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
    let t = table(&bytes);
    // An edge target past the last node, a node name past the last
    // string, a node kind no kind has: checksums recomputed, so only the
    // range checks stand between the file and an out-of-bounds read. The
    // same for a node's system past the last string (section 17).
    for (section, value) in [(9, 1000u32), (4, 1_000_000), (8, 999), (17, 1_000_000)] {
        let mut bad = bytes.clone();
        let (start, len) = t[section];
        bad[start..start + 4].copy_from_slice(&value.to_le_bytes());
        rehash(&mut bad, section, start, len);
        let err = snapshot::read(&bad).unwrap_err().to_string();
        assert!(!err.contains("checksum"), "{err}");
    }
    let mut bad = bytes.clone();
    let (start, len) = t[5];
    bad[start] = 7;
    rehash(&mut bad, 5, start, len);
    assert!(
        snapshot::read(&bad)
            .unwrap_err()
            .to_string()
            .contains("node kind")
    );
    // A fixed-output flag that is neither 0 nor 1 (section 18).
    let mut bad = bytes.clone();
    let (start, len) = t[18];
    bad[start] = 6;
    rehash(&mut bad, 18, start, len);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, &bad);
    let err = snapshot::open(&path).unwrap_err().to_string();
    assert!(err.contains("node flags"), "{err}");
    // A dependent past the last node (section 26): reported on first
    // use, and the reverse edges computed instead.
    let mut bad = bytes.clone();
    let (start, len) = t[26];
    bad[start..start + 4].copy_from_slice(&1000u32.to_le_bytes());
    rehash(&mut bad, 26, start, len);
    assert!(snapshot::read(&bad).is_err());
    let (opts, seen) = recorder();
    let m = snapshot::open_with(&write_file(&dir, &bad), &opts).unwrap();
    let first = m.nodes().next().unwrap();
    assert_eq!(m.dependents(first), g.dependents(first));
    assert!(seen.lock().unwrap()[0].contains("dependent out of range"));
    // The order reversed: still every node once, so opening in place
    // takes it (wrong answers, never a panic), but the checked read
    // refuses it.
    let mut bad = bytes.clone();
    let (start, len) = t[27];
    let mut order: Vec<[u8; 4]> = bad[start..start + len]
        .chunks(4)
        .map(|c| c.try_into().unwrap())
        .collect();
    order.reverse();
    bad[start..start + len].copy_from_slice(&order.concat());
    rehash(&mut bad, 27, start, len);
    let err = snapshot::read(&bad).unwrap_err().to_string();
    assert!(err.contains("before an input"), "{err}");
    // Not a permutation: the first node twice.
    let first_id = bad[start..start + 4].to_vec();
    bad[start + 4..start + 8].copy_from_slice(&first_id);
    rehash(&mut bad, 27, start, len);
    let (opts, seen) = recorder();
    let m = snapshot::open_with(&write_file(&dir, &bad), &opts).unwrap();
    assert_eq!(m.topological_order(), g.topological_order());
    assert!(seen.lock().unwrap()[0].contains("not one of the nodes"));
}

/// Recomputes the checksum of one section and of the table.
fn rehash(bytes: &mut [u8], section: usize, start: usize, len: usize) {
    let h = xxh3(&bytes[start..start + len]);
    let at = 32 + 24 * section + 16;
    bytes[at..at + 8].copy_from_slice(&h.to_le_bytes());
    let count = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let t = xxh3(&bytes[32..32 + 24 * count]);
    bytes[24..32].copy_from_slice(&t.to_le_bytes());
}

fn xxh3(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

fn sp(i: u32, name: &str) -> StorePath {
    StorePath::from_base_name(&format!("{i:032}-{name}").replace(|c: char| c == 'e', "f")).unwrap()
}

fn record(i: u32, inputs: &[(u32, &str)], fixed: bool) -> DrvRecord {
    DrvRecord {
        path: sp(i, &format!("n{i}.drv")),
        system: "x86_64-linux".into(),
        builder: if fixed {
            "builtin:download".into()
        } else {
            "/bin/sh".into()
        },
        outputs: vec![("out".into(), None)],
        fixed: None,
        env: if fixed {
            vec![("url".into(), format!("https://example.org/{i}"))]
        } else {
            vec![]
        },
        kind: abovo_store::derivation::DerivationKind::InputAddressed,
        inputs: inputs
            .iter()
            .map(|&(j, o)| (sp(j, &format!("n{j}.drv")), vec![o.into()]))
            .collect(),
        sources: vec![sp(9000 + i, "src")],
    }
}

/// Four derivations in a diamond, with sources.
fn diamond() -> Graph {
    build_graph(
        StoreDir::default(),
        vec![
            record(1, &[], true),
            record(2, &[(1, "out")], false),
            record(3, &[(1, "out")], false),
            record(4, &[(2, "out"), (3, "out")], false),
        ],
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any acyclic graph: written in place and opened, the same graph;
    /// written from the opened graph, the same bytes.
    #[test]
    fn random_graphs_round_trip_in_place(
        edges in proptest::collection::vec(
            (1u32..40, 1u32..40, prop_oneof![Just("out"), Just("lib")]), 0..120),
        fixed in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let mut inputs: Vec<Vec<(u32, &str)>> = vec![Vec::new(); 40];
        for (a, b, o) in edges {
            let (from, to) = (a.max(b), a.min(b));
            if from != to && !inputs[from as usize].iter().any(|&(t, _)| t == to) {
                inputs[from as usize].push((to, o));
            }
        }
        let records = (1..40)
            .map(|i| record(i, &inputs[i as usize], fixed[i as usize]))
            .collect();
        let g = build_graph(StoreDir::default(), records).unwrap();
        let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
        let dir = tempfile::tempdir().unwrap();
        let m = snapshot::open(&write_file(&dir, &bytes)).unwrap();
        same(&g, &m);
        prop_assert_eq!(snapshot::write_in_place(&m, &WriteOptions::default()), bytes);
    }
}
