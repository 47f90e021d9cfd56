//! `abovo ls`, `abovo cat` and `abovo export` through the real binary: the
//! built-in items, the Guix corpus's sources archive (`ABOVO_GUIX_CORPUS`)
//! and the real stage0-posix tarball (`ABOVO_SEED_BYTES`), each compared
//! with what GNU tar and zstd extract from the same files.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{ERROR, SUCCESS, abovo, code, json, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = "/gnu/store/nmxl6qyj16bv4rx4irhg23r66gn752kd-build-bootstrap-guile.sh";
const STAGE0: &str = "ahfrzz7g2y50krrm28plnx6ffknr97z1-stage0-posix-1.6.0.tar.gz";
const HEX0: &str = "stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed";
const BUILT_IN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/guix-1.5.0-hello-items.tar.zst"
);

fn corpus() -> Option<PathBuf> {
    let c = std::env::var_os("ABOVO_GUIX_CORPUS").map(PathBuf::from);
    if c.is_none() {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
    }
    c
}

fn seed_bytes() -> Option<PathBuf> {
    let c = std::env::var_os("ABOVO_SEED_BYTES").map(PathBuf::from);
    if c.is_none() {
        println!("skipped: ABOVO_SEED_BYTES is not set");
    }
    c
}

/// What `zstd -dc ARCHIVE | tar -xO MEMBER` prints.
fn untar_zst(archive: &Path, member: &str) -> Vec<u8> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{}' | tar -xO '{member}'",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[test]
fn cat_prints_the_exact_bytes_of_a_built_in_source() {
    let base = SCRIPT.trim_start_matches("/gnu/store/");
    let o = abovo(&["cat", SCRIPT]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, untar_zst(Path::new(BUILT_IN), base));
    assert!(stdout(&o).contains("GUILE_TARBALL"));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    // The same bytes from the corpus's sources archive, and as GNU tar
    // extracts them from it.
    let Some(corpus) = corpus() else { return };
    let archive = corpus.join("sources.tar.zst");
    let from_corpus = abovo(&["cat", SCRIPT, "--sources", archive.to_str().unwrap()]);
    assert_eq!(code(&from_corpus), SUCCESS, "{}", stderr(&from_corpus));
    assert_eq!(from_corpus.stdout, untar_zst(&archive, base));
    assert_eq!(from_corpus.stdout, o.stdout);
    // An item the built-in data does not carry: from the archive only,
    // through ABOVO_SOURCES too.
    let other = "000a1r14lqdkjzn4iq9gy8xzfs6csp19-cl-umbra-0.0.0-1.d6ef2f6-builder";
    let o = abovo(&["cat", other]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
    assert!(
        e.contains("is not at hand: it is in none of the built-in items"),
        "{e}"
    );
    assert!(e.contains("hint: --sources PATH"), "{e}");
    let o = cli_support::abovo_command(&["cat", other])
        .env("ABOVO_SOURCES", &corpus)
        .output()
        .unwrap();
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, untar_zst(&archive, other));
}

#[test]
fn hard_linked_files_of_the_sources_archive_read_as_their_bytes() {
    // The corpus archive stores a module file shared by two module trees
    // once, and the second tree's copy as a hard link to it.
    let Some(corpus) = corpus() else { return };
    let archive = corpus.join("sources.tar.zst");
    let linked = "0r7lmmb9x0rp855mjvhlk2303pgq99a4-module-import/guix/build/utils.scm";
    let first = "004j3lwvcxvis5nla20jkp6zc31j3c34-module-import/guix/build/utils.scm";
    let o = abovo(&["cat", linked, "--sources", archive.to_str().unwrap()]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, untar_zst(&archive, first));
    assert_eq!(o.stdout.len(), 65_660);
    // The built-in items carry the bytes themselves.
    let o = abovo(&["cat", linked]);
    assert_eq!(o.stdout, untar_zst(&archive, first));
}

#[test]
fn stage0_member_and_listing_are_gnu_tars() {
    let Some(seeds) = seed_bytes() else { return };
    let s = seeds.to_str().unwrap();
    let tarball = seeds.join(STAGE0);
    let tar_x = Command::new("tar")
        .arg("-xzOf")
        .arg(&tarball)
        .arg(HEX0)
        .output()
        .unwrap()
        .stdout;
    assert_eq!(tar_x.len(), 256);
    let spec = format!("/gnu/store/{STAGE0}/{HEX0}");
    let o = abovo(&["cat", &spec, "--sources", s]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, tar_x);
    // The notation of the issue, without the top-level directory: the
    // same bytes, and a note saying which member was read.
    let short = format!("/gnu/store/{STAGE0}/bootstrap-seeds/POSIX/x86/hex0-seed");
    let o = abovo(&["cat", &short, "--sources", s]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, tar_x);
    assert!(
        stderr(&o).contains(&format!("read as `{spec}`")),
        "{}",
        stderr(&o)
    );
    let o = abovo(&["--quiet", "cat", &short, "--sources", s]);
    assert!(o.stderr.is_empty());
    // `ls` of the tarball lists its 934 members like `tar tv`.
    let o = abovo(&["ls", &format!("/gnu/store/{STAGE0}"), "--sources", s]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 934);
    assert!(
        out.lines().any(|l| l
            == "-rwxr-xr-x 0/0        256 2023-11-01 23:17 stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed"),
        "{out}"
    );
    // JSON, with where the bytes came from.
    let v = json(&abovo(&[
        "ls",
        &format!("/gnu/store/{STAGE0}/bootstrap-seeds/POSIX/x86"),
        "--sources",
        s,
        "-f",
        "json",
    ]));
    assert_eq!(v["found"]["type"], "directory");
    assert_eq!(v["place"], format!("`{s}`"));
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"hex0-seed"), "{names:?}");
    assert!(names.contains(&"kaem-optional-seed"), "{names:?}");
    let hex0 = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "hex0-seed")
        .unwrap();
    assert_eq!(hex0["size"], 256);
    assert_eq!(hex0["mode"], "0755");
    assert_eq!(hex0["executable"], true);
}

