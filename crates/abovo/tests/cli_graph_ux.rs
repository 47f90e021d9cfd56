//! How the graph commands talk to people, end to end on the real binary:
//! "no path" answers that notice a shared name, version mismatches,
//! case-insensitive suggestions, ambiguities that say what tells the
//! candidates apart, per-command `--format` values, the flag names of
//! package tables and lists, incomplete graphs, plurals and sizes, and the
//! order of `abovo help`. On the built-in Guix 1.5.0 snapshot (as on a
//! fresh clone) and on small hand-made stores.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{
    A, B, C, ERROR, NEGATIVE, S, SUCCESS, abovo_command, code, parse_json, stderr, stdout,
    write_drv,
};
use std::process::Output;

/// Runs abovo with NO_COLOR set, so that no report is painted.
fn abovo(args: &[&str]) -> Output {
    abovo_command(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run abovo")
}

/// `hello` does not use the `glibc` package's derivation but a bootstrap
/// `glibc-2.41.drv`: the warning says so and names it in a way that works.
#[test]
fn no_path_notices_other_derivations_of_the_same_name() {
    for command in ["why", "path"] {
        let o = abovo(&[command, "--type", "derivation", "hello", "glibc"]);
        assert_eq!(code(&o), NEGATIVE, "{}", stderr(&o));
        let e = stderr(&o);
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
                    .strip_prefix(&format!("e.g. abovo {command} --type derivation hello "))
            })
            .unwrap_or_else(|| panic!("no suggestion in {e}"));
        assert!(suggested.ends_with("-glibc-2.41.drv"), "{suggested}");
        let o = abovo(&[command, "--type", "derivation", "hello", suggested]);
        assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    }
    // JSON carries the same.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "hello",
        "glibc",
        "-f",
        "json",
    ]);
    assert_eq!(code(&o), NEGATIVE);
    let v = parse_json(&o);
    assert_eq!(v["paths"].as_array().unwrap().len(), 0);
    assert_eq!(v["namesakes"]["name"], "glibc");
    let found = v["namesakes"]["in_closure"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_ne!(found[0]["path"], v["to"]);
    let o = abovo(&[
        "why",
        "--type",
        "derivation",
        "hello",
        "glibc",
        "-f",
        "json",
    ]);
    assert_eq!(code(&o), NEGATIVE);
    assert_eq!(parse_json(&o)["namesakes"]["in_closure"][0], found[0]);
    // A name nobody else has: the plain answer, one line.
    let o = abovo(&["path", "--type", "derivation", "guile-bootstrap", "hello"]);
    assert_eq!(code(&o), NEGATIVE);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn a_version_that_matches_nothing_lists_the_versions() {
    let o = abovo(&["graph", "--type", "derivation", "hello@3"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("no version of hello matches 3; available: 2.12.2"),
        "{}",
        stderr(&o)
    );
    // Several versions, newest first, the oldest summed up.
    let o = abovo(&["closure", "--type", "derivation", "openjdk@1"]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
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
    let o = abovo(&["graph", "--type", "derivation", "Hello"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("did you mean hello,"), "{}", stderr(&o));
    let o = abovo(&["path", "--type", "derivation", "helo", "guile-bootstrap"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("did you mean hello"), "{}", stderr(&o));
}

#[test]
fn ambiguous_names_say_what_tells_the_candidates_apart() {
    let o = abovo(&["graph", "--type", "derivation", "exiv2"]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
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
        let v = parse_json(&abovo(&["closure", p, "-f", "json"]));
        assert_eq!(v["roots"][0]["path"], p);
    }
}

/// `abovo COMMAND -h` starts with the command's line in `abovo --help`,
/// and `--help` shows the whole text written for the command (a doc
/// comment on the subcommand's variant once hid it behind that line).
#[test]
fn long_help_is_the_commands_whole_text() {
    let top = stdout(&abovo(&["--help"]));
    let before_usage = |h: &str| h.split("\nUsage:").next().unwrap_or("").trim().to_owned();
    for (command, sentence) in [
        ("seeds", "A seed is where content enters the graph"),
        ("serve", "With --against OLD_SOURCE, the diff view"),
        ("index", "docs/index.md"),
        ("audit", "binary"),
        ("build", "sandbox"),
        ("closure", "closure"),
        ("diff", "file by file"),
    ] {
        let short = before_usage(&stdout(&abovo(&[command, "-h"])));
        assert!(
            top.lines()
                .any(|l| l.split_whitespace().next() == Some(command)
                    && l.contains(&short[..short.len().min(30)])),
            "`{command} -h` begins with its line of `abovo --help`: {short}\n{top}"
        );
        let long = before_usage(&stdout(&abovo(&[command, "--help"])));
        assert!(long.contains(sentence), "{command} --help: {long}");
        assert!(long.len() > short.len(), "{command}: {long}");
    }
}

/// Each command's `--help` lists only the formats it writes, and any other
/// value is a usage error naming the accepted ones.
#[test]
fn each_command_lists_its_own_formats() {
    let help = |c: &str| stdout(&abovo(&[c, "--help"]));
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
    let o = abovo(&["closure", "--type", "derivation", "hello", "-f", "dot"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("[possible values: text, json]"),
        "{}",
        stderr(&o)
    );
    let o = abovo(&["graph", "--type", "derivation", "hello", "--format", "html"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("[possible values: text, json, dot, graphml]"),
        "{}",
        stderr(&o)
    );
}

/// `--package-table` (old spelling `--packages`) attaches a table to a
/// graph source; audit's list of packages is `--only`.
#[test]
fn flag_names_say_what_they_take() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[S], false);
    write_drv(dir.path(), B, &[], &[], false);
    let table = dir.path().join("table.tsv");
    std::fs::write(
        &table,
        format!("name\tversion\tderivation\tmodule\nmy-app\t1.0\t/gnu/store/{A}\tm.scm\n"),
    )
    .unwrap();
    let (src, tsv) = (dir.path().to_str().unwrap(), table.to_str().unwrap());
    for flag in ["--package-table", "--packages"] {
        let v = parse_json(&abovo(&[
            "closure",
            "--type",
            "derivation",
            "my-app",
            "--source",
            src,
            flag,
            tsv,
            "-f",
            "json",
        ]));
        assert_eq!(v["roots"][0]["packages"][0], "my-app@1.0", "{flag}");
    }
    let h = stdout(&abovo(&["graph", "--help"]));
    assert!(h.contains("--package-table <TSV>"), "{h}");
    assert!(
        !h.contains("--packages <"),
        "the old spelling is hidden: {h}"
    );
    let h = stdout(&abovo(&["audit", "--help"]));
    assert!(h.contains("--only <LIST|FILE>"), "{h}");
    assert!(!h.contains("--packages <"), "{h}");
    // Without a source the table makes no sense, and the error says so
    // with the new name.
    let o = abovo(&[
        "graph",
        "--type",
        "derivation",
        "hello",
        "--package-table",
        tsv,
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("--package-table"), "{}", stderr(&o));
}

/// An input `.drv` absent from the source: a warning with the count and an
/// example, JSON lists it, and the exit code stays 0.
#[test]
fn incomplete_graphs_warn_and_list_the_missing() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B, C], &[S], false);
    write_drv(dir.path(), B, &[], &[], false);
    let src = dir.path().to_str().unwrap();
    let o = abovo(&["graph", "--type", "derivation", "app", "--source", src]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "the graph is incomplete: 1 input derivation is missing from the source (e.g. /gnu/store/{C})"
        )),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).starts_with("# derivation graph of app-1.0"));
    assert!(
        stdout(&o)
            .lines()
            .next()
            .unwrap()
            .ends_with(": 4 nodes, 3 edges")
    );
    // The graph of `app` in JSON, before and after its missing input is
    // written.
    let app_json = || {
        abovo(&[
            "graph",
            "--type",
            "derivation",
            "app",
            "--source",
            src,
            "-f",
            "json",
        ])
    };
    let o = app_json();
    assert_eq!(code(&o), SUCCESS);
    let v = parse_json(&o);
    assert_eq!(v["complete"], false);
    assert_eq!(v["missing"], serde_json::json!([format!("/gnu/store/{C}")]));
    // A complete graph: no warning, singular nouns.
    write_drv(dir.path(), C, &[], &[], false);
    let o = abovo(&["graph", "--type", "derivation", "lib", "--source", src]);
    assert_eq!(code(&o), SUCCESS);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .lines()
            .next()
            .unwrap()
            .ends_with(": 1 node, 0 edges"),
        "{}",
        stdout(&o)
    );
    let v = parse_json(&app_json());
    assert_eq!(v["complete"], true);
    assert_eq!(v["missing"], serde_json::json!([]));
}

