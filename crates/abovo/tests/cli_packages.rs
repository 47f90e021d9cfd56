//! Packages, not only derivations (issue 18), end to end: `graph`,
//! `path`, `why`, `dependents` and `closure` with `--type package` and
//! `--type bag-emerged` on the built-in snapshot, checked against the
//! corpus's own edge tables read here with nothing of abovo's
//! (`ABOVO_GUIX_CORPUS`; the tests that need it print one line saying they
//! were skipped without it), and package tables given by flags to a
//! hand-made store.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{
    A, B, C, ERROR, NEGATIVE, S, SUCCESS, abovo, code, json, parse_json, stderr, stdout, write_drv,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => None,
    }
}

/// The rows of one of the corpus's tables, split at tabs.
fn rows(file: &str) -> Vec<Vec<String>> {
    let bytes =
        zstd::decode_all(std::fs::File::open(corpus().unwrap().join(file)).unwrap()).unwrap();
    bytes
        .lines()
        .map(|l| l.unwrap().split('\t').map(str::to_owned).collect())
        .collect()
}

/// Every input of each `.drv` in an edge table, inputs that are not
/// packages (origins, files) left out as `guix graph` leaves them out.
fn inputs(table: &[Vec<String>]) -> HashMap<&str, Vec<&str>> {
    let mut inputs: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in table {
        if !["origin", "file-like", "file"].contains(&r[8].split(',').next().unwrap()) {
            inputs.entry(&r[1]).or_default().push(&r[3]);
        }
    }
    inputs
}

type Sets = (BTreeSet<String>, BTreeSet<(String, String)>);

/// The nodes and edges a walk of `inputs` reaches from `root`.
fn walk(inputs: &HashMap<&str, Vec<&str>>, root: &str) -> Sets {
    let mut nodes = BTreeSet::from([root.to_owned()]);
    let mut edges = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(x) = todo.pop() {
        for &y in inputs.get(x).map(Vec::as_slice).unwrap_or_default() {
            edges.insert((x.to_owned(), y.to_owned()));
            if nodes.insert(y.to_owned()) {
                todo.push(y);
            }
        }
    }
    (nodes, edges)
}

/// The nodes and edges of `abovo graph … -f json`, by `.drv` path.
fn sets(v: &Value) -> Sets {
    let list = |k: &str| v[k].as_array().unwrap().clone();
    (
        list("nodes")
            .iter()
            .map(|n| n["derivation"].as_str().unwrap().to_owned())
            .collect(),
        list("edges")
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap().to_owned();
                (s("from"), s("to"))
            })
            .collect(),
    )
}

/// The derivation of the only package called `name` in
/// `packages-meta.tsv`.
fn drv_of(meta: &[Vec<String>], name: &str) -> String {
    let found: Vec<&Vec<String>> = meta.iter().filter(|r| r[0] == name).collect();
    assert_eq!(found.len(), 1, "{name}");
    found[0][2].clone()
}

#[test]
fn graph_types_give_the_node_and_edge_sets_of_the_edge_tables() {
    if corpus().is_none() {
        return eprintln!(
            "skipped graph_types_give_the_node_and_edge_sets_of_the_edge_tables: \
             ABOVO_GUIX_CORPUS is not set"
        );
    }
    let meta = rows("packages-meta.tsv.zst");
    let mut counts = Vec::new();
    for (ty, file) in [
        ("package", "package-edges.tsv.zst"),
        ("bag-emerged", "bag-emerged-edges.tsv.zst"),
    ] {
        let table = rows(file);
        let inputs = inputs(&table);
        for name in ["hello", "pandoc"] {
            let root = drv_of(&meta, name);
            let want = walk(&inputs, &root);
            let v = json(&abovo(&["graph", "--type", ty, name, "-f", "json"]));
            assert_eq!(v["type"], ty);
            assert_eq!(v["roots"][0]["derivation"], root.as_str());
            let got = sets(&v);
            assert_eq!(got.0, want.0, "{ty} nodes of {name}");
            assert_eq!(got.1, want.1, "{ty} edges of {name}");
            assert_eq!(v["node_count"], want.0.len());
            // DOT and GraphML draw the same sets; the text counts them.
            let dot = stdout(&abovo(&["graph", "-t", ty, name, "-f", "dot"]));
            assert_eq!(dot.matches(" -> ").count(), want.1.len());
            assert_eq!(dot.matches("[label = ").count(), want.0.len());
            let graphml = stdout(&abovo(&["graph", "-t", ty, name, "-f", "graphml"]));
            assert_eq!(graphml.matches("<node id=").count(), want.0.len());
            assert_eq!(graphml.matches("<edge source=").count(), want.1.len());
            counts.push(format!("{name} {ty} {}/{}", want.0.len(), want.1.len()));
        }
    }
    assert_eq!(
        counts,
        [
            "hello package 1/0",
            "pandoc package 470/2821",
            "hello bag-emerged 96/1738",
            "pandoc bag-emerged 542/12367"
        ]
    );
    // `package` is the default, as for `guix graph`.
    assert_eq!(
        stdout(&abovo(&["graph", "pandoc", "-f", "json"])),
        stdout(&abovo(&[
            "graph", "--type", "package", "pandoc", "-f", "json"
        ]))
    );
    let text = stdout(&abovo(&["graph", "pandoc"]));
    assert!(
        text.starts_with("# package graph of pandoc@2.19.2 (built-in Guix 1.5.0 snapshot"),
        "{text}"
    );
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("470 nodes, 2,821 edges"),
        "{text}"
    );
    eprintln!("graph --type package|bag-emerged equal the edge tables: {counts:?}");
}