#[test]
fn bad_paths_are_errors_with_exit_code_2() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["/etc/passwd".into()],
            "`/etc/passwd` is not a store path",
        ),
        (
            vec![format!("{SCRIPT}/../../etc/passwd")],
            "`..` is not allowed in a path inside a store item",
        ),
        (
            vec![format!("{SCRIPT}/inside")],
            "-build-bootstrap-guile.sh is text, not a directory or an archive: it has no `inside`",
        ),
        (
            vec![
                "/gnu/store/0r7lmmb9x0rp855mjvhlk2303pgq99a4-module-import/guix/nothing.scm".into(),
            ],
            "-module-import has no file `guix/nothing.scm`",
        ),
        (
            vec!["/gnu/store/0r7lmmb9x0rp855mjvhlk2303pgq99a4-module-import/guix".into()],
            "/guix is a directory (abovo ls lists it), not a file",
        ),
        (
            vec!["--store-dir".into(), "/nix/store".into(), SCRIPT.into()],
            "is not in the store `/nix/store`",
        ),
    ];
    for (args, said) in cases {
        let mut all = vec!["cat".to_owned()];
        all.extend(args.clone());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = abovo(&refs);
        assert_eq!(code(&o), ERROR, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(said), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    let Some(seeds) = seed_bytes() else { return };
    let s = seeds.to_str().unwrap();
    let base = format!("/gnu/store/{STAGE0}");
    for (spec, said) in [
        (
            format!("{base}/stage0-posix-1.6.0/no-such-member"),
            "has no member `stage0-posix-1.6.0/no-such-member`",
        ),
        // A member named like it elsewhere is suggested.
        (
            format!("{base}/stage0-posix-1.6.0/hex0-seed"),
            "did you mean",
        ),
        (format!("{base}/{HEX0}/deeper"), "hex0-seed is ELF"),
    ] {
        for command in ["cat", "ls"] {
            let o = abovo(&[command, &spec, "--sources", s]);
            assert_eq!(code(&o), ERROR, "{command} {spec}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(said),
                "{command} {spec}: {}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn export_is_deterministic_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.tar.zst");
    let b = dir.path().join("b.tar.zst");
    // guile-bootstrap's closure, from the built-in items alone: every
    // node `abovo closure` counts.
    let closure = json(&abovo(&["closure", "guile-bootstrap", "-f", "json"]));
    let nodes = closure["nodes"].as_u64().unwrap();
    assert!(nodes > 5, "{closure}");
    for out in [&a, &b] {
        let o = abovo(&["export", "guile-bootstrap", "-o", out.to_str().unwrap()]);
        assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
        assert!(
            stdout(&o).starts_with(&format!(
                "wrote {nodes} items of the closure of guile-bootstrap"
            )),
            "{}",
            stdout(&o)
        );
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let o = abovo(&["cat", SCRIPT, "--sources", a.to_str().unwrap()]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(
        o.stdout,
        untar_zst(
            Path::new(BUILT_IN),
            SCRIPT.trim_start_matches("/gnu/store/")
        )
    );
    // A closure whose items are not at hand: an error naming them, and
    // no file left behind.
    let c = dir.path().join("c.tar.zst");
    let o = abovo(&["export", "python", "-o", c.to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("items are at hand nowhere"),
        "{}",
        stderr(&o)
    );
    assert!(!c.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 2);
}

/// The built-in items are what `data/regenerate.sh` makes from the corpus:
/// `abovo export hello` of the corpus, byte for byte.
#[test]
fn built_in_items_are_the_corpus_export_of_hello() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("items.tar.zst");
    let o = abovo(&[
        "export",
        "hello",
        "--source",
        corpus.to_str().unwrap(),
        "--system",
        "x86_64-linux",
        "--no-store",
        "-o",
        out.to_str().unwrap(),
        "-f",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(v["items"], 401);
    assert_eq!(v["derivations"], 228);
    assert_eq!(v["sources"], 173);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(BUILT_IN).unwrap(),
        "data/guix-1.5.0-hello-items.tar.zst is stale: run data/regenerate.sh"
    );
}
