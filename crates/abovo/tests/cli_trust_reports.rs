//! `abovo seeds` and `abovo audit` reports on small `.drv` trees written
//! here: every format, the wording of the text, escaping of untrusted
//! text, package lists, and errors with their exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;
mod cli_trust_support;

use cli_support::*;
use cli_trust_support::*;

#[test]
fn seeds_on_a_small_tree_in_every_format() {
    let t = small_tree();
    let r = t.seeds_of_top(&[]);
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
    // clap refuses it and names the formats seeds writes.
    let err = stderr(&dot);
    assert!(
        err.contains("invalid value 'dot'") && err.contains("text, json, html"),
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
        "--only",
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

    let o = abovo(&["audit", "--source", t.path(), "--only", "top,ghost"]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(stderr(&o).contains("ghost"), "{}", stderr(&o));
}

#[test]
fn package_lists_from_files() {
    let t = small_tree();
    // A path is read as a file, and a missing one says so.
    let o = abovo(&["audit", "--source", t.path(), "--only", "/nonexistent.txt"]);
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
        "--only",
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
        "--only",
        list.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(ERROR));
    let err = stderr(&o);
    assert!(
        err.contains("list.txt, line 2") && err.contains("ghost"),
        "{err}"
    );
    // A file in the working directory, named without a slash (and the old
    // spelling of the flag still works).
    let o = abovo_command(&["audit", "--source", t.path(), "--packages", "list.txt"])
        .current_dir(t.dir.path())
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
    let r = t.seeds_of_top(&[]);
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
    // No package table: the roots of the tree are audited, and called so.
    let out = stdout(&abovo(&["audit", "--source", t.path()]));
    assert!(out.starts_with("Audit of 1 root derivation\n"), "{out}");
    assert!(
        out.contains("\n  roots: the graph has no package table, so the derivations nothing in it depends on stand for its packages\n"),
        "{out}"
    );
    assert!(
        out.contains("1 root derivation rests on nothing but the core (100.0%)"),
        "{out}"
    );
    assert!(
        out.contains("The core — 1 binary seed under every root derivation, size unknown"),
        "{out}"
    );
    assert!(!out.contains("package rest"), "{out}");
    let v = json(&abovo(&["audit", "--source", t.path(), "-f", "json"]));
    assert_eq!(v["audited"], "root-derivations");
    let page = stdout(&abovo(&["audit", "--source", t.path(), "-f", "html"]));
    assert!(page.contains("1 root derivation of <code>"), "{page}");
    // Named ones are packages.
    let out = stdout(&abovo(&["audit", "--source", t.path(), "--only", "top"]));
    assert!(out.starts_with("Audit of 1 package\n"), "{out}");
    assert!(!out.contains("roots:"), "{out}");
    let v = json(&abovo(&[
        "audit",
        "--source",
        t.path(),
        "--only",
        "top",
        "-f",
        "json",
    ]));
    assert_eq!(v["audited"], "packages");
}