#[test]
fn seurat_reaches_pandoc_through_two_intermediaries() {
    // `package` is path's default type, as for `guix graph --path`.
    let o = abovo(&["path", "r-seurat", "pandoc"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], "r-seurat@5.3.1");
    assert!(
        lines[1].starts_with("r-reticulate@") || lines[1].starts_with("r-rspectra@"),
        "{text}"
    );
    assert!(lines[2].starts_with("r-rmarkdown@"), "{text}");
    assert_eq!(lines[3], "pandoc@2.19.2");
    let v = json(&abovo(&[
        "path",
        "r-seurat",
        "pandoc",
        "--all-shortest",
        "-f",
        "json",
    ]));
    assert_eq!(v["type"], "package");
    assert_eq!(v["length"], 3);
    let second: BTreeSet<&str> = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1]["name"].as_str().unwrap())
        .collect();
    assert_eq!(second, BTreeSet::from(["r-reticulate", "r-rspectra"]));
    // The derivation graph flattens the propagated inputs into one edge.
    let d = json(&abovo(&[
        "path",
        "--type",
        "derivation",
        "r-seurat",
        "pandoc",
        "-f",
        "json",
    ]));
    assert_eq!(d["length"], 1);
    // The length Guix gives, from its own table.
    if corpus().is_some() {
        let meta = rows("packages-meta.tsv.zst");
        let table = rows("package-edges.tsv.zst");
        let inputs = inputs(&table);
        let (from, to) = (drv_of(&meta, "r-seurat"), drv_of(&meta, "pandoc"));
        let mut depth = HashMap::from([(from.as_str(), 0)]);
        let mut layer = vec![from.as_str()];
        while !depth.contains_key(to.as_str()) {
            let mut next = Vec::new();
            for x in layer {
                for &y in inputs.get(x).map(Vec::as_slice).unwrap_or_default() {
                    if !depth.contains_key(y) {
                        depth.insert(y, depth[x] + 1);
                        next.push(y);
                    }
                }
            }
            assert!(!next.is_empty(), "no path in the table");
            layer = next;
        }
        assert_eq!(depth[to.as_str()], 3);
    }
}

