//! `abovo seeds` and `abovo audit` end to end: the real binary on the Guix
//! 1.5.0 corpus (issue 4's acceptance) and on small `.drv` trees written
//! here, with their error paths and exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SUCCESS: i32 = 0;
const ERROR: i32 = 2;

fn abovo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .env_remove("ABOVO_SOURCE")
        .stdin(Stdio::null())
        .output()
        .expect("run abovo")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(SUCCESS), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The graph to check issue 4's acceptance on: the corpus when
/// ABOVO_GUIX_CORPUS is set, else the built-in Guix 1.5.0 snapshot (the
/// same graph, carried by the binary).
fn source_args() -> Vec<String> {
    match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(p) => vec![
            "--source".into(),
            PathBuf::from(p).to_str().unwrap().to_owned(),
        ],
        None => {
            eprintln!("ABOVO_GUIX_CORPUS is not set: checking on the built-in snapshot");
            vec![]
        }
    }
}

fn on_guix(args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(source_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    abovo(&refs)
}

fn seed<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .collect()
}

fn labels(s: &Value) -> Vec<String> {
    s["path_from_target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap().to_owned())
        .collect()
}

/// Every seed has a kind, and evidence for it, or is honestly unknown.
fn check_every_seed_is_accounted_for(report: &Value) {
    for s in report["seeds"].as_array().unwrap() {
        let kind = s["kind"].as_str().unwrap();
        let evidence = s["evidence"]["type"].as_str().unwrap();
        assert!(
            [
                "binary",
                "source-with-binaries",
                "generated",
                "source",
                "unknown"
            ]
            .contains(&kind),
            "{s}"
        );
        if kind == "unknown" {
            assert!(evidence == "none" || evidence == "content", "{s}");
        } else {
            assert!(["content", "known", "rule"].contains(&evidence), "{s}");
            if evidence == "rule" {
                assert!(!s["evidence"]["id"].as_str().unwrap().is_empty());
            }
        }
        assert!(!s["path_from_target"].as_array().unwrap().is_empty());
    }
}

#[test]
fn hello_rests_on_the_guix_bootstrap_binaries() {
    let r = json(&on_guix(&["seeds", "hello", "--format", "json"]));
    assert_eq!(r["target_label"], "hello-2.12.2");
    for exe in ["bash", "mkdir", "tar", "xz"] {
        let found = seed(&r, exe);
        assert_eq!(found.len(), 1, "{exe}");
        let s = found[0];
        assert_eq!(s["kind"], "binary", "{exe}");
        assert_eq!(s["evidence"]["type"], "known", "{exe}");
        assert!(
            s["urls"][0].as_str().unwrap().contains("/i686-linux/"),
            "{exe} is the i686 static executable"
        );
        let path = labels(s);
        assert_eq!(path.first().unwrap(), "hello-2.12.2");
        assert_eq!(path.last().unwrap(), exe);
    }
    let guile = seed(&r, "guile-2.0.9.tar.xz");
    assert_eq!(guile.len(), 1);
    assert_eq!(guile[0]["kind"], "binary");
    assert_eq!(labels(guile[0]).first().unwrap(), "hello-2.12.2");
    let stage0 = seed(&r, "stage0-posix-1.6.0.tar.gz");
    assert_eq!(stage0.len(), 1);
    assert_eq!(stage0[0]["kind"], "source-with-binaries");
    assert!(
        stage0[0]["known"]["members"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("hex0-seed")
    );
    assert_eq!(stage0[0]["known"]["members"][0]["size"], 357);
    check_every_seed_is_accounted_for(&r);
    assert_eq!(r["builtins"][0]["builder"], "builtin:download");
    // The text form says the same at a glance.
    let text = on_guix(&["seeds", "hello"]);
    assert_eq!(text.status.code(), Some(SUCCESS));
    let out = stdout(&text);
    assert!(out.contains("binary — "), "{out}");
    assert!(out.contains("hello-2.12.2 → "));
    assert!(!out.contains('\x1b'), "no colours when not on a terminal");
}

#[test]
fn the_audit_of_guix_has_the_bootstrap_core() {
    let r = json(&on_guix(&["audit", "--format", "json", "--top", "3"]));
    assert_eq!(r["packages"], 30574);
    let core: Vec<&str> = r["core"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for exe in ["bash", "mkdir", "tar", "xz"] {
        assert!(
            core.contains(&exe),
            "{exe} is under every package: {core:?}"
        );
    }
    let ghc = r["others"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz")
        .unwrap();
    assert!(ghc["packages"].as_u64().unwrap() > 1000);
    // Leaves: packages on it that no other package on it depends on.
    let leaves = ghc["leaves"].as_array().unwrap().len() as u64;
    assert!(
        leaves > 0 && leaves < ghc["packages"].as_u64().unwrap(),
        "{leaves} leaves"
    );
    assert_eq!(r["largest"].as_array().unwrap().len(), 3);
}

#[test]
fn pandoc_also_rests_on_the_ghc_binary_tarball() {
    let r = json(&on_guix(&["seeds", "pandoc", "--format", "json"]));
    let ghc = seed(&r, "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz");
    assert_eq!(ghc.len(), 1);
    assert_eq!(ghc[0]["kind"], "binary");
    assert_eq!(labels(ghc[0]).first().unwrap(), "pandoc-2.19.2");
    for exe in ["bash", "mkdir", "tar", "xz", "guile-2.0.9.tar.xz"] {
        assert_eq!(seed(&r, exe)[0]["kind"], "binary", "{exe}");
    }
    check_every_seed_is_accounted_for(&r);
}

// ---- small .drv trees written here ----

/// A 32-character store hash made of digits only (valid nix32).
fn hash(i: u32) -> String {
    format!("{i:0>32}")
}

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn write(
        &self,
        i: u32,
        name: &str,
        out: &str,
        fixed: Option<(&str, &str)>,
        inputs: &[String],
        env: &[(&str, &str)],
    ) -> String {
        let drv = format!("{}-{name}.drv", hash(i));
        let (algo, h) = fixed.unwrap_or(("", ""));
        let ins: Vec<String> = inputs
            .iter()
            .map(|p| format!("(\"/gnu/store/{p}\",[\"out\"])"))
            .collect();
        let mut envs: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("(\"{k}\",\"{}\")", v.replace('"', "\\\"")))
            .collect();
        envs.push(format!("(\"out\",\"/gnu/store/{out}\")"));
        let builder = if fixed.is_some() {
            "builtin:download"
        } else {
            "/bin/sh"
        };
        let text = format!(
            "Derive([(\"out\",\"/gnu/store/{out}\",\"{algo}\",\"{h}\")],[{}],[],\"x86_64-linux\",\"{builder}\",[],[{}])",
            ins.join(","),
            envs.join(",")
        );
        std::fs::write(self.dir.path().join(&drv), text).unwrap();
        drv
    }
}

/// top-1.0 → mid-1.0 → blob (a FOD fetched from a platform-named URL)
///       └→ src-1.0.tar.gz (a FOD from mirror://gnu)
fn small_tree() -> Tree {
    let t = Tree {
        dir: tempfile::tempdir().unwrap(),
    };
    let digest = "a".repeat(64);
    let blob = t.write(
        1,
        "blob-1.0-x86_64-linux.tar.gz",
        &format!("{}-blob-1.0-x86_64-linux.tar.gz", hash(101)),
        Some(("sha256", &digest)),
        &[],
        &[("url", "https://example.org/blob-1.0-x86_64-linux.tar.gz")],
    );
    let src = t.write(
        2,
        "src-1.0.tar.gz",
        &format!("{}-src-1.0.tar.gz", hash(102)),
        Some(("sha256", &"b".repeat(64))),
        &[],
        &[("url", "mirror://gnu/src/src-1.0.tar.gz")],
    );
    let mid = t.write(
        3,
        "mid-1.0",
        &format!("{}-mid-1.0", hash(103)),
        None,
        &[blob],
        &[],
    );
    t.write(
        4,
        "top-1.0",
        &format!("{}-top-1.0", hash(104)),
        None,
        &[mid, src],
        &[],
    );
    t
}

#[test]
fn seeds_on_a_small_tree_in_every_format() {
    let t = small_tree();
    let r = json(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--format",
        "json",
    ]));
    let names: Vec<&str> = r["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["blob-1.0-x86_64-linux.tar.gz", "src-1.0.tar.gz"]);
    assert_eq!(r["seeds"][0]["evidence"]["id"], "platform-binary-name");
    assert_eq!(
        labels(&r["seeds"][0]),
        ["top-1.0", "mid-1.0", "blob-1.0-x86_64-linux.tar.gz"]
    );
    assert_eq!(r["seeds"][1]["kind"], "source");

    let html = abovo(&["seeds", "top", "--source", t.path(), "--format", "html"]);
    assert_eq!(html.status.code(), Some(SUCCESS));
    let page = stdout(&html);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(
        page.contains("<svg"),
        "a picture of the paths to the binary seeds"
    );
    assert!(page.contains("blob-1.0-x86_64-linux.tar.gz"));
    for external in [
        "<script src",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
    ] {
        assert!(
            !page.contains(external),
            "the page must be self-contained: found {external}"
        );
    }

    let dot = abovo(&["seeds", "top", "--source", t.path(), "--format", "dot"]);
    assert_eq!(dot.status.code(), Some(ERROR));
    assert!(stderr(&dot).contains("cannot write --format dot"));
}

#[test]
fn seed_bytes_give_content_evidence_and_sizes() {
    let t = small_tree();
    let seeds = tempfile::tempdir().unwrap();
    // The "platform" blob is really a text tarball; its bytes say so.
    let mut builder = tar::Builder::new(Vec::new());
    let text = b"just text\n".repeat(100);
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    builder
        .append_data(&mut h, "blob/README", &text[..])
        .unwrap();
    let tarball = builder.into_inner().unwrap();
    std::fs::write(seeds.path().join("blob-1.0-x86_64-linux.tar.gz"), &tarball).unwrap();
    let r = json(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--seed-dir",
        seeds.path().to_str().unwrap(),
        "--format",
        "json",
    ]));
    let blob = seed(&r, "blob-1.0-x86_64-linux.tar.gz")[0];
    assert_eq!(blob["evidence"]["type"], "content");
    assert_eq!(blob["kind"], "source");
    assert_eq!(blob["size"], tarball.len());
    assert_eq!(blob["size_source"], "bytes");
    assert_eq!(blob["content"]["format"], "tar");
}

