//! `abovo show NAME` (issue 18): the record `guix show` prints, from the
//! built-in snapshot, checked field by field against the corpus's
//! `packages-meta.tsv` and `package-edges.tsv`, read here with nothing of
//! abovo's (`ABOVO_GUIX_CORPUS`; the tests that need it print one line
//! saying they were skipped without it); the names Guix does not show;
//! and the derivation view kept under `--derivation`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{
    A, B, ERROR, S, SUCCESS, abovo, abovo_command, code, json, stderr, stdout, write_drv,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::Output;

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => None,
    }
}

/// The rows of one of the corpus's tables, split at tabs, each field
/// unescaped (`\\`, `\n`, `\t`, `\r`, as the folder's README says).
fn rows(file: &str) -> Vec<Vec<String>> {
    let unescape = |f: &str| {
        let mut out = String::new();
        let mut chars = f.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next().unwrap() {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            }
        }
        out
    };
    let bytes =
        zstd::decode_all(std::fs::File::open(corpus().unwrap().join(file)).unwrap()).unwrap();
    bytes
        .lines()
        .map(|l| l.unwrap().split('\t').map(unescape).collect())
        .collect()
}

/// `abovo show ARGS` with an 80-column "terminal", as `guix show` fills
/// to `COLUMNS`.
fn show(args: &[&str]) -> Output {
    abovo_command(&[&["show"], args].concat())
        .env("COLUMNS", "80")
        .output()
        .unwrap()
}

const SYSTEMS: &str = "systems: x86_64-linux mips64el-linux aarch64-linux powerpc64le-linux\n\
                       + riscv64-linux x86_64-gnu i686-linux armhf-linux i586-gnu powerpc-linux\n";