#[test]
fn why_says_how_each_input_is_taken() {
    let o = abovo(&["why", "r-seurat", "pandoc"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "r-seurat@5.3.1 depends on pandoc@2.19.2 through 3 edges in the `package` graph"
        ),
        "{text}"
    );
    assert!(
        text.contains("takes pandoc@2.19.2 as a propagated input"),
        "{text}"
    );
    let v = json(&abovo(&["why", "r-seurat", "pandoc", "-f", "json"]));
    assert_eq!(v["length"], 3);
    assert_eq!(v["steps"][2]["uses"][0]["kind"], "propagated-input");
    assert_eq!(v["steps"][2]["uses"][0]["label"], "pandoc");
    // Hello takes no package explicitly: in the `package` graph it depends
    // on nothing, and the answer says where it does.
    let o = abovo(&["why", "hello", "guile-bootstrap"]);
    assert_eq!(code(&o), NEGATIVE);
    let e = stderr(&o);
    assert!(
        e.contains("hello@2.12.2 does not depend on guile-bootstrap@2.0 in the `package` graph"),
        "{e}"
    );
    assert!(
        e.contains("the `bag-emerged` graph has one of 2 edges: --type bag-emerged"),
        "{e}"
    );
    assert!(
        e.contains("the `derivation` graph has one of 2 edges: --type derivation"),
        "{e}"
    );
    let v = parse_json(&abovo(&["path", "hello", "guile-bootstrap", "-f", "json"]));
    assert_eq!(v["paths"].as_array().unwrap().len(), 0);
    assert_eq!(v["elsewhere"][0]["type"], "bag-emerged");
    let o = abovo(&["why", "-t", "bag-emerged", "hello", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("as an implicit input (added by its build system)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn dependents_walk_the_bag_graph_as_guix_refresh_does() {
    let v = json(&abovo(&["dependents", "ghc@7.10", "-f", "json"]));
    assert_eq!(v["type"], "bag-emerged");
    assert_eq!(v["dependent_count"], 3289);
    // Its public packages are the derivation graph's dependents.
    let public: BTreeSet<&str> = v["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"]["visibility"] == "public")
        .map(|p| p["derivation"].as_str().unwrap())
        .collect();
    let d = json(&abovo(&[
        "dependents",
        "--type",
        "derivation",
        "ghc@7.10",
        "-f",
        "json",
    ]));
    let drv: BTreeSet<&str> = d["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(public.len(), 3267);
    assert_eq!(public, drv);
    let text = stdout(&abovo(&["dependents", "ghc@7.10"]));
    assert!(
        text.starts_with(
            "Building the following 1044 packages would ensure 3289 dependent packages are rebuilt: "
        ),
        "{text}"
    );
    // Explicit inputs only: the GHCs built with it.
    let p = json(&abovo(&[
        "dependents",
        "-t",
        "package",
        "ghc@7.10",
        "-f",
        "json",
    ]));
    assert_eq!(p["dependent_count"], 21);
    assert!(
        p["dependents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["full_name"] == "ghc@8.0.2")
    );
}

#[test]
fn closure_counts_packages_by_status() {
    let v = json(&abovo(&[
        "closure",
        "-t",
        "bag-emerged",
        "hello",
        "-f",
        "json",
    ]));
    assert_eq!(v["package_count"], 96);
    assert_eq!(v["edge_count"], 1738);
    let by: u64 = v["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by, 96);
    assert!(v["by_status"]["private"].as_u64().unwrap() > 50);
    let text = stdout(&abovo(&["closure", "-t", "bag-emerged", "hello", "--list"]));
    assert!(text.contains("  packages                 96\n"), "{text}");
    assert!(text.contains("\nprivate packages:\n"), "{text}");
    assert!(text.contains("  stage0-posix@1.6.0  /gnu/store/"), "{text}");
    // The default stays the build closure of derivations.
    let d = json(&abovo(&["closure", "hello", "-f", "json"]));
    assert_eq!(d["type"], "derivation");
    assert_eq!(d["nodes"], 401);
}

#[test]
fn what_is_no_package_is_told_clearly() {
    // Hello's source tarball is a fixed-output derivation, no package.
    let o = abovo(&["graph", "--type", "package", "hello-2.12.2.tar.gz"]);
    assert_eq!(code(&o), ERROR, "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.contains("a fixed-output derivation, not a node of the `package` graph"),
        "{e}"
    );
    assert!(e.contains("hint: --type derivation"), "{e}");
    // A store of hand-made derivations has no package graph: by default
    // the commands answer with derivations and say so; asked for packages,
    // they say how to give them.
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[S], false);
    write_drv(dir.path(), B, &[], &[], false);
    let src = dir.path().to_str().unwrap();
    let o = abovo(&["graph", "app", "--source", src, "-f", "json"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(parse_json(&o)["type"], "derivation");
    assert!(
        stderr(&o)
            .contains("has no `package` graph (no package-level data): answering with derivations"),
        "{}",
        stderr(&o)
    );
    let o = abovo(&["path", "-t", "bag-emerged", "app", "lib", "--source", src]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("has no `bag-emerged` graph")
            && stderr(&o).contains("hint: give them with --bag-emerged-edges TSV"),
        "{}",
        stderr(&o)
    );
}

/// Package tables for the hand-made store `A -> B -> C`: `app@1.0` takes
/// `lib@2.1` as an input, which takes `base@3.0` as a native input; the
/// bag adds `base` to `app` as an implicit input, and an origin.
fn package_tables(dir: &std::path::Path) -> [PathBuf; 3] {
    let drv = |base: &str| format!("/gnu/store/{base}");
    let row = |from: (&str, &str), to: (&str, &str), label: &str, kind: &str, status: &str| {
        format!(
            "{}\t{}\t{}\t{}\t{label}\tout\t{kind}\tpublic\t{status}\n",
            from.0,
            drv(from.1),
            to.0,
            drv(to.1)
        )
    };
    let (app, lib, base) = (("app@1.0", A), ("lib@2.1", B), ("base@3.0", C));
    let edges = format!(
        "{}{}",
        row(app, lib, "lib", "input", "public"),
        row(lib, base, "base", "native-input", "private")
    );
    let bag = format!(
        "{edges}{}{}",
        row(app, base, "base", "implicit", "private,bootstrap"),
        row(app, ("app-1.0.tar.gz", S), "", "implicit", "origin")
    );
    let meta_row = |name: &str, version: &str, base: &str| {
        format!(
            "{name}\t{version}\t{}\tgnu/packages/x.scm:1:2\thttps://example.org\tGPL 3+\t\
             A {name}\tThe @code{{{name}}} package.\tx86_64-linux\tno\t\n",
            drv(base)
        )
    };
    let files = [
        (
            "packages-meta.tsv",
            format!("{}{}", meta_row("app", "1.0", A), meta_row("lib", "2.1", B)),
        ),
        ("package-edges.tsv", edges),
        ("bag-emerged-edges.tsv", bag),
    ];
    files.map(|(name, text)| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    })
}

#[test]
fn package_tables_given_by_flags_reach_graphs_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B, C], &[S], false);
    write_drv(dir.path(), B, &[C], &[], false);
    write_drv(dir.path(), C, &[], &[], false);
    let tables = tempfile::tempdir().unwrap();
    let [meta, edges, bag] = package_tables(tables.path());
    let (src, meta, edges, bag) = (
        dir.path().to_str().unwrap(),
        meta.to_str().unwrap(),
        edges.to_str().unwrap(),
        bag.to_str().unwrap(),
    );
    let flags = [
        "--package-meta",
        meta,
        "--package-edges",
        edges,
        "--bag-emerged-edges",
        bag,
    ];
    // On the store directly.
    let mut args = vec!["path", "app", "base", "--source", src];
    args.extend(flags);
    let o = abovo(&args);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(stdout(&o), "app@1.0\nlib@2.1\nbase@3.0\n");
    // Through a snapshot.
    let snap = tables.path().join("s.abovo-snapshot");
    let mut args = vec![
        "snapshot",
        "create",
        "--from",
        src,
        "-o",
        snap.to_str().unwrap(),
    ];
    args.extend(flags);
    let o = abovo(&args);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let s = snap.to_str().unwrap();
    let info = stdout(&abovo(&["snapshot", "info", s]));
    assert!(info.contains("packages      2 (2 with metadata)"), "{info}");
    assert!(
        info.contains("package graph 3 nodes; 2 package edges, 3 bag-emerged edges"),
        "{info}"
    );
    let text = stdout(&abovo(&["graph", "app", "--source", s]));
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        [
            "app@1.0",
            "  -> lib@2.1 [input]",
            "lib@2.1",
            "  -> base@3.0 [native-input]",
            "base@3.0 (private)"
        ]
    );
    let v = json(&abovo(&[
        "graph",
        "-t",
        "bag-emerged",
        "app",
        "--source",
        s,
        "-f",
        "json",
    ]));
    assert_eq!(v["edge_count"], 3);
    assert_eq!(v["edges"][0]["uses"][0]["kind"], "input");
    // A bad row names its file and line.
    std::fs::write(
        edges,
        format!("{}a\tb\n", std::fs::read_to_string(edges).unwrap()),
    )
    .unwrap();
    let mut args = vec!["graph", "app", "--source", src];
    args.extend(flags);
    let o = abovo(&args);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains(&format!(
            "`{edges}` line 3: expected 9 tab-separated fields"
        )),
        "{}",
        stderr(&o)
    );
}
