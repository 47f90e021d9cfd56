//! `abovo graph`, `path`, `why`, `dependents`, `closure` and `snapshot`
//! end to end: the real binary on its built-in Guix 1.5.0 snapshot (no
//! flags, no corpus, as on a fresh clone) and on small hand-made stores,
//! checking answers, formats and exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SUCCESS: i32 = 0;
const NEGATIVE: i32 = 1;
const ERROR: i32 = 2;

fn abovo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .env_remove("ABOVO_SOURCE")
        .env_remove("ABOVO_STORE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run abovo")
}

fn out(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn json(o: &Output) -> Value {
    assert_eq!(code(o), SUCCESS, "stderr: {}", err(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn path_works_out_of_the_box() {
    let o = abovo(&["path", "hello", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].ends_with("-hello-2.12.2.drv"));
    assert!(lines[2].ends_with("-guile-bootstrap-2.0.drv"));
    assert!(lines.iter().all(|l| l.starts_with("/gnu/store/")));
    // Deterministic: the same answer again.
    assert_eq!(out(&abovo(&["path", "hello", "guile-bootstrap"])), out(&o));
}

#[test]
fn no_path_is_a_negative_answer() {
    let o = abovo(&["path", "guile-bootstrap", "hello"]);
    assert_eq!(code(&o), NEGATIVE);
    assert!(out(&o).is_empty());
    assert!(
        err(&o).contains("no path from guile-bootstrap@2.0 to hello@2.12.2"),
        "{}",
        err(&o)
    );
    let o = abovo(&["path", "guile-bootstrap", "hello", "--format", "json"]);
    assert_eq!(code(&o), NEGATIVE);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["paths"].as_array().unwrap().len(), 0);
}

#[test]
fn all_shortest_paths_in_json() {
    let v = json(&abovo(&[
        "path",
        "hello",
        "guile-bootstrap",
        "--all-shortest",
        "--format",
        "json",
    ]));
    let paths = v["paths"].as_array().unwrap();
    assert!(paths.len() > 1);
    assert_eq!(v["length"], 2);
    for p in paths {
        assert_eq!(p.as_array().unwrap().len(), 3);
        assert_eq!(p[0]["name"], "hello-2.12.2");
    }
    let first = json(&abovo(&[
        "path",
        "hello",
        "guile-bootstrap",
        "--format",
        "json",
    ]));
    assert_eq!(first["paths"][0], paths[0]);
    let limited = json(&abovo(&[
        "path",
        "hello",
        "guile-bootstrap",
        "--all-shortest",
        "--limit",
        "1",
        "-f",
        "json",
    ]));
    assert_eq!(limited["paths"].as_array().unwrap().len(), 1);
}

#[test]
fn graph_of_hello_is_guix_derivation_graph() {
    let v = json(&abovo(&["graph", "hello", "--format", "json"]));
    assert_eq!(v["node_count"], 401);
    assert_eq!(v["edge_count"], 2755);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 401);
    assert_eq!(v["edges"].as_array().unwrap().len(), 2755);
    let kinds = |k: &str| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == k)
            .count()
    };
    assert_eq!(kinds("derivation") + kinds("source"), 401);
    assert!(
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outputs"] == serde_json::json!(["out"]))
    );

    let dot = out(&abovo(&["graph", "hello", "--format", "dot"]));
    assert!(dot.starts_with("digraph "));
    assert_eq!(dot.lines().filter(|l| l.contains("\" -> \"")).count(), 2755);
    assert_eq!(dot.lines().filter(|l| l.contains("[label = ")).count(), 401);

    let graphml = out(&abovo(&["graph", "hello", "--format", "graphml"]));
    assert_eq!(graphml.matches("<node id=").count(), 401);
    assert_eq!(graphml.matches("<edge source=").count(), 2755);

    let text = out(&abovo(&["graph", "hello"]));
    assert!(text.starts_with("# derivation graph of hello-2.12.2"));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("401 nodes, 2,755 edges")
    );
}

#[test]
fn graph_of_pytorch_as_dot() {
    let dot = out(&abovo(&["graph", "python-pytorch", "--format", "dot"]));
    assert_eq!(
        dot.lines().filter(|l| l.contains("\" -> \"")).count(),
        42_473
    );
    assert_eq!(
        dot.lines().filter(|l| l.contains("[label = ")).count(),
        4_063
    );
}

