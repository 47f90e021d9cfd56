//! Corpus-wide: the borrowed reader and the spliced derivation hashes on
//! every `.drv` file of Guix 1.5.0.
//!
//! For each file, in dependency order: [`DerivationRef`] reads it, equals
//! the owned [`Derivation`], and says it is canonical exactly when the owned
//! form writes back its bytes; its hashes ([`DerivationRef::hashes`],
//! spliced from the bytes) equal the reference hashes written out from the
//! owned form ([`Derivation::hash_modulo`] and the SHA-256 of the masked
//! [`Derivation::modulo_text`]), each side memoised on its own results; and
//! the output paths they give are the recorded ones.
//!
//! Reads `$ABOVO_GUIX_CORPUS/drvs.tar.zst`; prints one skip line when the
//! variable is unset.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::derivation::{Derivation, DerivationError, DerivationRef, StorePathRef};
use abovo_store::hash::sha256;
use abovo_store::{StoreDir, StorePath};
use std::collections::HashMap;
use std::io::{Read, Write};

/// Prints a line that `cargo test` does not capture.
macro_rules! report {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn corpus() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = std::env::var_os("ABOVO_GUIX_CORPUS")?;
    let tarball = std::path::Path::new(&dir).join("drvs.tar.zst");
    let file = std::fs::File::open(&tarball).expect("drvs.tar.zst");
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry
            .path()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if name.ends_with(".drv") && entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            files.push((name, bytes));
        }
    }
    Some(files)
}

/// Inputs-first order of the files (depth first over input derivations).
fn dependency_order(store: &StoreDir, files: &[(String, Vec<u8>)]) -> Vec<usize> {
    let index: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    let inputs: Vec<Vec<usize>> = files
        .iter()
        .map(|(name, bytes)| {
            let drv = DerivationRef::parse(store, bytes).unwrap();
            drv.input_derivations()
                .iter()
                .map(|i| {
                    *index
                        .get(i.path.base_name())
                        .unwrap_or_else(|| panic!("{name}: input {} missing", i.path))
                })
                .collect()
        })
        .collect();
    let mut state = vec![0u8; files.len()]; // 0 new, 1 open, 2 placed
    let mut order = Vec::with_capacity(files.len());
    for root in 0..files.len() {
        let mut stack = vec![(root, 0usize)];
        while let Some((node, next)) = stack.pop() {
            if next == 0 && state[node] != 0 {
                continue;
            }
            state[node] = 1;
            match inputs[node].get(next) {
                Some(&input) => {
                    stack.push((node, next + 1));
                    assert_ne!(state[input], 1, "cycle at {}", files[input].0);
                    if state[input] == 0 {
                        stack.push((input, 0));
                    }
                }
                None => {
                    state[node] = 2;
                    order.push(node);
                }
            }
        }
    }
    order
}

#[test]
fn borrowed_reads_and_spliced_hashes_equal_the_reference_on_the_corpus() {
    let Some(files) = corpus() else {
        report!("corpus_drv: skipped, ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let store = StoreDir::default();
    let index: HashMap<String, usize> = files
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), i))
        .collect();
    let order = dependency_order(&store, &files);
    assert_eq!(order.len(), files.len());

    let mut reference: Vec<Option<[u8; 32]>> = vec![None; files.len()];
    let mut spliced: Vec<Option<[u8; 32]>> = vec![None; files.len()];
    let (mut canonical, mut fixed, mut splice_applies, mut outputs) = (0, 0, 0, 0);
    for &i in &order {
        let (name, bytes) = &files[i];
        let drv_name = name
            .strip_suffix(".drv")
            .unwrap()
            .split_once('-')
            .unwrap()
            .1;
        let r = DerivationRef::parse(&store, bytes).unwrap();
        let owned = Derivation::parse(&store, bytes).unwrap();
        assert!(r == owned, "{name}: the borrowed and owned forms differ");
        assert_eq!(r.is_canonical(), owned.to_aterm(&store) == *bytes, "{name}");
        canonical += usize::from(r.is_canonical());

        // The reference: texts written from the owned form.
        let owned_input = |p: &StorePath| -> Result<[u8; 32], DerivationError> {
            Ok(reference[index[&p.base_name()]].unwrap())
        };
        let want_modulo = owned.hash_modulo(&store, owned_input).unwrap();
        let want_masked = (!owned.is_fixed_output())
            .then(|| sha256(&owned.modulo_text(&store, true, owned_input).unwrap()));
        // Spliced from the bytes, memoised separately.
        let borrowed_input = |p: &StorePathRef<'_>| -> Result<[u8; 32], DerivationError> {
            Ok(spliced[index[p.base_name()]].unwrap())
        };
        let got = r.hashes(&store, borrowed_input).unwrap();
        assert_eq!(got.modulo, Ok(want_modulo), "{name}: modulo hash");
        assert_eq!(got.masked, want_masked, "{name}: masked hash");

        // Both give the recorded output paths.
        let paths = r.output_paths(&store, drv_name, &got).unwrap();
        assert_eq!(
            paths,
            owned
                .compute_output_paths(&store, drv_name, owned_input)
                .unwrap(),
            "{name}"
        );
        let mismatches = r.check_output_paths_with(&store, drv_name, &got).unwrap();
        assert!(mismatches.is_empty(), "{name}: {mismatches:?}");
        outputs += paths.len();

        if r.is_fixed_output() {
            fixed += 1;
        } else if r.is_canonical() && r.outputs().iter().all(|o| r.env(&o.name).is_some()) {
            splice_applies += 1;
        }
        reference[i] = Some(want_modulo);
        spliced[i] = got.modulo.ok();
    }
    assert_eq!(files.len(), 71_817);
    assert_eq!(canonical, files.len(), "every Guix .drv is canonical");
    report!(
        "corpus_drv: {} .drv files read borrowed (all canonical, equal to the owned form); \
         {} fixed-output and {} input-addressed hashes equal the reference \
         ({} spliced from the bytes), {} output paths recomputed",
        files.len(),
        fixed,
        files.len() - fixed,
        splice_applies,
        outputs
    );
}
