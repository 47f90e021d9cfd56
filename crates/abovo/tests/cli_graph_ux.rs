//! How the graph commands talk to people, end to end on the real binary:
//! "no path" answers that notice a shared name, version mismatches,
//! case-insensitive suggestions, ambiguities that say what tells the
//! candidates apart, per-command `--format` values, the flag names of
//! package tables and lists, incomplete graphs, plurals and sizes, and the
//! order of `abovo help`. On the built-in Guix 1.5.0 snapshot (as on a
//! fresh clone) and on small hand-made stores.

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
        .env("NO_COLOR", "1")
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
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {}", err(o)))
}

/// `hello` does not use the `glibc` package's derivation but a bootstrap
/// `glibc-2.41.drv`: the warning says so and names it in a way that works.
#[test]
fn no_path_notices_other_derivations_of_the_same_name() {
    for command in ["why", "path"] {
        let o = abovo(&[command, "hello", "glibc"]);
        assert_eq!(code(&o), NEGATIVE, "{}", err(&o));
        let e = err(&o);
        assert!(e.contains("derivations are named glibc"), "{e}");
        assert!(
            e.contains("hello@2.12.2 depends on one of the others"),
            "{e}"
        );
        // The suggested command is printed in full, and it works.
        let suggested = e
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(&format!("e.g. abovo {command} hello "))
            })
            .unwrap_or_else(|| panic!("no suggestion in {e}"));
        assert!(suggested.ends_with("-glibc-2.41.drv"), "{suggested}");
        let o = abovo(&[command, "hello", suggested]);
        assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    }
    // JSON carries the same.
    let o = abovo(&["path", "hello", "glibc", "-f", "json"]);
    assert_eq!(code(&o), NEGATIVE);
    let v = json(&o);
    assert_eq!(v["paths"].as_array().unwrap().len(), 0);
    assert_eq!(v["namesakes"]["name"], "glibc");
    let found = v["namesakes"]["in_closure"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_ne!(found[0]["path"], v["to"]);
    let o = abovo(&["why", "hello", "glibc", "-f", "json"]);
    assert_eq!(code(&o), NEGATIVE);
    assert_eq!(json(&o)["namesakes"]["in_closure"][0], found[0]);
    // A name nobody else has: the plain answer, one line.
    let o = abovo(&["path", "guile-bootstrap", "hello"]);
    assert_eq!(code(&o), NEGATIVE);
    assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
}

#[test]
fn a_version_that_matches_nothing_lists_the_versions() {
    let o = abovo(&["graph", "hello@3"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        err(&o).contains("no version of hello matches 3; available: 2.12.2"),
        "{}",
        err(&o)
    );
    // Several versions, newest first, the oldest summed up.
    let o = abovo(&["closure", "openjdk@1"]);
    assert_eq!(code(&o), ERROR);
    let e = err(&o);
    let list = e.split("available: ").nth(1).unwrap().trim();
    let (shown, rest) = list.split_once(" and ").unwrap();
    assert!(rest.ends_with(" older"), "{e}");
    let majors: Vec<u32> = shown
        .split(", ")
        .map(|v| v.split('.').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(majors.len(), 12, "{e}");
    assert!(majors.windows(2).all(|w| w[0] > w[1]), "{e}");
}

#[test]
fn suggestions_ignore_case_and_keep_near_names() {
    let o = abovo(&["graph", "Hello"]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("did you mean hello,"), "{}", err(&o));
    let o = abovo(&["path", "helo", "guile-bootstrap"]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("did you mean hello"), "{}", err(&o));
}

#[test]
fn ambiguous_names_say_what_tells_the_candidates_apart() {
    let o = abovo(&["graph", "exiv2"]);
    assert_eq!(code(&o), ERROR);
    let e = err(&o);
    assert!(e.contains("`exiv2` is ambiguous"), "{e}");
    let lines: Vec<&str> = e.lines().collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), lines.len(), "identical lines in {e}");
    assert!(e.contains("defined in gnu/packages/image.scm"), "{e}");
    assert!(e.contains("inputs the others lack: "), "{e}");
    assert!(
        e.contains("name one by its .drv path, e.g. /gnu/store/"),
        "{e}"
    );
    // Every candidate's path selects it.
    let paths: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("exiv2@0.27.5  "))
        .collect();
    assert_eq!(paths.len(), 2, "{e}");
    for p in paths {
        let v = json(&abovo(&["closure", p, "-f", "json"]));
        assert_eq!(v["roots"][0]["path"], p);
    }
}

