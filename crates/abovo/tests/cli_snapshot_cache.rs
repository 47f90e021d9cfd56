//! The built-in snapshot's in-place copy in abovo's cache: written once by
//! the first run, mapped by the next ones with the same answers; a damaged
//! copy is rewritten (when it fails to open) or removed with an error
//! (when a section read later fails its checksum); no cache, the same
//! answers from the built-in snapshot.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{ERROR, SUCCESS, abovo_command, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Output;

fn run(cache: &Path, args: &[&str]) -> Output {
    abovo_command(args)
        .env("ABOVO_CACHE_DIR", cache)
        .output()
        .unwrap()
}

/// The one snapshot file in the cache.
fn cached(cache: &Path) -> Option<PathBuf> {
    let dir = cache.join("snapshots");
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() <= 1, "{files:?}");
    files.into_iter().next()
}

/// (start, length) of section `i` of an in-place file.
fn section(bytes: &[u8], i: usize) -> (usize, usize) {
    let at = 32 + 24 * i;
    let word = |k: usize| u64::from_le_bytes(bytes[at + k..at + k + 8].try_into().unwrap());
    (word(0) as usize, word(8) as usize)
}

#[test]
fn the_cache_is_written_once_then_mapped_with_the_same_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("abovo");
    let query = ["closure", "hello", "--format", "json"];
    // No cache directory that can be made: the answer from the built-in
    // snapshot, and nothing written.
    let none = run(&tmp.path().join("missing/abovo"), &query);
    assert_eq!(none.status.code(), Some(SUCCESS), "{}", stderr(&none));
    assert!(!tmp.path().join("missing").exists());

    // A copy left by another build (other built-in data, or the earlier
    // version 3 of the in-place form) is removed when this build writes
    // its own.
    std::fs::create_dir_all(cache.join("snapshots")).unwrap();
    let stale = cache
        .join("snapshots")
        .join(format!("{}.v3.abovo-snapshot", "0".repeat(64)));
    std::fs::write(&stale, b"ABOVOSNP").unwrap();
    let older = cache
        .join("snapshots")
        .join(format!("{}.v4.abovo-snapshot", "1".repeat(64)));
    std::fs::write(&older, b"ABOVOSNP").unwrap();
    let v5 = cache
        .join("snapshots")
        .join(format!("{}.v5.abovo-snapshot", "2".repeat(64)));
    std::fs::write(&v5, b"ABOVOSNP").unwrap();
    let v7 = cache
        .join("snapshots")
        .join(format!("{}.v7.abovo-snapshot", "3".repeat(64)));
    std::fs::write(&v7, b"ABOVOSNP").unwrap();
    let v8 = cache
        .join("snapshots")
        .join(format!("{}.v8.abovo-snapshot", "4".repeat(64)));
    std::fs::write(&v8, b"ABOVOSNP").unwrap();
    let first = run(&cache, &query);
    assert_eq!(first.status.code(), Some(SUCCESS), "{}", stderr(&first));
    assert!(!stale.exists(), "the other build's copy is removed");
    assert!(!older.exists(), "the version 4 copy is removed");
    assert!(!v5.exists(), "the version 5 copy is removed");
    assert!(!v7.exists(), "the version 7 copy is removed");
    assert!(!v8.exists(), "the version 8 copy is removed");
    let file = cached(&cache).expect("the first run writes the cache");
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.ends_with(".v9.abovo-snapshot") && name.len() == 64 + 18,
        "{name}"
    );
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"ABOVOSNP");
    assert_eq!(&bytes[8..12], &9u32.to_le_bytes());
    // No temporary file left beside it.
    assert_eq!(
        std::fs::read_dir(cache.join("snapshots")).unwrap().count(),
        1
    );

    let second = run(&cache, &query);
    assert_eq!(second.status.code(), Some(SUCCESS));
    assert_eq!(stdout(&first), stdout(&none));
    assert_eq!(stdout(&second), stdout(&none));
    // Mapped, not rewritten.
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    // Other questions, whose answers need the sections read late.
    for args in [
        &["path", "hello", "guile-bootstrap", "--type", "derivation"][..],
        &["dependents", "ghc@7.10.3", "--format", "json"],
        &["seeds", "hello", "--format", "json", "--no-cache"],
    ] {
        let a = run(&cache, args);
        let b = run(&tmp.path().join("missing/abovo"), args);
        assert_eq!(a.status.code(), Some(SUCCESS), "{args:?}: {}", stderr(&a));
        assert_eq!(stdout(&a), stdout(&b), "{args:?}");
    }
    // `snapshot info` checks the copy through and through.
    let info = run(&cache, &["snapshot", "info", file.to_str().unwrap()]);
    assert_eq!(info.status.code(), Some(SUCCESS), "{}", stderr(&info));
    assert!(stdout(&info).contains("version 9"), "{}", stdout(&info));
}

