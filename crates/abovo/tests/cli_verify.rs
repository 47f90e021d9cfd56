//! `abovo verify` end to end: a small, correct closure of derivations made
//! here with abovo-store verifies; the same with one byte changed (in a
//! path, in the environment, in a hash) is reported with the recomputed and
//! recorded values and exit code 1, the derivations that mismatch only
//! because of it as its consequences; a file that does not parse is an
//! error (exit code 2) naming it and the byte; the store directory comes
//! from the data, whatever ABOVO_STORE_DIR says. With `ABOVO_GUIX_CORPUS`
//! set, the whole Guix 1.5.0 corpus verifies too.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use abovo_store::StoreDir;
use abovo_store::hash::sha256;
use cli_support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// `abovo verify --all DIR -f json`, expecting exit code `code`: the report.
fn verify_all_json(dir: &Path, code: i32) -> Value {
    let d = dir.to_str().unwrap();
    json_of(&["verify", "--all", d, "-f", "json"], code)
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
    let t = text_of(&["verify", file.to_str().unwrap()], SUCCESS);
    assert!(t.contains("checked 3 .drv files"), "{t}");
    assert!(
        t.contains("4 output paths (1 fixed, 3 input-addressed)"),
        "{t}"
    );
    let v = verify_all_json(dir.path(), SUCCESS);
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
    let t = text_of(&["verify", file.to_str().unwrap()], NEGATIVE);
    assert!(
        t.contains("MISMATCH") && t.contains("output \"out\""),
        "{t}"
    );
    assert!(t.contains(&format!("recomputed: {out_path}")), "{t}");
    assert!(t.contains(&format!("recorded:   {changed}")), "{t}");
    // Its own name no longer matches its bytes either.
    assert!(t.contains(": store path"), "{t}");
}

#[test]
fn a_changed_byte_in_the_environment_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    make_closure(dir.path());
    let fod = find(dir.path(), "-thing-1.0.tar.gz.drv");
    tamper(&fod, "example.org", "examplf.org");
    let v = verify_all_json(dir.path(), NEGATIVE);
    let m = v["mismatches"].as_array().unwrap();
    // The URL does not change the fixed output, only the .drv's own path.
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["what"], "store path");
    assert_eq!(
        m[0]["recorded"],
        format!("/gnu/store/{}", fod.file_name().unwrap().to_str().unwrap())
    );
    assert_ne!(m[0]["recomputed"], m[0]["recorded"]);
    // A new URL does not change a fixed output: nothing downstream mismatches.
    assert!(m[0].get("caused_by").is_none(), "{m:?}");
    let t = text_of(&["verify", "--all", dir.path().to_str().unwrap()], NEGATIVE);
    assert!(t.contains(": 1 mismatch in 1 derivation\n"), "{t}");
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
    let top_file = dir.path().join(top.to_string());
    let t = text_of(&["verify", top_file.to_str().unwrap()], NEGATIVE);
    // The fixed output path and the .drv's path are the root cause...
    assert!(t.contains("-thing-1.0.tar.gz.drv: output \"out\""), "{t}");
    assert!(t.contains("-thing-1.0.tar.gz.drv: store path"), "{t}");
    // ...and the package built from it and the top package, whose own
    // bytes are intact, mismatch only through the changed derivation hash:
    // consequences, not errors of their own.
    assert!(!t.contains("-thing-1.0.drv: output"), "{t}");
    assert!(!t.contains("-top-2.0.drv: output"), "{t}");
    assert!(
        t.contains(
            "2 further derivations mismatch only because they depend on it (their own bytes are intact):"
        ),
        "{t}"
    );
    assert!(t.contains("-thing-1.0.drv (4 mismatches)"), "{t}");
    assert!(t.contains("-top-2.0.drv (2 mismatches)"), "{t}");
    assert!(
        t.contains(": 3 mismatches in 1 derivation, and 6 more in 2 derivations that depend on it"),
        "{t}"
    );
    // The JSON keeps every mismatch; each consequence names the root.
    let v = json_of(
        &["verify", top_file.to_str().unwrap(), "-f", "json"],
        NEGATIVE,
    );
    let m = v["mismatches"].as_array().unwrap();
    assert_eq!(m.len(), 9, "{m:?}");
    let fod_label = format!("/gnu/store/{}", fod.file_name().unwrap().to_str().unwrap());
    for x in m {
        let drv = x["drv"].as_str().unwrap();
        if drv == fod_label {
            assert!(x.get("caused_by").is_none(), "{x}");
        } else {
            assert_eq!(x["caused_by"], serde_json::json!([fod_label]), "{x}");
            assert!(
                x["what"].as_str().unwrap().contains("\"out\"")
                    || x["what"].as_str().unwrap().contains("\"lib\"")
            );
            assert_ne!(x["recomputed"], x["recorded"]);
        }
    }
}