#[test]
fn audit_on_a_small_tree() {
    let t = small_tree();
    let r = json(&abovo(&["audit", "--source", t.path(), "--format", "json"]));
    // No package table: the roots (top) stand for the packages.
    assert_eq!(r["packages"], 1);
    assert_eq!(r["core"][0]["name"], "blob-1.0-x86_64-linux.tar.gz");
    assert_eq!(r["core"][0]["packages"], 1);
    assert_eq!(r["core_only_packages"], 1);
    let listed = json(&abovo(&[
        "audit",
        "--source",
        t.path(),
        "--packages",
        "mid,top",
        "--format",
        "json",
    ]));
    assert_eq!(listed["packages"], 2);
    assert_eq!(listed["core"][0]["leaves"], serde_json::json!(["top"]));
    let html = abovo(&["audit", "--source", t.path(), "--format", "html"]);
    assert_eq!(html.status.code(), Some(SUCCESS));
    assert!(stdout(&html).contains("<svg") || stdout(&html).contains("The core"));
}

#[test]
fn errors_are_clear_and_exit_2() {
    let t = small_tree();
    let o = abovo(&["seeds", "nosuchpackage", "--source", t.path()]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(stderr(&o).contains("nosuchpackage"), "{}", stderr(&o));

    let o = abovo(&["seeds", "top", "--source", "/nonexistent/source"]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(stderr(&o).contains("/nonexistent/source"), "{}", stderr(&o));

    let bad = t.dir.path().join("bad.toml");
    std::fs::write(&bad, "[[seed]]\nname = \"x\"\nhash = \"sha256:zz\"\n").unwrap();
    let o = abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--knowledge",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(stderr(&o).contains("bad.toml"), "{}", stderr(&o));

    let o = abovo(&[
        "audit",
        "--source",
        t.path(),
        "--db",
        "/nonexistent/db.sqlite",
    ]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(stderr(&o).contains("db.sqlite"), "{}", stderr(&o));

    let o = abovo(&["audit", "--source", t.path(), "--packages", "top,ghost"]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(stderr(&o).contains("ghost"), "{}", stderr(&o));
    let _ = Path::new(t.path());
}
