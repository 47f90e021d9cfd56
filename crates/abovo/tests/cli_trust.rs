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
    let r = json(&on_guix(&["audit", "--format", "json", "--top", "20"]));
    assert_eq!(r["package_count"], 30574);
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
    let others = r["others"].as_array().unwrap();
    let ghc = others
        .iter()
        .find(|s| s["name"] == "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz")
        .unwrap();
    assert!(ghc["packages"].as_u64().unwrap() > 1000);
    // Leaves: the names of the packages on it that no other package on it
    // depends on.
    let leaves: Vec<&str> = ghc["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        !leaves.is_empty() && (leaves.len() as u64) < ghc["packages"].as_u64().unwrap(),
        "{} leaves",
        leaves.len()
    );
    assert!(leaves.contains(&"agda-categories@0.2.0"), "a leaf on GHC");
    assert!(
        !leaves.contains(&"agda@2.7.0.1"),
        "agda has dependents on GHC"
    );
    assert!(
        !leaves.contains(&"ghc@9.2.8"),
        "GHC 9.2.8 has dependents on GHC"
    );
    assert_eq!(r["largest"].as_array().unwrap().len(), 20);

    // The seed table, and every package's seed ids.
    let table = r["binary_seeds"].as_array().unwrap();
    let labels: Vec<&str> = table.iter().map(|s| s["label"].as_str().unwrap()).collect();
    let mut unique = labels.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), labels.len(), "labels are unique: {labels:?}");
    assert_eq!(
        table.len() as u64,
        r["seeds_by_kind"]["binary"].as_u64().unwrap()
            + r["seeds_by_kind"]["source-with-binaries"].as_u64().unwrap()
    );
    let packages = r["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 30574);
    let hello = packages.iter().find(|p| p["name"] == "hello").unwrap();
    assert_eq!(hello["version"], "2.12.2");
    assert!(
        hello["drv"]
            .as_str()
            .unwrap()
            .ends_with("-hello-2.12.2.drv")
    );
    let hello_seeds: Vec<&str> = hello["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| labels[id.as_u64().unwrap() as usize])
        .collect();
    for want in [
        "bash (i686-linux static bootstrap executable)",
        "guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)",
        "stage0-posix-1.6.0.tar.gz (full-source bootstrap seeds)",
    ] {
        assert!(hello_seeds.contains(&want), "{want}: {hello_seeds:?}");
    }
    // The same sets as `abovo seeds hello` finds.
    let seeds = json(&on_guix(&["seeds", "hello", "--format", "json"]));
    let mut binary_paths: Vec<&str> = seeds["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "binary" || s["kind"] == "source-with-binaries")
        .map(|s| s["store_path"].as_str().unwrap())
        .collect();
    binary_paths.sort_unstable();
    let mut from_audit: Vec<&str> = hello["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            table[id.as_u64().unwrap() as usize]["store_path"]
                .as_str()
                .unwrap()
        })
        .collect();
    from_audit.sort_unstable();
    assert_eq!(from_audit, binary_paths);
    // Every count agrees with the package lists.
    for s in r["core"].as_array().unwrap().iter().chain(others) {
        let id = s["id"].as_u64().unwrap();
        let n = packages
            .iter()
            .filter(|p| {
                p["seeds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x.as_u64() == Some(id))
            })
            .count();
        assert_eq!(
            s["packages"].as_u64().unwrap() as usize,
            n,
            "{}",
            s["label"]
        );
    }

    // Beyond the core: labels with the architecture, no duplicates.
    let sunxi = &r["largest"][0];
    assert_eq!(sunxi["package"], "sunxi-tools@1.4.2");
    let beyond: Vec<&str> = sunxi["beyond_core"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(
        beyond.len(),
        sunxi["beyond_core_ids"].as_array().unwrap().len()
    );
    assert!(beyond.contains(&"static-binaries.tar.xz (armhf-linux bootstrap Coreutils & co)"));
    assert!(beyond.contains(&"static-binaries.tar.xz (x86_64-linux bootstrap Coreutils & co)"));
    let mut d = beyond.clone();
    d.dedup();
    assert_eq!(d, beyond);

    // The unknown seeds, all named.
    let unknown = r["unknown"].as_array().unwrap();
    assert_eq!(
        unknown.len() as u64,
        r["seeds_by_kind"]["unknown"].as_u64().unwrap()
    );
    assert!(
        unknown
            .iter()
            .any(|u| u["name"] == "ncurses-6.2-20210619-patch.sh.bz2"),
        "pandoc's unknown seed is named"
    );

    // The text lists the first unknown seeds and says how to see them all.
    let text = stdout(&on_guix(&["audit", "--top", "3"]));
    assert!(text.starts_with("Audit of 30,574 packages\n"), "{text}");
    assert!(
        text.contains(&format!("Unknown seeds ({})", unknown.len())),
        "{text}"
    );
    assert!(text.contains("more (--all lists them all"), "{text}");
    assert!(text.contains("leaves (1,0"), "thousands separators: {text}");
    let all = stdout(&on_guix(&["audit", "--top", "3", "--all"]));
    for u in unknown {
        assert!(all.contains(u["store_path"].as_str().unwrap()), "{u}");
    }
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

/// The default bytes of the small tree's blob.
const BLOB: &[u8] = b"pretend this is a platform tarball\n";

/// top-1.0 → mid-1.0 → blob (a FOD fetched from a platform-named URL,
///       │                    whose flat sha256 is that of `blob`)
///       └→ src-1.0.tar.gz (a FOD from mirror://gnu)
fn small_tree_with(blob: &[u8], blob_url: &str) -> Tree {
    let t = Tree {
        dir: tempfile::tempdir().unwrap(),
    };
    let digest = abovo_store::HashAlgo::Sha256.digest(blob).to_base16();
    let blob = t.write(
        1,
        "blob-1.0-x86_64-linux.tar.gz",
        &format!("{}-blob-1.0-x86_64-linux.tar.gz", hash(101)),
        Some(("sha256", &digest)),
        &[],
        &[("url", blob_url)],
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

fn small_tree() -> Tree {
    small_tree_with(BLOB, "https://example.org/blob-1.0-x86_64-linux.tar.gz")
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

fn text_tarball() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let text = b"just text\n".repeat(100);
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    builder
        .append_data(&mut h, "blob/README", &text[..])
        .unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn seed_bytes_give_content_evidence_and_sizes() {
    // The "platform" blob is really a text tarball; its bytes say so.
    let tarball = text_tarball();
    let t = small_tree_with(&tarball, "https://example.org/blob-1.0-x86_64-linux.tar.gz");
    let seeds = tempfile::tempdir().unwrap();
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
    assert_eq!(blob["bytes_verified"], "fixed-output-hash");
}

/// The reviewer's case: a text file named `bash` in a seed directory must
/// not turn the bootstrap bash into source. Checked on the Guix graph.
#[test]
fn a_file_named_like_a_seed_but_not_it_is_ignored_and_reported() {
    let seeds = tempfile::tempdir().unwrap();
    let impostor = seeds.path().join("bash");
    std::fs::write(
        &impostor,
        "echo I am a shell script, not the bootstrap bash\n",
    )
    .unwrap();
    let dir = seeds.path().to_str().unwrap();
    let o = on_guix(&["seeds", "hello", "--seed-dir", dir, "--format", "json"]);
    let r = json(&o);
    let bash = seed(&r, "bash")[0];
    assert_eq!(bash["kind"], "binary");
    assert_eq!(bash["evidence"]["type"], "known", "{bash}");
    assert!(bash.get("bytes_at").is_none());
    let rejected = &bash["rejected_files"][0];
    assert_eq!(rejected["file"], impostor.to_str().unwrap());
    assert_eq!(rejected["reason"], "hash-mismatch");
    assert_eq!(rejected["method"], "nar");
    assert_eq!(
        rejected["expected"],
        "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g"
    );
    let actual = abovo_store::nar::hash_path(&impostor).unwrap().hash;
    assert_eq!(rejected["actual"], actual.to_string());
    assert!(
        stderr(&o).contains("warning: ignored 1 file"),
        "{}",
        stderr(&o)
    );

    // The text says so too, next to the seed and in a section of its own.
    let o = on_guix(&["seeds", "hello", "--seed-dir", dir]);
    assert_eq!(o.status.code(), Some(SUCCESS));
    let out = stdout(&o);
    assert!(
        out.contains("Warning: 1 file found under a seed's name, ignored"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "ignored:  `{}` is not this seed",
            impostor.display()
        )),
        "{out}"
    );
    assert!(out.contains(&actual.to_string()), "{out}");

    // And the audit lists it.
    let r = json(&on_guix(&[
        "audit",
        "--seed-dir",
        dir,
        "--format",
        "json",
        "--top",
        "1",
    ]));
    let files: Vec<&str> = r["rejected_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    // Both bootstrap bashes (i686 and armhf) are named `bash`; neither is this.
    assert_eq!(files, [impostor.to_str().unwrap(); 2]);
}

fn bash_narinfo(dir: &Path, nar_hash: &str) -> PathBuf {
    let file = dir.join("mzfkrxd4w8vqrmyrx169wj8wyw7r8i37.narinfo");
    std::fs::write(
        &file,
        format!(
            "StorePath: /gnu/store/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\nURL: nar/lzip/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\n\
             Compression: lzip\nFileSize: 600000\nNarHash: {nar_hash}\nNarSize: 1230664\nReferences: \n"
        ),
    )
    .unwrap();
    file
}

#[test]
fn narinfos_are_checked_against_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The right NarHash (the recursive fixed-output hash): its size is used.
    bash_narinfo(
        dir.path(),
        "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g",
    );
    let r = json(&on_guix(&[
        "seeds",
        "hello",
        "--narinfo",
        d,
        "--format",
        "json",
    ]));
    let bash = seed(&r, "bash")[0];
    assert_eq!(bash["size"], 1230664);
    assert_eq!(bash["size_source"], "narinfo");

    // A wrong one is refused, naming the file, the field and both hashes.
    let wrong = "sha256:1rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g";
    let file = bash_narinfo(dir.path(), wrong);
    let o = on_guix(&["seeds", "hello", "--narinfo", d]);
    assert_eq!(o.status.code(), Some(ERROR));
    let err = stderr(&o);
    assert!(err.contains(file.to_str().unwrap()), "{err}");
    assert!(err.contains("`NarHash`"), "{err}");
    assert!(err.contains(wrong), "{err}");
    assert!(
        err.contains("0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g"),
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "no half report");

    // One that does not parse names the file and line.
    std::fs::write(
        &file,
        "StorePath: /gnu/store/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\nNarSize 12\n",
    )
    .unwrap();
    let o = on_guix(&["audit", "--narinfo", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(ERROR));
    let err = stderr(&o);
    assert!(
        err.contains(file.to_str().unwrap()) && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn audit_on_a_small_tree() {
    let t = small_tree();
    let r = json(&abovo(&["audit", "--source", t.path(), "--format", "json"]));
    // No package table: the roots (top) stand for the packages.
    assert_eq!(r["package_count"], 1);
    assert_eq!(r["packages"][0]["name"], "top-1.0");
    assert_eq!(r["packages"][0]["seeds"], serde_json::json!([0]));
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
    assert_eq!(listed["package_count"], 2);
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
}

#[test]
fn package_lists_from_files() {
    let t = small_tree();
    // A path is read as a file, and a missing one says so.
    let o = abovo(&[
        "audit",
        "--source",
        t.path(),
        "--packages",
        "/nonexistent.txt",
    ]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(
        stderr(&o).contains("cannot read the package list `/nonexistent.txt`"),
        "{}",
        stderr(&o)
    );
    let list = t.dir.path().join("list.txt");
    std::fs::write(&list, "# what to audit\ntop   # the root\n\nmid\n").unwrap();
    let r = json(&abovo(&[
        "audit",
        "--source",
        t.path(),
        "--packages",
        list.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(r["package_count"], 2);
    std::fs::write(&list, "top\nghost\n").unwrap();
    let o = abovo(&[
        "audit",
        "--source",
        t.path(),
        "--packages",
        list.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(ERROR));
    let err = stderr(&o);
    assert!(
        err.contains("list.txt, line 2") && err.contains("ghost"),
        "{err}"
    );
    // A file in the working directory, named without a slash.
    let o = Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(["audit", "--source", t.path(), "--packages", "list.txt"])
        .current_dir(t.dir.path())
        .env_remove("ABOVO_SOURCE")
        .output()
        .unwrap();
    assert!(stderr(&o).contains("list.txt, line 2"), "{}", stderr(&o));
}

#[test]
fn untrusted_text_is_escaped_in_text_reports() {
    // A URL with an escape sequence and an escaped newline (`\n` in the
    // .drv) that would forge a report line.
    let t = small_tree_with(
        BLOB,
        "https://example.org/\x1b[31mred\x1b[0m/blob-1.0-x86_64-linux.tar.gz\\nevidence: forged",
    );
    let o = abovo(&["seeds", "top", "--source", t.path()]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "{out}");
    assert!(out.contains("\\u{1b}[31mred"), "{out}");
    assert!(out.contains("\\nevidence: forged"), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("evidence: forged")),
        "{out}"
    );
    // JSON keeps the string as it is (escaped by JSON itself).
    let r = json(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--format",
        "json",
    ]));
    assert!(
        r["seeds"][0]["urls"][0]
            .as_str()
            .unwrap()
            .contains("\x1b[31m")
    );
    // HTML escapes markup.
    let t = small_tree_with(BLOB, "https://example.org/<script>alert(1)</script>");
    let page = stdout(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--format",
        "html",
    ]));
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)"));
}

#[test]
fn an_incomplete_scan_says_why() {
    // A gzip file whose one stored block claims 1,000 bytes and has 10:
    // the bytes are the seed (their hash is pinned), the scan cannot finish.
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend_from_slice(&[1, 0xe8, 0x03, 0x17, 0xfc]);
    gz.extend_from_slice(b"0123456789");
    let t = small_tree_with(&gz, "https://example.org/blob-1.0-x86_64-linux.tar.gz");
    let seeds = tempfile::tempdir().unwrap();
    std::fs::write(seeds.path().join("blob-1.0-x86_64-linux.tar.gz"), &gz).unwrap();
    let dir = seeds.path().to_str().unwrap();
    let r = json(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--seed-dir",
        dir,
        "--format",
        "json",
    ]));
    let blob = seed(&r, "blob-1.0-x86_64-linux.tar.gz")[0];
    assert_eq!(blob["content"]["complete"], false, "{blob}");
    let issue = blob["content"]["issues"][0].as_str().unwrap().to_owned();
    let out = stdout(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--seed-dir",
        dir,
    ]));
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("scan:"))
        .unwrap_or_else(|| panic!("no scan line: {out}"));
    assert!(line.contains("incomplete"), "{line}");
    assert!(line.contains(&issue), "{line} / {issue}");
}

#[test]
fn text_reports_count_in_words() {
    let t = small_tree();
    let out = stdout(&abovo(&["seeds", "top", "--source", t.path()]));
    assert!(
        out.starts_with("Trust base of top-1.0\n  derivation: /gnu/store/"),
        "{out}"
    );
    assert!(out.contains("binary — 1 seed, size unknown\n"), "{out}");
    assert!(out.contains("source — 1 seed, size unknown\n"), "{out}");
    assert!(out.contains("; 4 derivations walked"), "{out}");
    assert!(out.contains("    size:     unknown\n"), "{out}");
    assert!(
        !out.contains("size unknown (") && !out.contains("size: size"),
        "{out}"
    );
    assert!(out.contains("  builtin:download  2 derivations\n"), "{out}");
    let out = stdout(&abovo(&["audit", "--source", t.path()]));
    assert!(out.starts_with("Audit of 1 package\n"), "{out}");
    assert!(
        out.contains("1 package rests on nothing but the core (100.0%)"),
        "{out}"
    );
    assert!(
        out.contains("The core — 1 binary seed under every package, size unknown"),
        "{out}"
    );
}
