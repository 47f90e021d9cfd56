//! The snapshot reader (`abovo --graph FILE.abovo-snapshot`, `snapshot
//! info`) on hostile files. A checksum guards the body, so random bytes
//! would only ever test the checksum: the harness makes every file pass it.
//! The first byte picks the mode. Even: the rest is a whole file, whose
//! length and checksum fields are set to what its body needs (for the
//! in-place form, versions 3 to 5, 7 and 8, every section's checksum and
//! the table's). Odd: the rest is the sections, separated by [`SEP`]: with
//! the low two bits 3, the sections of the in-place form (version 8) but
//! the block checksums, laid out and checksummed as
//! `snapshot::write_in_place` does (the block checksums made for them and
//! put in their place, section 41), so that the range checks and decoders
//! see the mutations; otherwise the eleven decompressed
//! sections of version 2, which the harness compresses and frames as
//! `snapshot::write` does, so that the decoders (varints, ids, string
//! tables, the package sections) see the mutations rather than zstd; with
//! the low three bits 5, the same sections framed as the dense form
//! (version 6), each an xz stream, so that the xz path is reached too.
//!
//! An in-place file is also opened in place (`snapshot::open`, mapped from
//! a file), with every lazily read section touched: never a panic, damage
//! reported to the handler rather than read; and when `read` accepts the
//! file, the mapped graph is the same.
//!
//! Never a panic, whether read with every check (`read`, `info`) or as a
//! trusted snapshot (`read_trusted`, which decodes lazily and must still
//! only range-check its way through damage). A snapshot that `read`
//! accepts: `info` accepts it too; it writes back to a snapshot that reads
//! to the same counts and writes to the same bytes (the encoding is a
//! function of the graph); and the trusted reader sees the same graph.
#![no_main]
use abovo_graph::Graph;
use abovo_graph::snapshot::{self, SnapshotInfo};
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;
use sha2::{Digest, Sha256};

/// What separates the sections in the second mode.
const SEP: &[u8] = b"\n@@section@@\n";
/// The fixed header: magic, version, length of the rest, its SHA-256.
const HEADER_LEN: usize = 52;
/// The sections of format version 2.
const SECTIONS: usize = 11;

/// The in-place form: fixed header, then 24 bytes per section; 17
/// sections in version 3, 25 in version 4, 31 in version 5, 42 in version
/// 7, 44 in version 8 (what this build writes; its section 41 the
/// checksums of the blocks of the arrays in [`BLOCKED`]).
const V3_FIXED: usize = 32;
const V3_SECTIONS: usize = 17;
const V4_SECTIONS: usize = 25;
const V5_SECTIONS: usize = 31;
const V7_SECTIONS: usize = 42;
const V8_SECTIONS: usize = 44;
/// The section of the block checksums (versions 7 and 8).
const BLOCK_SUMS: usize = 41;
/// The arrays of version 8 checked block by block (4 KiB blocks), in the
/// order of their checksums in section 41 (the first six in version 7).
const BLOCKED: [usize; 8] = [9, 10, 26, 2, 3, 29, 6, 43];

fn xxh3(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

/// An in-place file with its length, section checksums (of the sections
/// that lie in the file) and table checksum made right.
fn fix_in_place(bytes: &[u8], sections: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let table_end = V3_FIXED + 24 * sections;
    if out.len() < table_end {
        return out;
    }
    let len = out.len() as u64;
    out[16..24].copy_from_slice(&len.to_le_bytes());
    for i in 0..sections {
        let e = V3_FIXED + 24 * i;
        let word = |k: usize| u64::from_le_bytes(out[e + k..e + k + 8].try_into().unwrap());
        let (start, size) = (word(0), word(8));
        if let Some(end) = start.checked_add(size).filter(|&end| end <= len) {
            let h = xxh3(&out[start as usize..end as usize]);
            out[e + 16..e + 24].copy_from_slice(&h.to_le_bytes());
        }
    }
    let t = xxh3(&out[V3_FIXED..table_end]);
    out[24..32].copy_from_slice(&t.to_le_bytes());
    out
}

/// A version 8 file of the sections `SEP` separates in `bytes` (all but
/// the block checksums), with the block checksums made right and put in
/// their place, so that the range checks behind them are reached.
fn compose_in_place(bytes: &[u8]) -> Vec<u8> {
    let mut sections: Vec<Vec<u8>> = split(bytes, V8_SECTIONS - 1)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    // In its place first, so that the others have their file's indices.
    sections.insert(BLOCK_SUMS, Vec::new());
    let sums: Vec<u8> = BLOCKED
        .iter()
        .flat_map(|&i| sections[i].chunks(4096).map(xxh3).collect::<Vec<_>>())
        .flat_map(u64::to_le_bytes)
        .collect();
    sections[BLOCK_SUMS] = sums;
    snapshot::lay_out_in_place(&sections)
}

/// The parts of `bytes` between separators: `n` of them (missing ones
/// empty, the rest in the last).
fn split(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let mut sections: Vec<&[u8]> = Vec::with_capacity(n);
    let mut rest = bytes;
    while sections.len() + 1 < n {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(at) => {
                sections.push(&rest[..at]);
                rest = &rest[at + SEP.len()..];
            }
            None => break,
        }
    }
    sections.push(rest);
    sections.resize(n, &[]);
    sections
}

