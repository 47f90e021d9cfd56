//! Facts by measurement: every claim the built-in knowledge base makes
//! about the size of a real seed, or of a member inside one, is checked on
//! the real bytes in `../shared/data/seed-bytes` (ABOVO_SEED_BYTES, set by
//! `.ci/run`): each file there is hashed as the derivations hash it (flat
//! sha256, and the NAR sha256 in both executable modes), looked up in the
//! knowledge base by that hash, and the entry's sizes compared with the
//! file's length and with what a content scan of it finds.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::Hash;
use abovo_store::derivation::FixedOutput;
use abovo_store::nar::hash_regular_bytes;
use abovo_trust::content::{CodeKind, Limits, scan_bytes};
use abovo_trust::knowledge::{KnowledgeBase, KnownSeed};
use std::path::PathBuf;

fn seed_bytes() -> Option<PathBuf> {
    match std::env::var_os("ABOVO_SEED_BYTES") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!("ABOVO_SEED_BYTES is not set: skipping the checks on the real seed bytes");
            None
        }
    }
}

/// The knowledge-base entry whose hash these bytes have, the way a
/// fixed-output derivation would hash them.
fn entry_for<'k>(kb: &'k KnowledgeBase, bytes: &[u8]) -> Option<&'k KnownSeed> {
    let flat = FixedOutput {
        recursive: false,
        hash: Hash::sha256(abovo_store::hash::sha256(bytes)),
    };
    kb.lookup_fixed(&flat).or_else(|| {
        [true, false]
            .into_iter()
            .find_map(|exec| kb.lookup_nar(&hash_regular_bytes(bytes, exec).hash))
    })
}

#[test]
fn knowledge_base_sizes_are_the_real_bytes_sizes() {
    let Some(dir) = seed_bytes() else { return };
    let kb = KnowledgeBase::built_in().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().contains('-'))
        .collect();
    files.sort();
    let mut checked_sizes = Vec::new();
    let mut checked_members = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let Some(entry) = entry_for(&kb, &bytes) else {
            continue;
        };
        if let Some(size) = entry.size {
            assert_eq!(
                size,
                bytes.len() as u64,
                "{}: the knowledge base says {size} bytes",
                entry.name
            );
            checked_sizes.push((entry.name.clone(), size));
        }
        let sized: Vec<_> = entry.members.iter().filter(|m| m.size.is_some()).collect();
        if sized.is_empty() {
            continue;
        }
        let name = file.file_name().unwrap().to_str().unwrap();
        let scan = scan_bytes(name, &bytes, &Limits::default());
        assert!(scan.complete, "{name}: {:?}", scan.issues);
        for m in sized {
            let found = scan
                .binary_members
                .iter()
                .find(|b| b.path == m.path)
                .unwrap_or_else(|| {
                    panic!("{}: member {} not found by the scan", entry.name, m.path)
                });
            assert_eq!(Some(found.size), m.size, "{}: {}", entry.name, m.path);
            checked_members.push((m.path.clone(), found.size, found.kind));
        }
    }
    eprintln!("sizes checked: {checked_sizes:?}");
    eprintln!("members checked: {checked_members:?}");
    // The claims the issue names, each checked above.
    for (name, size) in [
        ("bash (i686-linux static bootstrap executable)", 1_351_732),
        ("mkdir (i686-linux static bootstrap executable)", 714_316),
        ("tar (i686-linux static bootstrap executable)", 1_285_420),
        ("xz (i686-linux static bootstrap executable)", 861_836),
        (
            "stage0-posix-1.6.0.tar.gz (full-source bootstrap seeds)",
            1_189_782,
        ),
    ] {
        assert!(
            checked_sizes.contains(&(name.to_owned(), size)),
            "{name} ({size} B) was not checked: {checked_sizes:?}"
        );
    }
    assert_eq!(
        checked_sizes.len(),
        9,
        "the eight executables and stage0-posix"
    );
    assert_eq!(
        checked_members,
        [
            (
                "stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed".to_owned(),
                256,
                Some(CodeKind::ElfExecutable)
            ),
            (
                "stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/kaem-optional-seed".to_owned(),
                640,
                Some(CodeKind::ElfExecutable)
            ),
        ]
    );
}

#[test]
fn no_size_in_the_knowledge_base_contradicts_a_measurement() {
    // Every size the base gives for a seed abovo has bytes of is one of the
    // checked ones above; the others cite a source that is not a guess.
    let kb = KnowledgeBase::built_in().unwrap();
    for e in kb.entries() {
        let sources = e
            .size_source
            .iter()
            .chain(e.members.iter().filter_map(|m| m.size_source.as_ref()));
        for s in sources {
            assert!(
                s.starts_with("measured") || s.starts_with("git tag"),
                "{}: size source {s:?} says neither how it was measured nor where it was read",
                e.name
            );
        }
    }
    // The old figure is gone from the data abovo prints.
    assert!(
        !abovo_trust::knowledge::BUILT_IN
            .lines()
            .any(|l| l.starts_with("description") && l.contains("357")),
        "a description still quotes the 357-byte seed"
    );
}