#[test]
fn graph_options_shape_the_walk() {
    let count = |args: &[&str]| -> (u64, u64) {
        let mut a = vec!["graph", "hello", "--format", "json"];
        a.extend_from_slice(args);
        let v = json(&abovo(&a));
        (
            v["node_count"].as_u64().unwrap(),
            v["edge_count"].as_u64().unwrap(),
        )
    };
    let (n1, e1) = count(&["--max-depth", "1"]);
    assert!(n1 > 1 && n1 < 401);
    assert_eq!(e1, n1 - 1, "depth 1 is a star around hello");
    let (ns, _) = count(&["--no-sources"]);
    let v = json(&abovo(&["closure", "hello", "-f", "json"]));
    assert_eq!(ns, 401 - v["source_count"].as_u64().unwrap());
    let (nf, ef) = count(&["--stop-at-fixed"]);
    assert!(nf < 401 && ef < 2755);
    let o = abovo(&["graph", "hello", "--format", "html"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        err(&o).contains("invalid value 'html' for '--format <FORMAT>'"),
        "{}",
        err(&o)
    );
}

#[test]
fn why_explains_each_edge() {
    let o = abovo(&["why", "hello", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    let text = out(&o);
    assert!(
        text.starts_with("hello@2.12.2 depends on guile-bootstrap@2.0 through 2 edges"),
        "{text}"
    );
    assert_eq!(text.matches("uses output \"out\" of").count(), 2, "{text}");
    let v = json(&abovo(&[
        "why",
        "hello",
        "guile-bootstrap",
        "--format",
        "json",
    ]));
    assert_eq!(v["length"], 2);
    assert_eq!(v["steps"][0]["outputs"], serde_json::json!(["out"]));
    let o = abovo(&["why", "guile-bootstrap", "hello"]);
    assert_eq!(code(&o), NEGATIVE);
    assert!(err(&o).contains("does not depend on"));
}

#[test]
fn dependents_as_guix_refresh_says_it() {
    let o = abovo(&["dependents", "ghc@7.10"]);
    assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    let text = out(&o);
    let v = json(&abovo(&["dependents", "ghc@7.10", "--format", "json"]));
    let (n, m) = (
        v["covering_count"].as_u64().unwrap(),
        v["dependent_count"].as_u64().unwrap(),
    );
    assert!(v["packages_only"].as_bool().unwrap());
    assert!(n > 0 && m > n);
    assert!(
        text.starts_with(&format!(
            "Building the following {n} packages would ensure {m} dependent packages are rebuilt: "
        )),
        "{text}"
    );
    assert_eq!(text.trim_end().split(' ').count() as u64, 12 + n);
    assert_eq!(v["dependents"].as_array().unwrap().len() as u64, m);
    assert_eq!(v["covering"].as_array().unwrap().len() as u64, n);
    // A leaf package has no dependents.
    let o = abovo(&["dependents", "python-pytorch"]);
    assert_eq!(code(&o), SUCCESS);
    let t = out(&o);
    assert!(
        t.starts_with("No dependents other than itself: python-pytorch@")
            || t.starts_with("A single dependent package: ")
            || t.starts_with("Building the following "),
        "{t}"
    );
}

#[test]
fn closure_counts_and_sizes() {
    let v = json(&abovo(&["closure", "hello", "--format", "json"]));
    assert_eq!(v["nodes"], 401);
    let d = v["derivation_count"].as_u64().unwrap();
    let s = v["source_count"].as_u64().unwrap();
    assert_eq!(d + s, 401);
    assert!(v["fixed_output_count"].as_u64().unwrap() > 0);
    assert_eq!(v["sized_nodes"], 401);
    assert!(v["known_size"].as_u64().unwrap() > 0);
    let text = out(&abovo(&["closure", "hello", "--list"]));
    assert!(text.contains("fixed-output derivations:"));
}

#[test]
fn unknown_and_ambiguous_names() {
    let o = abovo(&["path", "helo", "guile-bootstrap"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        err(&o).contains("unknown package or derivation `helo`"),
        "{}",
        err(&o)
    );
    assert!(
        err(&o).contains("did you mean") && err(&o).contains("hello"),
        "{}",
        err(&o)
    );
    let o = abovo(&[
        "graph",
        "/gnu/store/00000000000000000000000000000000-nothing.drv",
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("is not in this graph"));
    // Version prefixes pick the newest matching version.
    let v = json(&abovo(&["closure", "hello@2.12", "-f", "json"]));
    assert_eq!(v["roots"][0]["name"], "hello-2.12.2");
}

#[test]
fn built_in_snapshot_info() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/guix-1.5.0.abovo-snapshot");
    let o = abovo(&["snapshot", "info", data.to_str().unwrap()]);
    assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    assert!(
        out(&o).contains("derivations   71817 (35359 fixed-output)"),
        "{}",
        out(&o)
    );
    let v = json(&abovo(&[
        "snapshot",
        "info",
        data.to_str().unwrap(),
        "-f",
        "json",
    ]));
    assert_eq!(v["packages"], 30_574);
    assert_eq!(v["edges"], 1_742_562);
    assert!(v["file_size"].as_u64().unwrap() < 10_000_000);
}

/// Writes a `.drv` in ATerm with the given inputs (hash parts need not be
/// real: loading a graph does not check them, `verify` does).
fn write_drv(dir: &Path, base: &str, inputs: &[&str], sources: &[&str], fixed: bool) {
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

const A: &str = "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0.drv";
const B: &str = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib-2.1.drv";
const C: &str = "0ccccccccccccccccccccccccccccccc-base-3.0.drv";
const S: &str = "0sssssssssssssssssssssssssssssss-build.sh";

#[test]
fn hand_made_store_and_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B, C], &[S], false);
    write_drv(dir.path(), B, &[C], &[], false);
    write_drv(dir.path(), C, &[], &[S], true);
    let src = dir.path().to_str().unwrap();
    let v = json(&abovo(&["graph", "app", "--source", src, "-f", "json"]));
    assert_eq!(v["node_count"], 4);
    assert_eq!(v["edge_count"], 5);
    // Fixed-output derivations answer to their full name only.
    let o = abovo(&["path", "app", "base-3.0", "--source", src]);
    assert_eq!(
        out(&o).lines().count(),
        2,
        "direct edge beats app -> lib -> base"
    );
    assert_eq!(
        code(&abovo(&["path", "app", "base", "--source", src])),
        ERROR
    );
    let o = abovo(&["dependents", "base-3.0.drv", "--source", src]);
    assert_eq!(
        out(&o).trim(),
        "Building the following 1 derivation would ensure 2 dependent derivations are rebuilt: app-1.0"
    );
    // The same through a snapshot, and through ABOVO_SOURCE.
    let snap = dir.path().join("g.snap");
    let o = abovo(&[
        "snapshot",
        "create",
        "--from",
        src,
        "-o",
        snap.to_str().unwrap(),
        "--level",
        "3",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    let o = abovo(&["snapshot", "info", snap.to_str().unwrap()]);
    assert!(
        out(&o).contains("derivations   3 (1 fixed-output)"),
        "{}",
        out(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(["graph", "app", "-f", "json"])
        .env("ABOVO_SOURCE", &snap)
        .output()
        .unwrap();
    let w: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(w["node_count"], 4);
    assert_eq!(w["edges"], v["edges"]);
    // A damaged snapshot is refused with a clear error.
    let mut bytes = std::fs::read(&snap).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&snap, &bytes).unwrap();
    let o = abovo(&["snapshot", "info", snap.to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("checksum mismatch"), "{}", err(&o));
}

#[test]
fn cycles_and_bad_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[], false);
    write_drv(dir.path(), B, &[A], &[], false);
    let o = abovo(&["graph", "app", "--source", dir.path().to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("cycle"), "{}", err(&o));
    assert!(err(&o).contains(A) && err(&o).contains(B), "{}", err(&o));

    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join(C), b"Derive([(\"out\",").unwrap();
    let o = abovo(&["graph", "base", "--source", bad.path().to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(
        err(&o).contains(C) && err(&o).contains("at byte"),
        "{}",
        err(&o)
    );

    let o = abovo(&["graph", "x", "--source", "/nonexistent/abovo"]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("/nonexistent/abovo"));
}
