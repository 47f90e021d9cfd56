//! The in-place snapshot form (format version 9): the same graph as the
//! compressed form it is made from, opened from a mapped file, with every
//! kind of damage caught (eagerly for the sections every query reads, on
//! first use for the others) and never a panic.
#![allow(clippy::unwrap_used)]

use abovo_graph::Graph;
use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::dag::Dag;
use abovo_graph::package_graph::GraphType;
use abovo_graph::snapshot::{self, OpenOptions, SnapshotError, WriteOptions};
use abovo_store::{StoreDir, StorePath};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

#[path = "in_place/late.rs"]
mod late;

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
        assert_eq!(a.output_names(n), b.output_names(n));
        let names: Vec<&str> = a
            .derivation(n)
            .map_or_else(Vec::new, |d| d.outputs().map(|o| o.name).collect());
        assert_eq!(a.output_names(n), names);
        assert_eq!(a.nar_size(n), b.nar_size(n));
    }
    assert_eq!(a.topological_order(), b.topological_order());
    // Field by field, read in place (before the rows are made).
    let (ta, tb) = (a.packages(), b.packages());
    assert_eq!(ta.len(), tb.len());
    for i in 0..ta.len() {
        assert_eq!(ta.name(i), tb.name(i));
        // Compared as bytes in place: the same answer as the name read.
        let other = format!("{}-", tb.name(i));
        for t in [ta, tb] {
            assert!(t.is_named(i, tb.name(i)));
            assert!(!t.is_named(i, &other));
        }
        assert_eq!(ta.version(i), tb.version(i));
        assert_eq!(ta.module(i), tb.module(i));
    }
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
            let (va, vb) = (pa.view(a, ty).unwrap(), pb.view(b, ty).unwrap());
            assert_eq!(va.topological_order(), vb.topological_order());
            for p in pa.ids() {
                assert_eq!(va.inputs(p), vb.inputs(p));
                assert_eq!(va.dependents(p), vb.dependents(p));
                for &q in va.inputs(p) {
                    assert!(va.uses(p, q).eq(vb.uses(p, q)));
                }
            }
        }
    }
}

/// Every derivation's outputs' hash parts, read alone, are those of
/// their paths: every output, and the fixed output (stored in place).
fn hash_parts_are_those_of_the_paths(g: &Graph) {
    let hash_part = |p: StorePath| *p.hash_part_bytes();
    let mut fixed = 0;
    for d in g.derivations() {
        for o in d.outputs() {
            assert_eq!(d.output_hash_part(o.name), o.path.map(hash_part));
        }
        assert_eq!(d.output_hash_part("no such output"), None);
        let path = d.fixed_output_path();
        fixed += usize::from(path.is_some());
        assert_eq!(d.fixed_output_hash_part(), path.map(hash_part));
    }
    assert!(fixed > 30_000, "{fixed}");
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
    hash_parts_are_those_of_the_paths(&g);
    hash_parts_are_those_of_the_paths(&m);
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
    drop(seen);
    late::wrong_stored_arrays_are_caught(&g, &bytes, &dir);
    late::edge_uses_are_read_on_first_use(&g, &bytes, &dir);
}

