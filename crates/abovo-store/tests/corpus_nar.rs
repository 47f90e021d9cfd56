//! Corpus-wide: the NAR hash and NAR size of every `.drv` file of Guix
//! 1.5.0, stored as a non-executable regular file, equal the values the Guix
//! daemon registered for it (`store-meta.tsv.zst`, `ValidPaths.hash` form
//! `sha256:<base16>`).
//!
//! Reads `$ABOVO_GUIX_CORPUS/drvs.tar.zst` and `store-meta.tsv.zst` directly;
//! prints one skip line when the variable is unset.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::nar;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// Prints a line that `cargo test` does not capture: the counts a corpus test
/// checked (or why it was skipped) belong in every CI log.
macro_rules! report {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[test]
fn every_drv_nar_hash_and_size_matches_store_meta() {
    let Some(dir) = std::env::var_os("ABOVO_GUIX_CORPUS") else {
        report!("corpus_nar: skipped, ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let dir = Path::new(&dir);

    // path -> (nar_hash, nar_size) for every .drv row.
    let meta = std::fs::File::open(dir.join("store-meta.tsv.zst")).expect("store-meta.tsv.zst");
    let meta = BufReader::new(zstd::Decoder::new(meta).unwrap());
    let mut expected: HashMap<String, (String, u64)> = HashMap::new();
    for (i, line) in meta.lines().enumerate() {
        let line = line.unwrap();
        if i == 0 {
            assert!(
                line.starts_with("path\tnar_hash\tnar_size"),
                "header: {line}"
            );
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(path), Some(hash), Some(size)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("store-meta line {}: too few columns", i + 1);
        };
        if let Some(base) = path.strip_prefix("/gnu/store/") {
            if base.ends_with(".drv") {
                let size: u64 = size
                    .parse()
                    .unwrap_or_else(|_| panic!("line {}: size {size}", i + 1));
                expected.insert(base.to_owned(), (hash.to_owned(), size));
            }
        }
    }

    let tarball = std::fs::File::open(dir.join("drvs.tar.zst")).expect("drvs.tar.zst");
    let mut archive = tar::Archive::new(zstd::Decoder::new(tarball).unwrap());
    let mut checked = 0usize;
    let mut mismatches = Vec::new();
    let mut bytes = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let base = name.rsplit('/').next().unwrap().to_owned();
        if !base.ends_with(".drv") {
            continue;
        }
        bytes.clear();
        entry.read_to_end(&mut bytes).unwrap();
        let got = nar::hash_regular_bytes(&bytes, false);
        match expected.remove(&base) {
            None => mismatches.push(format!("{base}: no store-meta row")),
            Some((hash, size)) => {
                if got.hash.to_db_string() != hash || got.size != size {
                    mismatches.push(format!(
                        "{base}: store-meta {hash} {size}, computed {} {}",
                        got.hash.to_db_string(),
                        got.size
                    ));
                }
            }
        }
        checked += 1;
    }
    for m in mismatches.iter().take(20) {
        eprintln!("mismatch: {m}");
    }
    report!(
        "corpus_nar: checked the NAR hash and size of {checked} .drv files against store-meta.tsv: {} mismatches",
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
    assert!(
        expected.is_empty(),
        "{} .drv rows of store-meta have no file in drvs.tar.zst",
        expected.len()
    );
    assert_eq!(checked, 71_817);
}
