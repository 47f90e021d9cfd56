//! Makes a large live store for `scripts/bench-live-store.sh`: the Guix
//! 1.5.0 corpus's 71,817 `.drv` files, plus derivations written with
//! abovo's own derivation writer (`abovo-store`) until the store holds
//! TOTAL, plus RESERVE more kept aside (to be added later, as a daemon
//! would). Every generated `.drv` is valid: its output paths and its own
//! path are computed from its content, as Guix computes them; each takes
//! real input edges into the corpus (three fixed-output derivations, the
//! fetchers of real sources, and two real builder scripts) and into earlier
//! generated ones. With `--database`, `var/guix/db/db.sqlite` beside the
//! store registers every `.drv` of the store, as guix-daemon would.
//!
//! ```sh
//! cargo run --profile test -p abovo-index --example live_store -- \
//!     CORPUS_DIR OUT_DIR TOTAL RESERVE [--database]
//! ```
//!
//! OUT_DIR/gnu/store is the store; OUT_DIR/reserve holds the reserve.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: a panic is the report

use abovo_build::store::db::{Database, Registration};
use abovo_store::derivation::{Derivation, DerivationError, Output};
use abovo_store::{StoreDir, StorePath};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: live_store CORPUS_DIR OUT_DIR TOTAL RESERVE [--database]");
        std::process::exit(2);
    }
    let corpus = PathBuf::from(&args[1]);
    let out = PathBuf::from(&args[2]);
    let total: usize = args[3].parse().expect("TOTAL is a number");
    let reserve: usize = args[4].parse().expect("RESERVE is a number");
    let database = args.iter().any(|a| a == "--database");
    let store_dir = StoreDir::default();
    let store = out.join("gnu/store");
    let aside = out.join("reserve");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&aside).unwrap();

    let started = std::time::Instant::now();
    let files = unpack(&corpus.join("drvs.tar.zst"), &store);
    eprintln!(
        "{} corpus .drv files in {:.1?}",
        files.len(),
        started.elapsed()
    );

    // The fixed-output derivations of the corpus and their hashes (a fixed
    // output's hash needs no input), and the sources the corpus names.
    let parsed: Vec<(StorePath, Derivation)> = files
        .par_iter()
        .map(|(name, bytes)| {
            (
                StorePath::from_base_name(name).unwrap(),
                Derivation::parse(&store_dir, bytes).unwrap(),
            )
        })
        .collect();
    let no_input = |_: &StorePath| -> Result<[u8; 32], DerivationError> {
        unreachable!("a fixed-output derivation's hash needs no input")
    };
    let fixed: Vec<(StorePath, [u8; 32])> = parsed
        .iter()
        .filter(|(_, d)| d.is_fixed_output())
        .map(|(p, d)| (p.clone(), d.hash_modulo(&store_dir, no_input).unwrap()))
        .collect();
    let sources: Vec<StorePath> = parsed
        .iter()
        .flat_map(|(_, d)| d.input_sources.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    drop(parsed);

    let wanted = total.saturating_sub(files.len()) + reserve;
    let mut hashes: BTreeMap<StorePath, [u8; 32]> = fixed.iter().cloned().collect();
    let mut made: Vec<StorePath> = Vec::with_capacity(wanted);
    let mut registered: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..wanted {
        let mut drv = Derivation {
            system: "x86_64-linux".into(),
            builder: format!(
                "{}/bin/guile",
                store_dir.display(&sources[i % sources.len()])
            ),
            arguments: vec![
                b"--no-auto-compile".to_vec(),
                format!("build-{i}").into_bytes(),
            ],
            ..Derivation::default()
        };
        let name = format!("generated-{i}-1.{}", i % 7);
        let mut outputs = vec!["out"];
        if i % 5 == 0 {
            outputs.push("lib");
        }
        for o in &outputs {
            drv.outputs.insert(
                (*o).to_owned(),
                Output {
                    path: None,
                    hash_algo: String::new(),
                    hash: String::new(),
                },
            );
            drv.environment.insert(o.as_bytes().to_vec(), Vec::new());
        }
        drv.environment
            .insert(b"name".to_vec(), name.clone().into_bytes());
        drv.environment
            .insert(b"system".to_vec(), b"x86_64-linux".to_vec());
        // Three fetchers of the corpus, spread over it.
        for k in 0..3 {
            let (p, _) = &fixed[(i * 7919 + k * 104_729) % fixed.len()];
            drv.input_derivations
                .insert(p.clone(), BTreeSet::from(["out".to_owned()]));
        }
        // Up to four earlier generated derivations: a deep, wide graph.
        for back in [1, 2, 17, i / 2 + 1] {
            if let Some(p) = i.checked_sub(back).and_then(|j| made.get(j)) {
                drv.input_derivations
                    .insert(p.clone(), BTreeSet::from(["out".to_owned()]));
            }
        }
        for k in 0..2 {
            drv.input_sources
                .insert(sources[(i * 31 + k * 7) % sources.len()].clone());
        }
        let lookup = |p: &StorePath| -> Result<[u8; 32], DerivationError> {
            hashes
                .get(p)
                .copied()
                .ok_or_else(|| DerivationError::Input {
                    path: p.to_string(),
                    reason: "not generated yet".into(),
                })
        };
        drv.fill_output_paths(&store_dir, &name, lookup).unwrap();
        let hash = drv.hash_modulo(&store_dir, lookup).unwrap();
        let aterm = drv.to_aterm(&store_dir);
        let path = drv.drv_path(&store_dir, &name, &aterm).unwrap();
        let base = path.base_name();
        let into = if made.len() + files.len() < total {
            &store
        } else {
            &aside
        };
        std::fs::write(into.join(&base), &aterm).unwrap();
        if database && into == &store {
            registered.push((base, aterm));
        }
        hashes.insert(path.clone(), hash);
        made.push(path);
    }
    eprintln!(
        "{} generated ({} in the store, {} aside) in {:.1?}",
        made.len(),
        made.len().min(total.saturating_sub(files.len())),
        made.len().saturating_sub(total.saturating_sub(files.len())),
        started.elapsed()
    );
    if database {
        let db_dir = out.join("var/guix/db");
        std::fs::create_dir_all(&db_dir).unwrap();
        let items: Vec<Registration> = files
            .iter()
            .chain(registered.iter())
            // The index reads only paths and ids: no references.
            .map(|(name, bytes)| {
                Registration::regular_file(StorePath::from_base_name(name).unwrap(), bytes)
            })
            .collect();
        let mut db = Database::open(&db_dir, store_dir).unwrap();
        db.register(&items, 1_700_000_000).unwrap();
        eprintln!("{} registered in {:.1?}", items.len(), started.elapsed());
    }
}

/// Unpacks the `.drv` members of a `.tar.zst` into `store`, returning
/// them.
fn unpack(tarball: &Path, store: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(tarball).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if !name.ends_with(".drv") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        std::fs::write(store.join(&name), &bytes).unwrap();
        out.push((name, bytes));
    }
    out
}