#[test]
fn guile_bootstrap_and_hello_print_the_record_guix_show_prints() {
    // The record of the blog post's `guix show guile-bootstrap`: Guix's
    // synopsis and location; no home page is `#f`, as Guix writes it.
    let o = show(&["guile-bootstrap", "--format", "recutils"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "name: guile-bootstrap\nversion: 2.0\noutputs:\n+ out: everything\n{SYSTEMS}\
             dependencies: \nlocation: gnu/packages/bootstrap.scm:596:3\nhomepage: #f\n\
             license: LGPL 3+\nsynopsis: Bootstrap Guile  \n\
             description: Pre-built Guile for bootstrapping purposes.\n\n"
        )
    );
    // The description is filled to the terminal, sentences two spaces
    // apart, continuation lines marked `+ `.
    let hello = format!(
        "name: hello\nversion: 2.12.2\noutputs:\n+ out: everything\n{SYSTEMS}\
         dependencies: \nlocation: gnu/packages/base.scm:100:2\n\
         homepage: https://www.gnu.org/software/hello/\nlicense: GPL 3+\n\
         synopsis: Example GNU package  \n\
         description: GNU Hello prints the message \"Hello, world!\" and then exits.  It\n\
         + serves as an example of standard GNU coding practices.  As such, it supports\n\
         + command-line arguments, multiple languages, and so on.\n\n"
    );
    assert_eq!(stdout(&show(&["hello", "-f", "recutils"])), hello);
    // The text form adds abovo's fields to the record; several names give
    // several records, in order.
    let o = show(&["hello", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let text = stdout(&o);
    let records: Vec<&str> = text.split("\n\n").collect();
    assert_eq!(records.len(), 3, "{text}");
    assert_eq!(
        format!("{}\n\n", records[0].rsplit_once('\n').unwrap().0),
        hello
    );
    assert!(
        records[0].ends_with(
            "\nderivation: /gnu/store/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv"
        ),
        "{text}"
    );
    assert!(records[1].starts_with("name: guile-bootstrap\n"), "{text}");
    // A narrower terminal fills to it.
    let narrow = abovo_command(&["show", "hello", "-f", "recutils"])
        .env("COLUMNS", "40")
        .output()
        .unwrap();
    let text = stdout(&narrow);
    let description = &text[text.find("description: ").unwrap()..];
    assert!(
        description.lines().all(|l| l.chars().count() <= 40),
        "{text}"
    );
    assert!(
        stdout(&narrow).contains("description: GNU Hello prints the\n+ message"),
        "{}",
        stdout(&narrow)
    );
    // JSON: the fields as written and as plain text.
    let v = json(&show(&["guile-bootstrap", "-f", "json"]));
    let p = &v["packages"][0];
    assert_eq!(p["synopsis"], "Bootstrap Guile");
    assert_eq!(p["synopsis_text"], "Bootstrap Guile");
    assert_eq!(p["location"], "gnu/packages/bootstrap.scm:596:3");
    assert_eq!(p["homepage"], serde_json::Value::Null);
    assert_eq!(p["licenses"], serde_json::json!(["LGPL 3+"]));
    assert_eq!(p["module"], "gnu/packages/bootstrap.scm");
    assert_eq!(p["visibility"], "public");
    assert_eq!(p["outputs"], serde_json::json!(["out"]));
}

#[test]
fn every_package_shows_the_fields_of_its_metadata_row() {
    if corpus().is_none() {
        return eprintln!(
            "skipped every_package_shows_the_fields_of_its_metadata_row: \
             ABOVO_GUIX_CORPUS is not set"
        );
    }
    let meta = rows("packages-meta.tsv.zst");
    // Each package's dependencies, as `guix show` lists them: its explicit
    // inputs that are packages (name@version), from the `package` edges.
    let mut deps: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let edges = rows("package-edges.tsv.zst");
    for r in &edges {
        if !["origin", "file-like", "file"].contains(&r[8].split(',').next().unwrap()) {
            deps.entry(&r[1]).or_default().insert(&r[2]);
        }
    }
    let names: BTreeSet<&str> = meta.iter().map(|r| r[0].as_str()).collect();
    let mut args: Vec<&str> = vec!["-f", "json"];
    args.extend(&names);
    let v = json(&show(&args));
    let shown = v["packages"].as_array().unwrap();
    assert_eq!(shown.len(), meta.len());
    // Rows by name, then newest version first: match each shown package to
    // its row by derivation and location.
    let mut by_key: BTreeMap<(String, String), &Vec<String>> = BTreeMap::new();
    for r in &meta {
        by_key.insert((r[2].clone(), r[3].clone()), r);
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    let list = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let mut seen = BTreeSet::new();
    for p in shown {
        let key = (s(&p["derivation"]), s(&p["location"]));
        let r = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?}: no metadata row"));
        seen.insert(key.clone());
        assert_eq!(s(&p["name"]), r[0], "{key:?}");
        assert_eq!(s(&p["version"]), r[1], "{key:?}");
        assert_eq!(s(&p["homepage"]), r[4], "{key:?}");
        let licenses: Vec<String> = if r[5].is_empty() {
            Vec::new()
        } else {
            r[5].split(',').map(str::to_owned).collect()
        };
        assert_eq!(list(&p["licenses"]), licenses, "{key:?}");
        assert_eq!(s(&p["synopsis"]), r[6], "{key:?}");
        assert_eq!(s(&p["description"]), r[7], "{key:?}");
        assert_eq!(list(&p["systems"]).join(" "), r[8], "{key:?}");
        let want: BTreeSet<String> = deps
            .get(r[2].as_str())
            .map(|d| d.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default();
        let got: BTreeSet<String> = list(&p["dependencies"]).into_iter().collect();
        assert_eq!(got, want, "dependencies of {key:?}");
        assert_eq!(p["superseded_by"].as_str().unwrap_or(""), r[10], "{key:?}");
    }
    assert_eq!(seen.len(), by_key.len());
    eprintln!("show: {} packages equal their metadata rows", shown.len());
}

#[test]
fn names_guix_does_not_show_get_guixs_answer() {
    // Unknown: Guix's words, near names, an error.
    let o = show(&["Hello"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("Hello: package not found; did you mean hello"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    // A version that matches none lists the versions there are; a version
    // prefix matches component by component, as Guix matches it.
    let o = show(&["abseil-cpp@2022"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains(
            "abseil-cpp@2022: package not found\n  versions of abseil-cpp: \
             20250814.1, 20250127.1, 20220623.2"
        ),
        "{}",
        stderr(&o)
    );
    let versions = |args: &[&str]| -> Vec<String> {
        stdout(&show(args))
            .lines()
            .filter_map(|l| l.strip_prefix("version: ").map(str::to_owned))
            .collect()
    };
    assert_eq!(versions(&["abseil-cpp@20220623"]), ["20220623.2"]);
    assert_eq!(
        versions(&["abseil-cpp"]),
        ["20250814.1", "20250127.1", "20220623.2"]
    );
    // Hidden: not found, as in Guix, with what abovo knows of it.
    let o = show(&["gcc-mesboot0"]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
    assert!(e.contains("gcc-mesboot0: package not found"), "{e}");
    assert!(e.contains("gcc-mesboot0@2.95.3 is a hidden package"), "{e}");
    assert!(e.contains("gcc-mesboot1@4.6.4 takes it as an input"), "{e}");
    // ...and the package graphs have it: the hint names one of the two
    // hidden gcc-mesboot0 by its derivation, and works.
    let hint = e
        .split("(e.g. ")
        .nth(1)
        .and_then(|h| h.split(')').next())
        .unwrap();
    let hint: Vec<&str> = hint.split(' ').collect();
    assert_eq!(hint[..2], ["abovo", "dependents"], "{e}");
    let o = abovo(&[hint[1], hint[2], "-f", "json"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        json(&o)["dependents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "gcc-mesboot1"),
        "{}",
        stdout(&o)
    );
    // Superseded (deprecated): shown, as Guix shows it, with a note and
    // the replacement.
    let o = show(&["abjad"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("abjad@3.19 is deprecated: superseded by python-abjad@3.19"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("\nsuperseded: python-abjad@3.19\n"));
    let v = json(&show(&["abjad", "-f", "json"]));
    assert_eq!(v["packages"][0]["superseded_by"], "python-abjad@3.19");
    // One unknown name among several fails the whole command.
    let o = show(&["hello", "no-such-package-here"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("no-such-package-here: package not found"));
}

#[test]
fn the_derivation_view_stays_under_derivation() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[S], false);
    write_drv(dir.path(), B, &[], &[], false);
    let file = dir.path().join(A);
    let f = file.to_str().unwrap();
    let aterm = std::fs::read(&file).unwrap();
    // A file is a derivation, with or without --derivation: how it is
    // built by default, its `.drv` text with --format aterm.
    for args in [
        vec![f, "-f", "aterm"],
        vec!["--derivation", f, "-f", "aterm"],
    ] {
        let o = show(&args);
        assert_eq!(code(&o), SUCCESS, "{args:?}: {}", stderr(&o));
        assert_eq!(o.stdout, aterm, "{args:?}");
    }
    for args in [vec![f], vec!["--derivation", f]] {
        let o = show(&args);
        assert_eq!(code(&o), SUCCESS, "{args:?}: {}", stderr(&o));
        assert!(
            stdout(&o).starts_with("How app-1.0 is built\n"),
            "{args:?}: {}",
            stdout(&o)
        );
    }
    let v = json(&show(&["--derivation", f, "-f", "json"]));
    assert_eq!(v["name"], "app-1.0", "{v}");
    assert_eq!(v["builder"], "/bin/sh", "{v}");
    // Package formats do not apply to a derivation, nor several of them.
    let o = show(&["--derivation", f, "-f", "recutils"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("--format recutils shows packages"));
    let o = show(&["--derivation", f, f]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("shows one derivation; 2 were given"));
    // A store without package data shows the derivation of a name, and
    // says why.
    let o = show(&[
        "app",
        "--source",
        dir.path().to_str().unwrap(),
        "-f",
        "aterm",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, aterm);
    let o = show(&["app", "--source", dir.path().to_str().unwrap()]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("How app-1.0 is built\n"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("has no package table: showing the derivation"),
        "{}",
        stderr(&o)
    );
}
