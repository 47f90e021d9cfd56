//! Tests of the compressed snapshot form (versions 1 and 2).

#![allow(clippy::unwrap_used)]

use super::*;
use std::io::Write;

/// A snapshot of a one-derivation graph.
fn small() -> Vec<u8> {
    let text = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[],[],"x86_64-linux","/bin/sh",[],[])"#;
    let store = abovo_store::StoreDir::default();
    let files = vec![crate::load::DrvFile {
        name: "w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv".into(),
        bytes: text.as_bytes().to_vec(),
    }];
    let opts = crate::load::LoadOptions::new(&store, &crate::load::Silent);
    let g = crate::load::graph_of_files(files, opts).unwrap();
    write(&g, &WriteOptions::default()).unwrap()
}

/// `mib` MiB of zeros in one zstd frame, with or without its size in
/// the frame header: a few kilobytes on disk.
fn bomb(mib: usize, sized: bool) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    if sized {
        e.set_pledged_src_size(Some((mib << 20) as u64)).unwrap();
        e.include_contentsize(true).unwrap();
    } else {
        e.include_contentsize(false).unwrap();
    }
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// `snapshot` with section `i` replaced by `frame`, its lengths and
/// checksum recomputed: a file that passes every integrity check.
fn with_section(snapshot: &[u8], i: usize, frame: &[u8]) -> Vec<u8> {
    let frames: Vec<Vec<u8>> = open_frames(snapshot, false)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let mut rest = (SECTIONS as u32).to_le_bytes().to_vec();
    for (j, f) in frames.iter().enumerate() {
        let len = if j == i { frame.len() } else { f.len() };
        rest.extend_from_slice(&(len as u64).to_le_bytes());
    }
    for (j, f) in frames.iter().enumerate() {
        rest.extend_from_slice(if j == i { frame } else { f });
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(rest.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&rest));
    out.extend_from_slice(&rest);
    out
}

#[test]
fn decompression_bombs_stop_at_the_bound_naming_the_section() {
    let good = small();
    assert!(read(&good).is_ok());
    // 40 MiB of zeros in about 1 KB: past the 16 MiB floor, far past
    // 1024 times its size. zstd with and without the size in the frame,
    // then xz in a version 6 file.
    let xz_bomb = xz::compress(&vec![0u8; 40 << 20]).unwrap();
    for (sized, frame) in [
        (false, bomb(40, false)),
        (true, bomb(40, true)),
        (false, xz_bomb),
    ] {
        assert!(frame.len() < 16 << 10, "{}", frame.len());
        let mut file = with_section(&good, 6, &frame);
        if xz::is_xz(&frame) {
            file[8..12].copy_from_slice(&VERSION_DENSE.to_le_bytes());
        }
        for err in [read(&file).unwrap_err(), info(&file).unwrap_err()] {
            assert!(
                matches!(
                    err,
                    SnapshotError::SectionTooLarge {
                        section: "store metadata",
                        limit: SECTION_FLOOR,
                        ..
                    }
                ),
                "sized {sized}: {err}"
            );
            assert!(err.to_string().contains("store metadata section"), "{err}");
        }
        // A trusted read of a damaged section reads it as empty.
        let leaked: &'static [u8] = Box::leak(file.into_boxed_slice());
        let g = read_trusted(leaked).unwrap();
        assert_eq!(g.meta().sized(), 0);
    }
    // The header section: 1 MiB at most, also when peeking.
    let file = with_section(&good, 0, &bomb(2, false));
    let err = peek_store_dir(&file[..]).unwrap_err();
    assert!(
        matches!(err, SnapshotError::SectionTooLarge { section: "header", limit, .. } if limit == HEADER_SECTION_LIMIT),
        "{err}"
    );
    assert!(matches!(
        read(&file).unwrap_err(),
        SnapshotError::SectionTooLarge {
            section: "header",
            ..
        }
    ));
}

#[test]
fn bounds_scale_with_the_compressed_size_up_to_the_total() {
    assert_eq!(section_limit(0, 1 << 30), HEADER_SECTION_LIMIT);
    assert_eq!(section_limit(3, 10), SECTION_FLOOR);
    assert_eq!(section_limit(3, 1 << 20), 1 << 30);
    assert_eq!(section_limit(3, 1 << 30), TOTAL_LIMIT);
    let budget = Budget::new();
    assert!(budget.spend(TOTAL_LIMIT - 5));
    assert!(!budget.spend(6));
    assert!(budget.spend(5));
    // With the budget spent, even a tiny section is refused.
    let frame = zstd::bulk::compress(b"x", 1).unwrap();
    assert!(matches!(
        decompress(&frame, 1, &budget),
        Err(SnapshotError::SectionTooLarge { limit: 0, .. })
    ));
}

#[test]
fn truncation_is_measured_against_the_whole_file_everywhere() {
    let good = small();
    let total = good.len() as u64;
    let ten = &good[..10];
    let want = "truncated: the header needs 52 bytes, the file has 10";
    assert_eq!(read(ten).unwrap_err().to_string(), want);
    assert_eq!(peek_store_dir(ten).unwrap_err().to_string(), want);
    for cut in [60, 100, 130, good.len() - 1] {
        let want = format!("truncated: the header needs {total} bytes, the file has {cut}");
        assert_eq!(read(&good[..cut]).unwrap_err().to_string(), want);
        // The header's table of section lengths ends at byte 144.
        if cut < 144 {
            assert_eq!(peek_store_dir(&good[..cut]).unwrap_err().to_string(), want);
        }
    }
    let mut long = good.clone();
    long.push(0);
    assert!(
        read(&long)
            .unwrap_err()
            .to_string()
            .contains("bytes after the end")
    );
}

#[test]
fn the_dense_form_reads_as_the_same_graph_and_refuses_xz_in_version_2() {
    let good = small();
    let g = read(&good).unwrap();
    let dense = write_dense(&g, &WriteOptions::default()).unwrap();
    assert_eq!(version_of(&dense), Some(VERSION_DENSE));
    let d = read(&dense).unwrap();
    // The same graph: written again in the portable form, the same bytes.
    assert_eq!(write(&d, &WriteOptions::default()).unwrap(), good);
    let leaked: &'static [u8] = Box::leak(dense.clone().into_boxed_slice());
    let t = read_trusted(leaked).unwrap();
    assert_eq!(write(&t, &WriteOptions::default()).unwrap(), good);
    let i = info(&dense).unwrap();
    assert_eq!((i.version, i.nodes), (VERSION_DENSE, 1));
    assert_eq!(i.body_size, info(&good).unwrap().body_size);
    assert_eq!(
        peek_store_dir(&dense[..]).unwrap(),
        peek_store_dir(&good[..]).unwrap()
    );
    // An xz section is only allowed in version 6.
    let xz = xz::compress(b"").unwrap();
    let file = with_section(&good, 6, &xz);
    let err = read(&file).unwrap_err().to_string();
    assert!(
        err.contains("an xz section in a file of format version 2"),
        "{err}"
    );
}
