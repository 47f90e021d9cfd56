//! Other projects' derivation test data (`ABOVO_NIX_DRV_FIXTURES`, the
//! shared `nix-derivation-fixtures` folder: tvix's nix-compat vectors and
//! Nix's libstore test data at 2.22.0, 2.31.0 and a current commit): every
//! file is a test here.
//!
//! * every `.drv` parses and writes back byte for byte (Nix's `hello.drv`
//!   and `firefox.drv`, whose inputs are not sorted, read as the same
//!   derivation as their sorted form), or is refused for the reason its
//!   name gives;
//! * every `.drv` named by its store path recomputes that path, and its
//!   output paths are Nix's answers (recorded, floating, deferred);
//! * every `.json` beside a `.drv` reads as the same derivation, and the
//!   derivation written in the JSON's format is that JSON;
//! * the few files that are no derivation data are named.
//!
//! The output, hash-modulo, invariant and resolution fixtures are
//! `nix_fixtures_answers.rs`.
//!
//! Nix's test data stores some `.drv` files as text files that hold the
//! relative path of the file they link to; they are followed.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

#[macro_use]
mod nix_fixtures_support;

use abovo_store::derivation::json::{JsonFormat, NameSource};
use abovo_store::derivation::output::{DerivationKind, OutputKind};
use abovo_store::derivation::{
    Deferral, Derivation, DerivationError, DerivationRef, ParseErrorKind,
};
use abovo_store::hash::sha256;
use nix_fixtures_support::{Dir, base, drv_name, files, read, root, store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What is wrong with each fixture that must be refused.
fn refusal(name: &str) -> Option<fn(&ParseErrorKind) -> bool> {
    Some(match name {
        "bad-version.drv" => {
            |k| matches!(k, ParseErrorKind::UnknownVersion(v) if v == "invalid-version")
        }
        "bad-old-version-dyn-deps.drv" => |k| matches!(k, ParseErrorKind::DynamicWithoutVersion),
        "unterminated-string.drv" => |k| matches!(k, ParseErrorKind::UnterminatedString),
        "duplicate.drv" => {
            |k| matches!(k, ParseErrorKind::Duplicate { what: "environment variable", key } if key == "name")
        }
        _ => return None,
    })
}

#[test]
fn every_drv_parses_and_writes_back_or_is_refused_by_name() {
    let Some(root) = root("every_drv_parses_and_writes_back_or_is_refused_by_name") else {
        return;
    };
    let store = store();
    let (mut ok, mut refused, mut modulo_texts, mut versioned) = (0, 0, 0, 0);
    let mut unsorted = BTreeSet::new();
    for path in files(&root)
        .into_iter()
        .filter(|p| base(p).ends_with(".drv"))
    {
        let bytes = read(&path);
        let shown = path.display();
        let parsed = Derivation::parse(&store, &bytes);
        if base(&path).ends_with("-modulo.drv") {
            // Nix's hash-modulo texts: input "paths" are hashes, so no
            // derivation; `hash_modulo_texts_are_nix_s` compares them.
            let e = parsed.unwrap_err();
            assert!(
                matches!(e.kind, ParseErrorKind::BadStorePath { .. }),
                "{shown}: {e}"
            );
            modulo_texts += 1;
            continue;
        }
        if let Some(why) = refusal(base(&path)) {
            let e = parsed.unwrap_err();
            assert!(why(&e.kind), "{shown} refused for another reason: {e}");
            assert_eq!(DerivationRef::parse(&store, &bytes).unwrap_err(), e);
            refused += 1;
            continue;
        }
        let drv = parsed.unwrap_or_else(|e| panic!("{shown}: {e}"));
        let view = DerivationRef::parse(&store, &bytes).unwrap();
        assert!(view == drv, "{shown}: the two readers disagree");
        let written = drv.to_aterm(&store);
        if view.is_canonical() {
            assert_eq!(written, bytes, "{shown} does not write back byte for byte");
        } else {
            unsorted.insert(base(&path).to_owned());
            let again = Derivation::parse(&store, &written).unwrap();
            assert_eq!(again, drv, "{shown}");
            assert_eq!(again.to_aterm(&store), written, "{shown}");
        }
        if view.is_versioned() {
            assert!(drv.has_dynamic_inputs(), "{shown}");
            versioned += 1;
        }
        ok += 1;
    }
    // Only Nix's parser inputs with unsorted inputs are not canonical.
    assert_eq!(
        unsorted,
        BTreeSet::from(["firefox.drv".to_owned(), "hello.drv".to_owned()])
    );
    assert_eq!(refused, 9);
    assert!(
        ok >= 90 && modulo_texts == 4 && versioned == 4,
        "{ok} {modulo_texts} {versioned}"
    );
    report!(
        "nix fixtures: {ok} .drv files parse and write back ({} only up to order), {refused} refused \
         for the reason their name gives, {modulo_texts} hash-modulo texts, {versioned} in the \
         DrvWithVersion form",
        unsorted.len()
    );
}

#[test]
fn bad_ca_fixed_path_is_refused_as_nix_refuses_it() {
    let Some(root) = root("bad_ca_fixed_path_is_refused_as_nix_refuses_it") else {
        return;
    };
    let store = store();
    let file =
        root.join("upstream/nix/head/src/libstore-tests/data/derivation/bad-ca-fixed-path.drv");
    let drv = Derivation::parse(&store, &read(&file)).unwrap();
    // Nix's test parses it with the name `fixed`, which its path says too.
    assert_eq!(drv.name_from_outputs(), Some("fixed"));
    let m = drv.check_fixed_paths(&store, "fixed").unwrap_err();
    assert_eq!(m.what, "output \"out\"");
    assert_eq!(
        m.actual,
        "/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-fixed"
    );
    assert_ne!(m.expected, m.actual);
}

#[test]
fn named_drv_files_recompute_their_paths() {
    let Some(root) = root("named_drv_files_recompute_their_paths") else {
        return;
    };
    let dirs: Vec<PathBuf> = std::fs::read_dir(root.join("named"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain([root.join("upstream/tvix/nix-compat/src/derivation/tests/derivation_tests/ok")])
        .collect();
    let (mut drv_paths, mut checked, mut floating, mut deferred) = (0, 0, 0, 0);
    let mut mismatched = BTreeSet::new();
    let mut would_be = BTreeMap::new();
    for dir in dirs {
        let mut d = Dir::load(&dir);
        let store = d.store.clone();
        for (path, drv) in d.drvs.clone() {
            let name = path.derivation_name().unwrap();
            let bytes = drv.to_aterm(&store);
            assert_eq!(
                drv.drv_path(&store, name, &bytes).unwrap(),
                path,
                "{}",
                dir.display()
            );
            drv_paths += 1;
            drv.check_fixed_paths(&store, name).unwrap();
            // Nix's fuzzing corpus comes without its inputs.
            if dir.ends_with("fuzzcorpus") {
                continue;
            }
            let hashes = drv.hashes(&store, |q| d.hash(q)).unwrap();
            let mismatches = drv.check_output_paths(&store, name, |q| d.hash(q)).unwrap();
            for o in drv.outputs.values() {
                match o.kind().unwrap() {
                    OutputKind::Floating { .. } => floating += 1,
                    OutputKind::Deferred => {
                        deferred += 1;
                        let h = hashes.masked.unwrap();
                        let p = store.make_output_path(&h, name, "out").unwrap();
                        would_be.insert(path.to_string(), p.to_string());
                    }
                    _ => checked += 1,
                }
            }
            if drv.kind() == Ok(DerivationKind::Floating) {
                assert_eq!(hashes.modulo, Err(Deferral::Floating));
                assert!(matches!(
                    drv.compute_output_paths(&store, name, |q| d.hash(q)),
                    Err(DerivationError::Deferred(Deferral::Floating))
                ));
            }
            if !mismatches.is_empty() {
                // Nix's hash-modulo intermediates were recorded from a text
                // without their output variables; Nix's `checkInvariants`
                // (and abovo) recompute these.
                let recomputed: BTreeSet<&str> =
                    mismatches.iter().map(|m| m.expected.as_str()).collect();
                assert_eq!(
                    recomputed,
                    BTreeSet::from([
                        "/nix/store/9y9d7gv85dkhgy5k13cvss5bmbvc4hjm-intermediate",
                        "/nix/store/d643b76vd5qrddnjsmfz3gk0k47y70wz-intermediate-dev"
                    ]),
                    "{path}"
                );
                mismatched.insert(path.to_string());
            }
        }
    }
    assert_eq!(
        mismatched,
        BTreeSet::from([
            "f8g8x4m83da3b2f79iv84q2r3qlc58lr-intermediate.drv".to_owned(),
            "kp6i4n4bb3hlniwqjakhlf046qpdc0gl-intermediate.drv".to_owned()
        ])
    );
    // `parent-split` and `parent-joined` have the same hash (Nix's
    // `collidingInputDrvsMergeOutputNames`), so the same would-be path.
    let parents: BTreeSet<&String> = would_be.values().collect();
    assert_eq!(parents.len(), 1, "{would_be:?}");
    assert_eq!(deferred, 2);
    assert!(floating >= 20 && checked >= 40, "{floating} {checked}");
    report!(
        "nix fixtures: {drv_paths} .drv paths recomputed; {checked} output paths checked (only \
         Nix's two hash-modulo intermediates mismatch, as Nix's own check finds), {floating} \
         floating outputs without a path, {deferred} deferred outputs (computable: {})",
        parents.into_iter().next().unwrap()
    );
}

/// The JSON fixtures beside a `.drv` of the same stem, with the `.drv`.
fn json_pairs(root: &Path) -> Vec<(PathBuf, PathBuf)> {
    files(&root.join("upstream"))
        .into_iter()
        .filter(|p| base(p).ends_with(".json"))
        .filter_map(|json| {
            let name = base(&json);
            let drv = if let Some(stem) = name.strip_suffix(".drv.json") {
                json.with_file_name(format!("{stem}.drv"))
            } else {
                json.with_file_name(format!("{}.drv", name.strip_suffix(".json")?))
            };
            drv.is_file().then_some((json, drv))
        })
        .collect()
}

#[test]
fn json_fixtures_hold_the_derivation_of_their_drv() {
    let Some(root) = root("json_fixtures_hold_the_derivation_of_their_drv") else {
        return;
    };
    let store = store();
    let mut formats = BTreeMap::new();
    let pairs = json_pairs(&root);
    for (json, drv_file) in &pairs {
        let shown = json.display();
        let bytes = read(json);
        let drv = Derivation::parse(&store, &read(drv_file)).unwrap();
        let name = drv_name(drv_file).unwrap_or_default();
        let read = Derivation::read_json(&store, &bytes, None, Some(&name))
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        assert_eq!(read.derivation, drv, "{shown}");
        *formats.entry(read.format).or_insert(0) += 1;
        if let (NameSource::Name, Some(n)) = (read.name_from, drv_name(drv_file)) {
            assert_eq!(read.name, Some(n), "{shown}");
        }
        // Written back in the format it was read as, it is the fixture
        // (tvix's non-UTF-8 values are the exception: abovo writes them as
        // `{"bytes": …}`, tvix as raw bytes, which is not JSON).
        let written = drv
            .to_json_as(&store, read.name.as_deref(), read.format)
            .unwrap();
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(fixture) => {
                // tvix's cp1252 fixture is wrapped in its `.drv` path.
                let fixture = match fixture.as_object() {
                    Some(o) if o.len() == 1 && o.keys().all(|k| k.ends_with(".drv")) => {
                        o.values().next().unwrap().clone()
                    }
                    _ => fixture,
                };
                assert_eq!(written, fixture, "{shown}");
            }
            Err(_) => assert!(written["env"]["chars"].get("bytes").is_some(), "{shown}"),
        }
    }
    assert!(pairs.len() >= 35, "{}", pairs.len());
    report!(
        "nix fixtures: {} JSON files agree with their .drv, by format: {formats:?}",
        pairs.len()
    );
}

#[test]
fn tvix_nars_write_back() {
    let Some(root) = root("tvix_nars_write_back") else {
        return;
    };
    let dir = root.join("upstream/tvix/nix-compat/src/nar/tests");
    let mut n = 0;
    for f in files(&dir)
        .into_iter()
        .filter(|f| base(f).ends_with(".nar"))
    {
        let bytes = read(&f);
        let tree = abovo_store::nar::Tree::from_nar(&bytes).unwrap();
        assert_eq!(tree.to_nar(), bytes, "{}", f.display());
        n += 1;
    }
    assert_eq!(n, 3);
}

/// Every file is one of the kinds the tests above read, or named here as
/// no derivation data.
#[test]
fn every_fixture_is_covered() {
    let Some(root) = root("every_fixture_is_covered") else {
        return;
    };
    let mut uncovered = Vec::new();
    for f in files(&root) {
        let name = base(&f);
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let covered = name.ends_with(".drv")
            || name.ends_with(".nar")
            || name == "README.md"
            // Nix's sources of its fixtures, and a NAR listing.
            || name.ends_with(".nix")
            || name.ends_with(".ls")
            // Not derivations: derivation options and build traces, read
            // by the tests that need them.
            || rel.contains("derivation-options/")
            || name.ends_with("-options.json")
            || name.ends_with("-buildTrace.json")
            || rel.contains("/invariants/")
            || rel.contains("/try-resolve/")
            || name.starts_with("output-")
            || name == "self-contained.json"
            || json_pairs(&root).iter().any(|(j, _)| j == &f);
        if !covered {
            uncovered.push(rel);
        }
    }
    assert!(uncovered.is_empty(), "not covered: {uncovered:?}");
}

#[test]
fn self_contained_floating_derivation_reads() {
    let Some(root) = root("self_contained_floating_derivation_reads") else {
        return;
    };
    let store = store();
    let file =
        root.join("upstream/nix/head/src/libstore-tests/data/derivation/ca/self-contained.json");
    let read = Derivation::read_json(&store, &read(&file), None, None).unwrap();
    let drv = read.derivation;
    assert_eq!(drv.kind(), Ok(DerivationKind::Floating));
    // Its `out` holds the placeholder of its own output.
    assert_eq!(
        drv.env_str("out"),
        Some(abovo_store::derivation::output::hash_placeholder("out").as_str())
    );
    let text = drv.to_aterm(&store);
    let back = Derivation::read_json(
        &store,
        drv.to_json_as(&store, Some("myname"), JsonFormat::Nix2_33)
            .unwrap()
            .to_string()
            .as_bytes(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(back.derivation.to_aterm(&store), text);
    assert_eq!(sha256(&text), sha256(&back.derivation.to_aterm(&store)));
}