/// Each command's `--help` lists only the formats it writes, and any other
/// value is a usage error naming the accepted ones.
#[test]
fn each_command_lists_its_own_formats() {
    let help = |c: &str| out(&abovo(&[c, "--help"]));
    for (command, yes, no) in [
        (
            "path",
            &["text", "json"][..],
            &["dot", "graphml", "html"][..],
        ),
        ("why", &["text", "json"], &["dot", "graphml", "html"]),
        ("closure", &["text", "json"], &["dot", "graphml", "html"]),
        ("dependents", &["text", "json"], &["dot", "graphml", "html"]),
        ("graph", &["text", "json", "dot", "graphml"], &["html"]),
        ("audit", &["text", "json", "html"], &["dot", "graphml"]),
    ] {
        let h = help(command);
        for f in yes {
            assert!(
                h.contains(&format!("- {f}:")),
                "{command} --help lacks {f}:\n{h}"
            );
        }
        for f in no {
            assert!(
                !h.contains(&format!("- {f}:")),
                "{command} --help lists {f}:\n{h}"
            );
        }
    }
    let o = abovo(&["closure", "hello", "-f", "dot"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        err(&o).contains("[possible values: text, json]"),
        "{}",
        err(&o)
    );
    let o = abovo(&["graph", "hello", "--format", "html"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        err(&o).contains("[possible values: text, json, dot, graphml]"),
        "{}",
        err(&o)
    );
}

/// Writes a `.drv` in ATerm with the given inputs and sources.
fn write_drv(dir: &Path, base: &str, inputs: &[&str], sources: &[&str]) {
    let name = base[33..].trim_end_matches(".drv");
    let out = format!("/gnu/store/{}-{name}", &base[..32].replace('0', "1"));
    let ins: Vec<String> = inputs
        .iter()
        .map(|i| format!("(\"/gnu/store/{i}\",[\"out\"])"))
        .collect();
    let srcs: Vec<String> = sources
        .iter()
        .map(|s| format!("\"/gnu/store/{s}\""))
        .collect();
    let text = format!(
        "Derive([(\"out\",\"{out}\",\"\",\"\")],[{}],[{}],\"x86_64-linux\",\"/bin/sh\",[],[(\"out\",\"{out}\")])",
        ins.join(","),
        srcs.join(",")
    );
    std::fs::write(dir.join(base), text).unwrap();
}

const A: &str = "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0.drv";
const B: &str = "0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib-2.1.drv";
const C: &str = "0ccccccccccccccccccccccccccccccc-base-3.0.drv";
const S: &str = "0sssssssssssssssssssssssssssssss-build.sh";

/// `--package-table` (old spelling `--packages`) attaches a table to a
/// graph source; audit's list of packages is `--only`.
#[test]
fn flag_names_say_what_they_take() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[S]);
    write_drv(dir.path(), B, &[], &[]);
    let table = dir.path().join("table.tsv");
    std::fs::write(
        &table,
        format!("name\tversion\tderivation\tmodule\nmy-app\t1.0\t/gnu/store/{A}\tm.scm\n"),
    )
    .unwrap();
    let (src, tsv) = (dir.path().to_str().unwrap(), table.to_str().unwrap());
    for flag in ["--package-table", "--packages"] {
        let v = json(&abovo(&[
            "closure", "my-app", "--source", src, flag, tsv, "-f", "json",
        ]));
        assert_eq!(v["roots"][0]["packages"][0], "my-app@1.0", "{flag}");
    }
    let h = out(&abovo(&["graph", "--help"]));
    assert!(h.contains("--package-table <TSV>"), "{h}");
    assert!(
        !h.contains("--packages <"),
        "the old spelling is hidden: {h}"
    );
    let h = out(&abovo(&["audit", "--help"]));
    assert!(h.contains("--only <LIST|FILE>"), "{h}");
    assert!(!h.contains("--packages <"), "{h}");
    // Without a source the table makes no sense, and the error says so
    // with the new name.
    let o = abovo(&["graph", "hello", "--package-table", tsv]);
    assert_eq!(code(&o), ERROR);
    assert!(err(&o).contains("--package-table"), "{}", err(&o));
}

