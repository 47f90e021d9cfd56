//! `abovo verify` end to end: a small, correct closure of derivations made
//! here with abovo-store verifies; the same with one byte changed (in a
//! path, in the environment, in a hash) is reported with the expected and
//! actual values and exit code 1. With `ABOVO_GUIX_CORPUS` set, the whole
//! Guix 1.5.0 corpus verifies too.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::derivation::{Derivation, Output};
use abovo_store::hash::sha256;
use abovo_store::{StoreDir, StorePath};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output as ProcOutput, Stdio};

const SUCCESS: i32 = 0;
const NEGATIVE: i32 = 1;
const ERROR: i32 = 2;

fn abovo(args: &[&str]) -> ProcOutput {
    Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .env_remove("ABOVO_STORE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run abovo")
}

fn text(o: &ProcOutput) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Finishes a derivation the way Guix does (output paths filled in from the
/// inputs' hashes), writes it under its store base name, and returns its
/// path and derivation hash.
fn add(
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

/// A fixed-output download, a two-output package using it and a source,
/// and a top package using the library output. Returns the top `.drv`.
fn make_closure(dir: &Path) -> StorePath {
    let store = StoreDir::default();
    let mut known = BTreeMap::new();
    let script = store
        .make_text_path("build.sh", b"echo building", [])
        .unwrap();
    let fod = Derivation {
        outputs: BTreeMap::from([(
            "out".to_owned(),
            Output {
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
    let (fod_path, h) = add(dir, &store, "thing-1.0.tar.gz", fod, &known);
    known.insert(fod_path.clone(), h);
    let lib = Derivation {
        outputs: BTreeMap::from([
            ("out".to_owned(), Output::default()),
            ("lib".to_owned(), Output::default()),
        ]),
        input_derivations: BTreeMap::from([(fod_path, BTreeSet::from(["out".to_owned()]))]),
        input_sources: BTreeSet::from([script]),
        system: "x86_64-linux".into(),
        builder: "/gnu/store/00000000000000000000000000000000-bash/bin/bash".into(),
        arguments: vec![b"-e".to_vec(), b"build.sh".to_vec()],
        environment: env(&[("name", "thing-1.0"), ("tab", "a\tb")]),
    };
    let (lib_path, h) = add(dir, &store, "thing-1.0", lib, &known);
    known.insert(lib_path.clone(), h);
    let top = Derivation {
        outputs: BTreeMap::from([("out".to_owned(), Output::default())]),
        input_derivations: BTreeMap::from([(lib_path, BTreeSet::from(["lib".to_owned()]))]),
        system: "x86_64-linux".into(),
        builder: "/gnu/store/00000000000000000000000000000000-bash/bin/bash".into(),
        environment: env(&[("name", "top-2.0")]),
        ..Derivation::default()
    };
    add(dir, &store, "top-2.0", top, &known).0
}

fn find(dir: &Path, suffix: &str) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(suffix))
        .unwrap()
}

/// Replaces the first occurrence of `from` (which must occur) by `to`, of
/// the same length: one changed byte or a few.
fn tamper(file: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_correct_closure_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let file = dir.path().join(top.to_string());
    let o = abovo(&["verify", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(text(&o).contains("checked 3 .drv files"), "{}", text(&o));
    assert!(
        text(&o).contains("4 output paths (1 fixed, 3 input-addressed)"),
        "{}",
        text(&o)
    );
    let o = abovo(&[
        "verify",
        "--all",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"], 3);
    assert_eq!(v["outputs"], 4);
    assert_eq!(v["mismatches"].as_array().unwrap().len(), 0);
}

#[test]
fn a_changed_byte_in_a_path_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let file = dir.path().join(top.to_string());
    // One character of the recorded output path (in the outputs, not the env).
    let text_before = std::fs::read_to_string(&file).unwrap();
    let out_path = text_before.split('"').nth(3).unwrap().to_owned();
    let mut changed = out_path.clone();
    let at = "/gnu/store/".len() + 3;
    let c = if &changed[at..at + 1] == "a" {
        "b"
    } else {
        "a"
    };
    changed.replace_range(at..at + 1, c);
    tamper(&file, &out_path, &changed);
    let o = abovo(&["verify", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(NEGATIVE), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("MISMATCH") && t.contains("output \"out\""),
        "{t}"
    );
    assert!(t.contains(&format!("expected: {out_path}")), "{t}");
    assert!(t.contains(&format!("actual:   {changed}")), "{t}");
    // Its own name no longer matches its bytes either.
    assert!(t.contains(": store path"), "{t}");
}

#[test]
fn a_changed_byte_in_the_environment_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    make_closure(dir.path());
    let fod = find(dir.path(), "-thing-1.0.tar.gz.drv");
    tamper(&fod, "example.org", "examplf.org");
    let o = abovo(&[
        "verify",
        "--all",
        dir.path().to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(NEGATIVE), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = v["mismatches"].as_array().unwrap();
    // The URL does not change the fixed output, only the .drv's own path.
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["what"], "store path");
    assert_eq!(
        m[0]["actual"],
        format!("/gnu/store/{}", fod.file_name().unwrap().to_str().unwrap())
    );
    assert_ne!(m[0]["expected"], m[0]["actual"]);
}

#[test]
fn a_changed_byte_in_a_hash_is_reported_with_its_consequences() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let fod = find(dir.path(), "-thing-1.0.tar.gz.drv");
    let hash = abovo_store::encoding::base16_encode(&sha256(b"tarball bytes"));
    let mut changed = hash.clone();
    changed.replace_range(0..1, if hash.starts_with('0') { "1" } else { "0" });
    tamper(&fod, &hash, &changed);
    let o = abovo(&["verify", dir.path().join(top.to_string()).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(NEGATIVE), "{}", text(&o));
    let t = text(&o);
    // The fixed output path, the .drv's path, and (through the changed
    // derivation hash) the outputs of the package built from it.
    assert!(t.contains("-thing-1.0.tar.gz.drv: output \"out\""), "{t}");
    assert!(t.contains("-thing-1.0.tar.gz.drv: store path"), "{t}");
    assert!(t.contains("-thing-1.0.drv: output \"lib\""), "{t}");
    assert!(
        t.contains("-thing-1.0.drv: environment variable \"out\""),
        "{t}"
    );
}

#[test]
fn unparsable_and_missing_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let lib = find(dir.path(), "-thing-1.0.drv");
    let bytes = std::fs::read(&lib).unwrap();
    std::fs::write(&lib, &bytes[..bytes.len() - 2]).unwrap();
    let o = abovo(&["verify", dir.path().join(top.to_string()).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(NEGATIVE), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("-thing-1.0.drv: parse") && t.contains("at byte"),
        "{t}"
    );
    assert!(t.contains("UNCHECKED") && t.contains("-top-2.0.drv"), "{t}");

    // Without its inputs a derivation cannot be checked: an error, not a pass.
    let alone = tempfile::tempdir().unwrap();
    let top_file = alone.path().join(top.to_string());
    std::fs::copy(dir.path().join(top.to_string()), &top_file).unwrap();
    let o = abovo(&["verify", top_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
    assert!(
        text(&o).contains("is not among the derivations"),
        "{}",
        text(&o)
    );

    let o = abovo(&["verify", "/nonexistent/x.drv"]);
    assert_eq!(o.status.code(), Some(ERROR));
}

#[test]
fn the_whole_corpus_verifies() {
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS").filter(|v| !v.is_empty()) else {
        println!("skipped the_whole_corpus_verifies: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let o = abovo(&["verify", "--all", corpus.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(text(&o).contains("checked 71817 .drv files: 71817 parsed and re-serialised, 71817 .drv paths, 77981 output paths"), "{}", text(&o));
}

#[test]
fn a_real_closure_copied_from_the_corpus() {
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS").filter(|v| !v.is_empty()) else {
        println!("skipped a_real_closure_copied_from_the_corpus: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    use abovo_graph::load::{LoadOptions, Silent};
    let corpus = std::path::PathBuf::from(corpus);
    let files = abovo_graph::load::read_tarball(&corpus.join("drvs.tar.zst"), &Silent).unwrap();
    let store = StoreDir::default();
    let graph = abovo_graph::load::graph_of_files(
        files.clone(),
        LoadOptions {
            store: &store,
            packages: None,
            meta: None,
            reporter: &Silent,
        },
    )
    .unwrap();
    // The derivations of GNU Hello's closure, copied to a directory.
    let hello = abovo_graph::resolve::resolve(&graph, "hello").unwrap();
    let closure = abovo_graph::query::closure(&graph, &[hello], &Default::default());
    let names: std::collections::BTreeSet<String> = closure
        .iter()
        .filter(|&&n| graph.derivation(n).is_some())
        .map(|&n| graph.base_name(n))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for f in files.iter().filter(|f| names.contains(&f.name)) {
        std::fs::write(dir.path().join(&f.name), &f.bytes).unwrap();
    }
    let top = dir.path().join(graph.base_name(hello));
    let o = abovo(&["verify", top.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("checked {} .drv files", names.len())),
        "{}",
        text(&o)
    );

    // One byte of the environment of one of hello's direct inputs: that
    // input's path no longer matches, and neither do hello's outputs.
    let make = graph
        .inputs(hello)
        .iter()
        .find(|&&n| graph.name(n) == "make-4.4.1.drv")
        .map(|&n| dir.path().join(graph.base_name(n)))
        .unwrap();
    tamper(&make, "\"C.UTF-8\"", "\"C.UTF-9\"");
    let o = abovo(&["verify", top.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(NEGATIVE), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = v["mismatches"].as_array().unwrap();
    assert!(
        m.iter()
            .any(|x| x["drv"].as_str().unwrap().ends_with("-make-4.4.1.drv")
                && x["what"] == "store path")
    );
    assert!(m.iter().any(
        |x| x["drv"].as_str().unwrap().ends_with("-hello-2.12.2.drv")
            && x["what"] == "output \"out\""
    ));
}
