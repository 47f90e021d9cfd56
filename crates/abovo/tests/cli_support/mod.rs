//! Helpers shared by the CLI tests of the analysis commands (graph, path,
//! why, dependents, closure, snapshot, verify, seeds, audit): running the
//! real binary away from the user's ABOVO_SOURCE and ABOVO_STORE_DIR,
//! reading what it printed (text, exit code, JSON), and small derivation
//! graphs written on the spot: hand-made `.drv` files with fake hashes
//! (loading a graph does not check them) and a real closure whose paths
//! are right (for `verify`, which does).
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::derivation::{Derivation, Output as DrvOutput};
use abovo_store::hash::sha256;
use abovo_store::{StoreDir, StorePath};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The exit code of success (`abovo::exit::SUCCESS`).
pub const SUCCESS: i32 = 0;
/// The exit code of a negative answer (`abovo::exit::NEGATIVE`).
pub const NEGATIVE: i32 = 1;
/// The exit code of an error (`abovo::exit::ERROR`).
pub const ERROR: i32 = 2;

/// The real binary with `args`, ABOVO_SOURCE, ABOVO_SOURCES, ABOVO_STORE and ABOVO_STORE_DIR removed
/// and nothing on standard input; set more before running it.
pub fn abovo_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_abovo"));
    command
        .args(args)
        .env_remove("ABOVO_SOURCE")
        .env_remove("ABOVO_SOURCES")
        .env_remove("ABOVO_STORE")
        .env_remove("ABOVO_STORE_DIR")
        // The fetch cache that `seeds`, `audit` and `closure` read without
        // being asked: none, unless a test gives one.
        .env("ABOVO_CACHE_DIR", "/nonexistent/abovo-test-cache")
        // No index of `--source DIR` in that cache either (a test run as
        // root would create it): cli_index.rs tests the index, with a
        // cache of its own.
        .env("ABOVO_NO_INDEX", "1")
        .stdin(Stdio::null());
    command
}

/// Runs the real binary with `args` ([`abovo_command`]).
pub fn abovo(args: &[&str]) -> Output {
    abovo_command(args).output().expect("run abovo")
}