#[test]
fn a_damaged_cache_is_rewritten_or_refused_never_used() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("abovo");
    let query = ["closure", "hello", "--format", "json"];
    let want = run(&cache, &query);
    assert_eq!(want.status.code(), Some(SUCCESS));
    let file = cached(&cache).unwrap();
    let good = std::fs::read(&file).unwrap();

    // A section every query reads (node names, 4): the copy fails to
    // open, is written again, and the answer is the same.
    let mut bad = good.clone();
    let (start, len) = section(&bad, 4);
    bad[start + len / 2] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let again = run(&cache, &query);
    assert_eq!(again.status.code(), Some(SUCCESS), "{}", stderr(&again));
    assert_eq!(stdout(&again), stdout(&want));
    assert_eq!(std::fs::read(&file).unwrap(), good, "rewritten");

    // Cut short: the same.
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let again = run(&cache, &query);
    assert_eq!(stdout(&again), stdout(&want));
    assert_eq!(std::fs::read(&file).unwrap(), good);

    // A damaged copy the command refuses: it stops with an error before
    // answering, names what is damaged and removes the copy; the next run
    // writes it again.
    let seeds = ["seeds", "hello", "--format", "json", "--no-cache"];
    let want_seeds = run(&cache, &seeds);
    assert_eq!(want_seeds.status.code(), Some(SUCCESS));
    let refused_then_rewritten = |bad: &[u8], named: &[&str], query: &[&str]| {
        std::fs::write(&file, bad).unwrap();
        let refused = run(&cache, query);
        assert_eq!(refused.status.code(), Some(ERROR));
        assert!(stdout(&refused).is_empty(), "{}", stdout(&refused));
        let err = stderr(&refused);
        assert!(named.iter().all(|n| err.contains(n)), "{err}");
        assert!(cached(&cache).is_none(), "the damaged copy is removed");
        let again = run(&cache, query);
        let want = if query == &seeds[..] {
            &want_seeds
        } else {
            &want
        };
        assert_eq!(stdout(&again), stdout(want));
        assert_eq!(std::fs::read(&file).unwrap(), good);
    };

    // A section read on first use (the store metadata, 12: the JSON
    // gives NAR sizes).
    let mut bad = good.clone();
    let (start, len) = section(&bad, 12);
    bad[start + len / 2] ^= 1;
    refused_then_rewritten(&bad, &["is damaged", "store metadata"], &query);

    // The derivation facts (6), damaged in every 4 KiB block: the first
    // record `seeds` reads alone finds it.
    let mut bad = good.clone();
    let (start, len) = section(&bad, 6);
    for at in (start..start + len).step_by(4096) {
        bad[at] ^= 1;
    }
    refused_then_rewritten(&bad, &["is damaged", "derivations", "block"], &seeds);

    // An array checked block by block (edge targets, 9), damaged in every
    // 4 KiB block: opening succeeds, and the first edge read finds it.
    let mut bad = good.clone();
    let (start, len) = section(&bad, 9);
    for at in (start..start + len).step_by(4096) {
        bad[at] ^= 1;
    }
    refused_then_rewritten(&bad, &["is damaged", "edge targets", "block"], &query);
}