/// Opens `file` in place from a temporary file and touches every section
/// read on first use; a damaged one must be reported, never read.
fn open_in_place(file: &[u8], checked: Option<&Graph>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DAMAGE: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!("abovo-fuzz-{}.snapshot", std::process::id()));
    std::fs::write(&path, file).expect("writes the temporary file");
    let opts = snapshot::OpenOptions {
        on_damage: Some(std::sync::Arc::new(|_| {
            DAMAGE.fetch_add(1, Ordering::Relaxed);
        })),
    };
    let before = DAMAGE.load(Ordering::Relaxed);
    if let Ok(g) = snapshot::open_with(&path, &opts) {
        let w = walk(&g);
        if let Some(checked) = checked {
            assert_eq!(DAMAGE.load(Ordering::Relaxed), before, "damage in a checked file");
            assert_eq!((g.len(), g.edge_count()), (checked.len(), checked.edge_count()));
            assert_eq!(w, walk(checked));
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// `bytes` with the length and checksum fields made right for its body.
fn fix_header(bytes: &[u8]) -> Vec<u8> {
    if bytes.get(8..12) == Some(&snapshot::VERSION_IN_PLACE.to_le_bytes()[..]) {
        return fix_in_place(bytes, V8_SECTIONS);
    }
    if bytes.get(8..12) == Some(&7u32.to_le_bytes()[..]) {
        return fix_in_place(bytes, V7_SECTIONS);
    }
    if bytes.get(8..12) == Some(&5u32.to_le_bytes()[..]) {
        return fix_in_place(bytes, V5_SECTIONS);
    }
    if bytes.get(8..12) == Some(&4u32.to_le_bytes()[..]) {
        return fix_in_place(bytes, V4_SECTIONS);
    }
    if bytes.get(8..12) == Some(&3u32.to_le_bytes()[..]) {
        return fix_in_place(bytes, V3_SECTIONS);
    }
    let mut out = bytes.to_vec();
    if out.len() >= HEADER_LEN && out.starts_with(snapshot::MAGIC) {
        let rest_len = (out.len() - HEADER_LEN) as u64;
        out[12..20].copy_from_slice(&rest_len.to_le_bytes());
        let sum = Sha256::digest(&out[HEADER_LEN..]);
        out[20..52].copy_from_slice(&sum);
    }
    out
}

/// A version 2 file of the sections `SEP` separates in `bytes` (missing
/// ones empty, extra ones dropped).
fn compose(bytes: &[u8], xz: bool) -> Vec<u8> {
    let sections = split(bytes, SECTIONS);
    let frames: Vec<Vec<u8>> = sections
        .iter()
        .map(|s| match xz {
            true => xz_compress(s),
            false => zstd::bulk::compress(s, 1).expect("zstd compresses"),
        })
        .collect();
    let mut body = (SECTIONS as u32).to_le_bytes().to_vec();
    for f in &frames {
        body.extend_from_slice(&(f.len() as u64).to_le_bytes());
    }
    for f in &frames {
        body.extend_from_slice(f);
    }
    let mut out = snapshot::MAGIC.to_vec();
    let version = if xz {
        snapshot::VERSION_DENSE
    } else {
        snapshot::VERSION
    };
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    out
}

/// `bytes` as one xz stream (a fast preset: the reader does not care).
fn xz_compress(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut xz2::read::XzEncoder::new(bytes, 0), &mut out)
        .expect("xz compresses");
    out
}

/// Touches what a trusted graph decodes on first use.
fn walk(g: &Graph) -> (usize, usize, usize) {
    let order = g.topological_order().len();
    // Each derivation's record read alone (version 8), before they are
    // all decoded, with what the node flags say of it.
    let alone: usize = g
        .nodes()
        .filter_map(|n| g.derivation(n).map(|d| (n, d)))
        .map(|(n, d)| {
            let same = (d.kind(), d.builtin()) == (g.derivation_kind(n).unwrap_or(d.kind()), g.builtin(n));
            usize::from(same) + d.outputs().len() + d.env_vars().len()
        })
        .sum();
    let derivations = g.derivations().filter(|d| d.is_fixed_output()).count();
    let sized = g.nodes().filter(|&n| g.nar_size(n).is_some()).count();
    let _ = (g.package_graph().len(), g.package_meta().get(0).is_some());
    // What version 7 stores apart: output names, the edges' output sets,
    // each package graph's reverse edges and order.
    let outputs: usize = g.nodes().map(|n| g.output_names(n).len()).sum();
    let edges: usize = g.nodes().map(|n| g.input_edges(n).map(|e| e.outputs().len()).sum::<usize>()).sum();
    let pg = g.package_graph();
    let mut layers = 0;
    for ty in abovo_graph::package_graph::GraphType::ALL {
        if let Some(v) = pg.view(g, ty) {
            use abovo_graph::dag::Dag;
            layers += v.topological_order().len();
            layers += pg.ids().map(|p| v.dependents(p).len()).sum::<usize>();
        }
    }
    let _ = (outputs, edges, layers, alone);
    (order, derivations, sized)
}

/// `info` without what depends on the bytes rather than the graph.
fn counts(mut info: SnapshotInfo) -> SnapshotInfo {
    info.file_size = 0;
    info.body_size = 0;
    info.checksum.clear();
    info.creator.clear();
    info
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 {
        fix_header(rest)
    } else if mode & 3 == 3 {
        compose_in_place(rest)
    } else {
        compose(rest, mode & 7 == 5)
    };
    let _ = snapshot::peek_store_dir(&file[..]);
    let version = file.get(8..12).map(|v| u32::from_le_bytes(v.try_into().unwrap()));
    if version == Some(snapshot::VERSION_IN_PLACE) || matches!(version, Some(3..=5 | 7)) {
        let checked = snapshot::read(&file).ok();
        if checked.is_some() {
            snapshot::info(&file).expect("info accepts what read accepts");
        } else {
            assert!(snapshot::info(&file).is_err(), "info accepts what read refuses");
        }
        open_in_place(&file, checked.as_ref());
        return;
    }
    // SAFETY: `read_trusted` wants bytes that live for the program, as
    // compiled-in snapshots do; the graph it returns is dropped at the end
    // of this block, before `file`, and keeps nothing elsewhere.
    let forever: &'static [u8] = unsafe { std::mem::transmute::<&[u8], &'static [u8]>(&file) };
    let trusted = snapshot::read_trusted(forever).ok();
    let trusted_walk = trusted.as_ref().map(walk);

    let Ok(graph) = snapshot::read(&file) else {
        assert!(
            snapshot::info(&file).is_err(),
            "info accepts what read refuses"
        );
        drop(trusted);
        return;
    };
    let info = snapshot::info(&file).expect("info accepts what read accepts");
    let t = trusted
        .as_ref()
        .expect("the trusted reader refuses what read accepts");
    assert_eq!((t.len(), t.edge_count()), (graph.len(), graph.edge_count()));
    assert_eq!(trusted_walk, Some(walk(&graph)));
    drop(trusted);

    let (written, again) = common::snapshot_round_trip(&graph);
    assert_eq!(
        common::snapshot_round_trip(&again).0,
        written,
        "write ∘ read is not the identity on written snapshots"
    );
    let written_info = snapshot::info(&written).expect("info reads a written snapshot");
    assert_eq!(counts(written_info), counts(info));
});