#[test]
fn a_changed_derivation_and_a_changed_dependent_are_two_roots() {
    // Both the library and the top package edited: the top's own change is
    // its own root cause, even though its input changed too.
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let lib = find(dir.path(), "-thing-1.0.drv");
    tamper(&lib, "a\\tb", "a\\tc");
    let top_file = dir.path().join(top.to_string());
    tamper(&top_file, "top-2.0\")]", "top-2.1\")]");
    let v = json_of(
        &["verify", top_file.to_str().unwrap(), "-f", "json"],
        NEGATIVE,
    );
    let m = v["mismatches"].as_array().unwrap();
    assert!(m.iter().all(|x| x.get("caused_by").is_none()), "{m:?}");
    let drvs: BTreeSet<&str> = m.iter().map(|x| x["drv"].as_str().unwrap()).collect();
    assert_eq!(drvs.len(), 2, "{drvs:?}");
    let o = abovo(&["verify", top_file.to_str().unwrap()]);
    assert!(
        text(&o).contains("mismatches in 2 derivations\n"),
        "{}",
        text(&o)
    );
}

#[test]
fn unparsable_and_missing_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let lib = find(dir.path(), "-thing-1.0.drv");
    let bytes = std::fs::read(&lib).unwrap();
    std::fs::write(&lib, &bytes[..bytes.len() - 2]).unwrap();
    // An input that does not parse: an error (exit 2), not a mismatch,
    // naming the file on disk and the byte; what depends on it is
    // unchecked because of it.
    let t = text_of(
        &["verify", dir.path().join(top.to_string()).to_str().unwrap()],
        ERROR,
    );
    assert!(
        t.contains(&format!(
            "UNPARSABLE {}: does not parse: at byte",
            lib.display()
        )),
        "{t}"
    );
    assert!(!t.contains("MISMATCH"), "{t}");
    assert!(
        t.contains("UNCHECKED")
            && t.contains("-top-2.0.drv: input `")
            && t.contains("-thing-1.0.drv` does not parse"),
        "{t}"
    );
    assert!(
        t.contains("1 .drv file does not parse and 1 derivation could not be checked"),
        "{t}"
    );
    let v = verify_all_json(dir.path(), ERROR);
    assert_eq!(v["unparsable"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["unparsable"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("at byte ")
    );
    assert_eq!(v["mismatches"].as_array().unwrap().len(), 0);
    assert_eq!(
        v["unchecked"][0]["caused_by"],
        format!("/gnu/store/{}", lib.file_name().unwrap().to_str().unwrap())
    );

    // Given on the command line, a file that does not parse is an error
    // naming it, the byte and what was expected there.
    let t = text_of(&["verify", lib.to_str().unwrap()], ERROR);
    assert!(
        t.contains(&format!(
            "`{}` is not a valid derivation: at byte ",
            lib.display()
        )),
        "{t}"
    );
    assert!(t.contains("expected"), "{t}");
    // A mismatch elsewhere still makes it exit 1 (the mismatch is the
    // answer; the unparsable file is listed too).
    let fod = find(dir.path(), "-thing-1.0.tar.gz.drv");
    tamper(&fod, "example.org", "examplf.org");
    let t = text_of(&["verify", "--all", dir.path().to_str().unwrap()], NEGATIVE);
    assert!(t.contains("UNPARSABLE"), "{t}");

    // Without its inputs a derivation cannot be checked: an error, not a pass.
    let alone = tempfile::tempdir().unwrap();
    let top_file = alone.path().join(top.to_string());
    std::fs::copy(dir.path().join(top.to_string()), &top_file).unwrap();
    let t = text_of(&["verify", top_file.to_str().unwrap()], ERROR);
    assert!(t.contains("is not among the derivations"), "{t}");

    let o = abovo(&["verify", "/nonexistent/x.drv"]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(
        text(&o).contains("cannot read `/nonexistent/x.drv`"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_directory_without_all_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    make_closure(dir.path());
    let d = dir.path().to_str().unwrap();
    let t = text_of(&["verify", d], ERROR);
    assert!(t.contains(&format!("`{d}` is a directory")), "{t}");
    assert!(
        t.contains(&format!(
            "hint: use --all {d} to verify every .drv in a directory"
        )),
        "{t}"
    );
    text_of(&["verify", "--all", d], SUCCESS);
}

#[test]
fn the_store_directory_comes_from_the_data() {
    // A closure in /nix/store verifies without --store-dir, whatever
    // ABOVO_STORE_DIR (abovo's own build store) says.
    let dir = tempfile::tempdir().unwrap();
    let nix = StoreDir::new("/nix/store").unwrap();
    let top = make_closure_in(dir.path(), &nix);
    let top_file = dir.path().join(top.to_string());
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["verify", top_file.to_str().unwrap()],
        vec!["verify", "--all", d],
    ] {
        let o = abovo_command(&args)
            .env("ABOVO_STORE", "/tmp/abovo-build-store")
            .env("ABOVO_STORE_DIR", "/tmp/abovo-build-store")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(SUCCESS), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("checked 3 .drv files"), "{}", text(&o));
        assert!(text(&o).contains("all match"), "{}", text(&o));
    }
    json_of(&["verify", "--all", d, "-f", "json"], SUCCESS);
    // An explicit --store-dir wins, and a wrong one says so.
    let t = text_of(
        &[
            "verify",
            top_file.to_str().unwrap(),
            "--store-dir",
            "/gnu/store",
        ],
        ERROR,
    );
    assert!(t.contains("is not a valid derivation"), "{t}");
    assert!(t.contains("is not in the store `/gnu/store`"), "{t}");
    assert!(
        t.contains("hint: its paths were read as in the store `/gnu/store` (--store-dir)"),
        "{t}"
    );
    let top_arg = top_file.to_str().unwrap();
    text_of(&["verify", top_arg, "--store-dir", "/nix/store"], SUCCESS);
    let t = text_of(&["verify", "--all", d, "--store-dir", "nix/store"], ERROR);
    assert!(t.contains("invalid --store-dir `nix/store`"), "{t}");
}

#[test]
fn the_whole_corpus_verifies() {
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS").filter(|v| !v.is_empty()) else {
        println!("skipped the_whole_corpus_verifies: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let t = text_of(&["verify", "--all", corpus.to_str().unwrap()], SUCCESS);
    assert!(t.contains("checked 71817 .drv files: 71817 parsed and re-serialised, 71817 .drv paths, 77981 output paths"), "{t}");
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
    let graph = abovo_graph::load::graph_of_files(files.clone(), LoadOptions::new(&store, &Silent))
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
    let t = text_of(&["verify", top.to_str().unwrap()], SUCCESS);
    assert!(
        t.contains(&format!("checked {} .drv files", names.len())),
        "{t}"
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
    let v = json_of(
        &["verify", top.to_str().unwrap(), "--format", "json"],
        NEGATIVE,
    );
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