/// An input `.drv` absent from the source: a warning with the count and an
/// example, JSON lists it, and the exit code stays 0.
#[test]
fn incomplete_graphs_warn_and_list_the_missing() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B, C], &[S]);
    write_drv(dir.path(), B, &[], &[]);
    let src = dir.path().to_str().unwrap();
    let o = abovo(&["graph", "app", "--source", src]);
    assert_eq!(code(&o), SUCCESS, "{}", err(&o));
    assert!(
        err(&o).contains(&format!(
            "the graph is incomplete: 1 input derivation is missing from the source (e.g. /gnu/store/{C})"
        )),
        "{}",
        err(&o)
    );
    assert!(out(&o).starts_with("# derivation graph of app-1.0"));
    assert!(
        out(&o)
            .lines()
            .next()
            .unwrap()
            .ends_with(": 4 nodes, 3 edges")
    );
    let o = abovo(&["graph", "app", "--source", src, "-f", "json"]);
    assert_eq!(code(&o), SUCCESS);
    let v = json(&o);
    assert_eq!(v["complete"], false);
    assert_eq!(v["missing"], serde_json::json!([format!("/gnu/store/{C}")]));
    // A complete graph: no warning, singular nouns.
    write_drv(dir.path(), C, &[], &[]);
    let o = abovo(&["graph", "lib", "--source", src]);
    assert_eq!(code(&o), SUCCESS);
    assert!(err(&o).is_empty(), "{}", err(&o));
    assert!(
        out(&o)
            .lines()
            .next()
            .unwrap()
            .ends_with(": 1 node, 0 edges"),
        "{}",
        out(&o)
    );
    let v = json(&abovo(&["graph", "app", "--source", src, "-f", "json"]));
    assert_eq!(v["complete"], true);
    assert_eq!(v["missing"], serde_json::json!([]));
}

/// `1,482,560 bytes` as `1.4 MiB (1,482,560 bytes)`, counts with
/// separators, computed from the JSON answer.
#[test]
fn sizes_have_units_and_counts_have_separators() {
    let v = json(&abovo(&["closure", "python-pytorch", "-f", "json"]));
    let size = v["known_size"].as_u64().unwrap();
    let digits = size.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let text = out(&abovo(&["closure", "python-pytorch"]));
    assert!(text.contains(&format!(" MiB ({grouped} bytes)")), "{text}");
    let nodes = v["nodes"].as_u64().unwrap();
    assert!(nodes > 1000);
    assert!(
        text.contains(&format!("{},{:03}", nodes / 1000, nodes % 1000)),
        "{text}"
    );
    let g = out(&abovo(&["graph", "python-pytorch"]));
    assert!(
        g.lines()
            .next()
            .unwrap()
            .ends_with(": 4,063 nodes, 42,473 edges"),
        "{}",
        g.lines().next().unwrap()
    );
}

#[test]
fn help_lists_commands_by_workflow() {
    let h = out(&abovo(&["help"]));
    let order = [
        "graph",
        "path",
        "why",
        "dependents",
        "closure",
        "seeds",
        "audit",
        "show",
        "verify",
        "hash",
        "snapshot",
        "add",
        "derivation",
        "build",
        "log",
        "diff",
        "store",
    ];
    let listed: Vec<&str> = h
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(&listed[..order.len()], &order[..], "{h}");
    assert_eq!(listed.get(order.len()), Some(&"help"));
}