/// `1,482,560 bytes` as `1.4 MiB (1,482,560 bytes)`, counts with
/// separators, computed from the JSON answer.
#[test]
fn sizes_have_units_and_counts_have_separators() {
    let v = parse_json(&abovo(&[
        "closure",
        "--type",
        "derivation",
        "python-pytorch",
        "-f",
        "json",
    ]));
    let size = v["known_size"].as_u64().unwrap();
    let digits = size.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let text = stdout(&abovo(&[
        "closure",
        "--type",
        "derivation",
        "python-pytorch",
    ]));
    assert!(text.contains(&format!(" MiB ({grouped} bytes)")), "{text}");
    let nodes = v["nodes"].as_u64().unwrap();
    assert!(nodes > 1000);
    assert!(
        text.contains(&format!("{},{:03}", nodes / 1000, nodes % 1000)),
        "{text}"
    );
    let g = stdout(&abovo(&["graph", "--type", "derivation", "python-pytorch"]));
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
    let h = stdout(&abovo(&["help"]));
    let order = [
        "graph",
        "path",
        "why",
        "dependents",
        "closure",
        "seeds",
        "audit",
        "fetch",
        "scan",
        "challenge",
        "show",
        "ls",
        "cat",
        "verify",
        "hash",
        "snapshot",
        "index",
        "export",
        "add",
        "derivation",
        "build",
        "log",
        "diff",
        "store",
        "publish",
        "serve",
        "key",
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