/// The standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Everything printed: standard output, then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// The standard output as JSON, once the run succeeded.
pub fn json(o: &Output) -> Value {
    assert_eq!(code(o), SUCCESS, "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The standard output as JSON, whatever the exit code (negative answers
/// have a JSON report too).
pub fn parse_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {}", stderr(o)))
}

/// Runs the real binary with `args`, checks that it exits with `code`,
/// and returns everything it printed ([`text`]).
pub fn text_of(args: &[&str], code: i32) -> String {
    let o = abovo(args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {t}");
    t
}

/// Runs the real binary with `args`, checks that it exits with `code`, and
/// returns its standard output as JSON.
pub fn json_of(args: &[&str], code: i32) -> Value {
    let o = abovo(args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The first file in `dir` whose path ends with `suffix`.
pub fn find(dir: &Path, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(suffix))
        .unwrap()
}

// ---- hand-made graphs: fake hashes, for the graph commands ----

/// A derivation `app` (its `.drv` base name).
pub const A: &str = "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0.drv";
/// A derivation `lib`.
pub const B: &str = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib-2.1.drv";
/// A derivation `base`.
pub const C: &str = "0ccccccccccccccccccccccccccccccc-base-3.0.drv";
/// A source `build.sh`.
pub const S: &str = "0sssssssssssssssssssssssssssssss-build.sh";

/// Writes a `.drv` in ATerm with the given inputs and sources, its output
/// fixed (a made-up SHA-256) when `fixed` (hash parts need not be real:
/// loading a graph does not check them, `verify` does).
pub fn write_drv(dir: &Path, base: &str, inputs: &[&str], sources: &[&str], fixed: bool) {
    let name = base[33..].trim_end_matches(".drv");
    let out = format!("/gnu/store/{}-{name}", &base[..32].replace('0', "1"));
    let (algo, hash) = if fixed {
        (
            "sha256",
            "0000000000000000000000000000000000000000000000000000000000000000",
        )
    } else {
        ("", "")
    };
    let ins: Vec<String> = inputs
        .iter()
        .map(|i| format!("(\"/gnu/store/{i}\",[\"out\"])"))
        .collect();
    let srcs: Vec<String> = sources
        .iter()
        .map(|s| format!("\"/gnu/store/{s}\""))
        .collect();
    let text = format!(
        "Derive([(\"out\",\"{out}\",\"{algo}\",\"{hash}\")],[{}],[{}],\"x86_64-linux\",\"/bin/sh\",[],[(\"out\",\"{out}\")])",
        ins.join(","),
        srcs.join(",")
    );
    std::fs::write(dir.join(base), text).unwrap();
}

// ---- a real closure: right paths, for verify and snapshots ----

/// An environment from text pairs.
pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Finishes a derivation the way Guix does (output paths filled in from the
/// inputs' hashes), writes it under its store base name, and returns its
/// path and derivation hash.
pub fn add(
    dir: &Path,
    store: &StoreDir,
    name: &str,
    mut drv: Derivation,
    known: &BTreeMap<StorePath, [u8; 32]>,
) -> (StorePath, [u8; 32]) {
    let lookup = |p: &StorePath| Ok(known[p]);
    drv.fill_output_paths(store, name, lookup).unwrap();
    let text = drv.to_aterm(store);
    let path = drv.drv_path(store, name, &text).unwrap();
    std::fs::write(dir.join(path.to_string()), &text).unwrap();
    (path, drv.hash_modulo(store, lookup).unwrap())
}

/// A fixed-output download (`thing-1.0.tar.gz`), a two-output package
/// (`thing-1.0`) using it and a source, and a top package (`top-2.0`)
/// using the library output, in /gnu/store. Returns the top `.drv`.
pub fn make_closure(dir: &Path) -> StorePath {
    make_closure_in(dir, &StoreDir::default())
}

/// [`make_closure`] with paths in `store`.
pub fn make_closure_in(dir: &Path, store: &StoreDir) -> StorePath {
    let bash = format!("{store}/00000000000000000000000000000000-bash/bin/bash");
    let mut known = BTreeMap::new();
    let script = store
        .make_text_path("build.sh", b"echo building", [])
        .unwrap();
    let fod = Derivation {
        outputs: BTreeMap::from([(
            "out".to_owned(),
            DrvOutput {
                path: None,
                hash_algo: "sha256".into(),
                hash: abovo_store::encoding::base16_encode(&sha256(b"tarball bytes")),
            },
        )]),
        system: "x86_64-linux".into(),
        builder: "builtin:download".into(),
        environment: env(&[
            ("url", "https://example.org/thing-1.0.tar.gz"),
            ("preferLocalBuild", "1"),
        ]),
        ..Derivation::default()
    };
    let (fod_path, h) = add(dir, store, "thing-1.0.tar.gz", fod, &known);
    known.insert(fod_path.clone(), h);
    let lib = Derivation {
        outputs: BTreeMap::from([
            ("out".to_owned(), DrvOutput::default()),
            ("lib".to_owned(), DrvOutput::default()),
        ]),
        input_derivations: BTreeMap::from([(fod_path, BTreeSet::from(["out".to_owned()]))]),
        input_sources: BTreeSet::from([script]),
        system: "x86_64-linux".into(),
        builder: bash.clone(),
        arguments: vec![b"-e".to_vec(), b"build.sh".to_vec()],
        environment: env(&[("name", "thing-1.0"), ("tab", "a\tb")]),
        ..Derivation::default()
    };
    let (lib_path, h) = add(dir, store, "thing-1.0", lib, &known);
    known.insert(lib_path.clone(), h);
    let top = Derivation {
        outputs: BTreeMap::from([("out".to_owned(), DrvOutput::default())]),
        input_derivations: BTreeMap::from([(lib_path, BTreeSet::from(["lib".to_owned()]))]),
        system: "x86_64-linux".into(),
        builder: bash.clone(),
        environment: env(&[("name", "top-2.0")]),
        ..Derivation::default()
    };
    add(dir, store, "top-2.0", top, &known).0
}
