//! Two answers that must say what they are about: `--system` chooses the
//! derivation even where a package table (which lists one system's) names
//! another, and an audit of a graph with no package table counts root
//! derivations, not packages. On the built-in snapshot and on the Guix
//! 1.5.0 corpus's tarball of `.drv` files (`ABOVO_GUIX_CORPUS`).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{SUCCESS, abovo, code, json, stderr, stdout};
use std::path::PathBuf;

/// guile-bootstrap-2.0 of the corpus, built for each system.
const X86_64: &str = "/gnu/store/cm2h3sxzjpqsqg274j7n4kcrkwwmlns8-guile-bootstrap-2.0.drv";
const I686: &str = "/gnu/store/7lwjxvqsh3vwzw3sigki2b16jw4n021x-guile-bootstrap-2.0.drv";

#[test]
fn system_chooses_the_derivation_even_with_a_package_table() {
    // The package table lists the x86_64 guile-bootstrap; the snapshot
    // holds the i686 one too.
    let o = abovo(&["seeds", "guile-bootstrap", "--system", "i686-linux"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("  derivation: {I686}\n")),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains(&format!(
            "`guile-bootstrap` matches 3 derivations; taking the i686-linux one (--system): {I686}"
        )),
        "{}",
        stderr(&o)
    );
    let v = json(&abovo(&[
        "seeds",
        "guile-bootstrap",
        "--system",
        "i686-linux",
        "-f",
        "json",
    ]));
    assert_eq!(v["target"], I686);
    // The host's system: the table's, without a note.
    let o = abovo(&["seeds", "guile-bootstrap", "--system", "x86_64-linux"]);
    assert!(stdout(&o).contains(&format!("  derivation: {X86_64}\n")));
    assert!(!stderr(&o).contains("note"), "{}", stderr(&o));
    // A system the graph has no such derivation for: the table's one, and
    // a note that says so.
    let o = abovo(&["seeds", "hello", "--system", "i686-linux"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "`hello`: this graph has no i686-linux derivation of hello-2.12.2 (--system); taking the x86_64-linux one: /gnu/store/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv"
        ),
        "{}",
        stderr(&o)
    );
    // Every name-resolving command follows: show and closure.
    let o = abovo(&[
        "show",
        "guile-bootstrap",
        "--system",
        "i686-linux",
        "-f",
        "recipe-json",
    ]);
    assert_eq!(json(&o)["derivation"], I686);
    let o = abovo(&[
        "closure",
        "guile-bootstrap",
        "--system",
        "armhf-linux",
        "-f",
        "json",
    ]);
    let v = json(&o);
    assert!(
        v["roots"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("-guile-bootstrap-2.0.drv")
            && v["roots"][0]["path"] != X86_64
            && v["roots"][0]["path"] != I686,
        "{v}"
    );
}

#[test]
fn an_audit_without_a_package_table_counts_root_derivations() {
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS").map(PathBuf::from) else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let tarball = corpus.join("drvs.tar.zst");
    let o = abovo(&["audit", "--source", tarball.to_str().unwrap(), "--top", "3"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Audit of 10,078 root derivations\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  roots: the graph has no package table"),
        "{out}"
    );
    assert!(out.contains("under every root derivation"), "{out}");
    assert!(out.contains("by root derivations resting on them"), "{out}");
    // Packages are named only to say that the graph has none.
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("package")).collect();
    assert_eq!(lines.len(), 1, "{out}");
}