/// An in-place snapshot is mapped with `MADV_HUGEPAGE` where the kernel
/// has transparent huge pages (its smaps say `hg`), so that its pages come
/// back from the disk in 2 MiB folios.
#[test]
fn the_map_asks_for_huge_pages() {
    let thp = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled");
    if !cfg!(target_os = "linux") || !thp.exists() {
        eprintln!("skipped: no transparent huge pages here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bytes = snapshot::write_in_place(&diamond(), &WriteOptions::default());
    let path = write_file(&dir, &bytes);
    let g = snapshot::open_with(&path, &OpenOptions::default()).unwrap();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    // The kernel names the file by its resolved path.
    let name = std::fs::canonicalize(&path).unwrap();
    let name = name.to_str().unwrap();
    let (mut maps, mut flags) = (0, Vec::new());
    let mut in_map = false;
    for line in smaps.lines() {
        // A mapping's first line (`start-end perms offset dev inode path`),
        // then its fields (`Name: value`).
        let first = line.split_whitespace().next().unwrap_or("");
        if !first.ends_with(':') {
            in_map = line.ends_with(name);
            maps += usize::from(in_map);
        } else if in_map && first == "VmFlags:" {
            flags.push(line.to_owned());
        }
    }
    assert!(maps > 0, "the snapshot is not among the maps");
    assert_eq!(flags.len(), maps, "a map of the snapshot without VmFlags");
    for f in &flags {
        assert!(f.split_whitespace().any(|f| f == "hg"), "{f}");
    }
    drop(g);
}

#[test]
fn damage_is_caught_in_every_section_without_a_panic() {
    let g = diamond();
    let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
    let dir = tempfile::tempdir().unwrap();
    // The sections decoded on first use: derivations, edge output sets,
    // store metadata,
    // package nodes, package edges, bag-emerged edges, package metadata,
    // dependents, the order, the node output sets, the derivation starts
    // (the metadata arrays, 28 to 30, the package graphs' arrays, 31 to
    // 36, and the package row index, 37 and 38, are empty here: the graph
    // has none of them); and those checked block by block as they are
    // read: string text, hash parts, edge targets, edge output sets,
    // dependent targets, derivations (as records are read alone).
    let late = [
        2, 3, 6, 9, 10, 12, 13, 14, 15, 16, 25, 26, 27, 39, 40, 42, 43,
    ];
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
                // Touch every late section: each derivation's record
                // read alone first, then all of them decoded.
                let _ = m.nodes().filter_map(|n| m.derivation(n)).count();
                let _ = (m.derivations().len(), m.meta().sized());
                let _ = m
                    .derivations()
                    .filter_map(|d| d.fixed_output_path())
                    .count();
                let _ = (m.package_graph().len(), m.package_meta().get(0));
                let first = m.nodes().next().unwrap();
                let _ = (m.dependents(first), m.topological_order());
                let _ = m.output_names(first);
                for n in m.nodes() {
                    let _ = m.input_edges(n).map(|e| e.outputs().count()).sum::<usize>();
                    let _ = m.path(n);
                }
                let seen = seen.lock().unwrap();
                // The package edge sections of a graph without package
                // graphs are never read, so never checked, nor are the
                // fixed outputs' hash parts of a graph without fixed
                // outputs; damaged derivation facts are found by the
                // record read alone, and again when all are decoded.
                let want = match i {
                    14 | 15 | 43 => 0,
                    6 => 2,
                    _ => 1,
                };
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

/// The arrays checked block by block, by section, with their value
/// widths, in the order of their checksums in section 41 (version 7 has
/// the first six).
const BLOCKED: [(usize, usize); 8] = [
    (9, 4),
    (10, 2),
    (26, 4),
    (2, 1),
    (3, 32),
    (29, 1),
    (6, 1),
    (43, 32),
];

/// Bytes per checksummed block in version 9; 4 KiB in versions 7 and 8.
const BLOCK: usize = 1024;

/// Section 41 for `sections`: a checksum per `block` bytes of the first
/// `arrays` arrays of [`BLOCKED`].
fn block_sums<S: AsRef<[u8]>>(sections: &[S], arrays: usize, block: usize) -> Vec<u8> {
    BLOCKED[..arrays]
        .iter()
        .flat_map(|&(i, _)| {
            sections[i]
                .as_ref()
                .chunks(block)
                .map(xxh3)
                .collect::<Vec<_>>()
        })
        .flat_map(u64::to_le_bytes)
        .collect()
}

/// The sections of the version 9 file `bytes` as an older version has
/// them: its first `count`, the node flags (18) with bit 0 alone before
/// version 8, and the block checksums (41) per 4 KiB, of version 7's six
/// arrays in version 7.
fn older(bytes: &[u8], count: usize, version: u32) -> Vec<u8> {
    let t = table(bytes);
    let mut sections: Vec<Vec<u8>> = t[..count]
        .iter()
        .map(|&(start, len)| bytes[start..start + len].to_vec())
        .collect();
    if version < 8 {
        for f in &mut sections[18] {
            *f &= 1;
        }
    }
    if count > 41 {
        let arrays = if version < 8 { 6 } else { BLOCKED.len() };
        sections[41] = block_sums(&sections, arrays, 4096);
    }
    let mut out = snapshot::lay_out_in_place(&sections);
    out[8..12].copy_from_slice(&version.to_le_bytes());
    out
}

#[test]
fn version_8_files_are_still_read() {
    // Version 8 is version 9 with a block checksum per 4 KiB.
    for g in [diamond(), built_in()] {
        let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
        let v8 = older(&bytes, 44, 8);
        let dir = tempfile::tempdir().unwrap();
        same(&g, &snapshot::open(&write_file(&dir, &v8)).unwrap());
        same(&g, &snapshot::read(&v8).unwrap());
        assert_eq!(snapshot::info(&v8).unwrap().version, 8);
        // Checksums per 1 KiB in a file that says version 8 do not
        // answer for its blocks: the graph's edges are refused (a large
        // graph's arrays span more than one block of either size).
        if g.len() > 1000 {
            let mut relabelled = bytes.clone();
            relabelled[8..12].copy_from_slice(&8u32.to_le_bytes());
            let err = snapshot::open(&write_file(&dir, &relabelled)).unwrap_err();
            assert!(err.to_string().contains("block checksums"), "{err}");
        }
    }
}

#[test]
fn version_7_files_are_still_read() {
    // Version 7 is version 8 without its last two sections, and only the
    // fixed-output bit in the node flags.
    for g in [diamond(), built_in()] {
        let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
        let v7 = older(&bytes, 42, 7);
        let dir = tempfile::tempdir().unwrap();
        let m = snapshot::open(&write_file(&dir, &v7)).unwrap();
        same(&g, &m);
        same(&g, &snapshot::read(&v7).unwrap());
        assert_eq!(snapshot::info(&v7).unwrap().version, 7);
        // A kind bit in a version 7 file is refused.
        let mut bad = v7.clone();
        let (start, len) = table(&v7)[18];
        bad[start] |= 8;
        set_checksum(&mut bad, 18, start, len);
        let err = snapshot::open(&write_file(&dir, &bad)).unwrap_err();
        assert!(err.to_string().contains("node flags"), "{err}");
    }
}

#[test]
fn version_5_files_are_still_read() {
    // Version 5 is version 8 without its last twelve sections.
    let g = diamond();
    let bytes = snapshot::write_in_place(&g, &WriteOptions::default());
    let v5 = older(&bytes, 31, 5);
    let dir = tempfile::tempdir().unwrap();
    same(&g, &snapshot::open(&write_file(&dir, &v5)).unwrap());
    same(&g, &snapshot::read(&v5).unwrap());
    // With a section of version 7 too many, refused.
    let mut extra = snapshot::lay_out_in_place(
        &table(&bytes)[..32]
            .iter()
            .map(|&(start, len)| &bytes[start..start + len])
            .collect::<Vec<_>>(),
    );
    extra[8..12].copy_from_slice(&5u32.to_le_bytes());
    let err = snapshot::read(&extra).unwrap_err().to_string();
    assert!(err.contains("32 sections, expected 31"), "{err}");
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
    // Node flags with a bit no flag has, or a kind beside the fixed-output
    // bit (section 18).
    let dir = tempfile::tempdir().unwrap();
    for flags in [0x10, 0x80, 1 | 2, 1 | 6] {
        let mut bad = bytes.clone();
        let (start, len) = t[18];
        bad[start] = flags;
        rehash(&mut bad, 18, start, len);
        let path = write_file(&dir, &bad);
        let err = snapshot::open(&path).unwrap_err().to_string();
        assert!(err.contains("node flags"), "{err}");
    }
    // A derivation's record starting past the derivation facts (section
    // 42): reported when a record is first read alone, and the record
    // reads as none; decoded with the others, it is still there.
    let (m, seen) = late_word_out_of_range(&bytes, 42, &dir);
    let first = m.nodes().next().unwrap();
    assert!(g.derivation(first).is_some());
    assert!(m.derivation(first).is_none());
    assert!(seen.lock().unwrap()[0].contains("derivation start out of range"));
    assert_eq!(m.derivations().len(), g.derivations().len());
    // A record naming a string past the table, its checksums (section
    // and blocks) made right: refused as its record is read alone.
    let mut bad = bytes.clone();
    let (start, len) = t[6];
    let at = start + 1; // the first record's system, after its node
    bad[at] = 0x7f;
    rehash(&mut bad, 6, start, len);
    assert!(snapshot::read(&bad).is_err());
    let (opts, seen) = recorder();
    let m = snapshot::open_with(&write_file(&dir, &bad), &opts).unwrap();
    assert!(m.derivation(first).is_none());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("system") && seen[0].contains("out of range"),
        "{seen:?}"
    );
    // A dependent past the last node (section 26): reported when its
    // block is first read, which then reads as empty.
    let (m, seen) = late_word_out_of_range(&bytes, 26, &dir);
    let first = m.nodes().next().unwrap();
    assert!(!g.dependents(first).is_empty());
    assert!(m.dependents(first).is_empty());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("dependent targets value 0 of block 0 out of range"),
        "{seen:?}"
    );
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
    // A node's output set past the last set (section 40): reported on
    // first use, and the derivation facts answer instead.
    let (m, seen) = late_word_out_of_range(&bytes, 40, &dir);
    assert_eq!(m.output_names(first), ["out"]);
    assert!(seen.lock().unwrap()[0].contains("node output set out of range"));
    // In place, an edge target or output set past its range is found
    // when its block is first read (not when the file is opened):
    // reported once, and the block reads as empty.
    for (section, width) in [(9, 4), (10, 2)] {
        let mut bad = bytes.clone();
        let (start, len) = t[section];
        bad[start..start + width].copy_from_slice(&[0xff; 4][..width]);
        rehash(&mut bad, section, start, len);
        let (opts, seen) = recorder();
        let m = snapshot::open_with(&write_file(&dir, &bad), &opts).unwrap();
        assert!(seen.lock().unwrap().is_empty(), "section {section}");
        let edges: usize = m.nodes().map(|n| m.input_edges(n).count()).sum();
        assert_eq!(edges, 0, "section {section}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("of block 0 out of range"), "{seen:?}");
    }
}

/// `bytes` with the first word of `section` (one read on first use) set
/// past any range, its checksum made right: refused by the checked read,
/// opened in place with a damage recorder.
fn late_word_out_of_range(
    bytes: &[u8],
    section: usize,
    dir: &tempfile::TempDir,
) -> (Graph, Arc<Mutex<Vec<String>>>) {
    let mut bad = bytes.to_vec();
    let (start, len) = table(bytes)[section];
    bad[start..start + 4].copy_from_slice(&1000u32.to_le_bytes());
    rehash(&mut bad, section, start, len);
    assert!(snapshot::read(&bad).is_err(), "section {section}");
    let (opts, seen) = recorder();
    let m = snapshot::open_with(&write_file(dir, &bad), &opts).unwrap();
    (m, seen)
}

/// Recomputes the checksum of one section and of the table, and, for an
/// array checked block by block (edge targets, output sets, dependents,
/// string text, hash parts, package metadata text, derivations), the
/// block checksums of section 41, so that only the range checks are left
/// to find a value.
fn rehash(bytes: &mut [u8], section: usize, start: usize, len: usize) {
    set_checksum(bytes, section, start, len);
    if BLOCKED.iter().any(|&(i, _)| i == section) {
        let t = table(bytes);
        let arrays: Vec<&[u8]> = t.iter().map(|&(s, l)| &bytes[s..s + l]).collect();
        let sums = block_sums(&arrays, BLOCKED.len(), BLOCK);
        let (s, l) = t[41];
        bytes[s..s + l].copy_from_slice(&sums);
        set_checksum(bytes, 41, s, l);
    }
}

/// Recomputes the checksum of one section and of the table.
fn set_checksum(bytes: &mut [u8], section: usize, start: usize, len: usize) {
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
    StorePath::from_base_name(&format!("{i:032}-{name}").replace('e', "f")).unwrap()
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
