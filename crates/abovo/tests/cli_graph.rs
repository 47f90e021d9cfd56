//! `abovo graph`, `path`, `why`, `dependents`, `closure` and `snapshot`
//! end to end: the real binary on its built-in Guix 1.5.0 snapshot (no
//! flags, no corpus, as on a fresh clone) and on small hand-made stores,
//! checking answers, formats and exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{
    A, B, C, ERROR, NEGATIVE, S, SUCCESS, abovo, abovo_command, code, json, stderr, stdout,
    write_drv,
};
use serde_json::Value;
use std::path::Path;

#[test]
fn path_works_out_of_the_box() {
    let o = abovo(&["path", "--type", "derivation", "hello", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].ends_with("-hello-2.12.2.drv"));
    assert!(lines[2].ends_with("-guile-bootstrap-2.0.drv"));
    assert!(lines.iter().all(|l| l.starts_with("/gnu/store/")));
    // Deterministic: the same answer again.
    assert_eq!(
        stdout(&abovo(&[
            "path",
            "--type",
            "derivation",
            "hello",
            "guile-bootstrap"
        ])),
        stdout(&o)
    );
}

#[test]
fn no_path_is_a_negative_answer() {
    let o = abovo(&["path", "--type", "derivation", "guile-bootstrap", "hello"]);
    assert_eq!(code(&o), NEGATIVE);
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("no path from guile-bootstrap@2.0 to hello@2.12.2"),
        "{}",
        stderr(&o)
    );
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "guile-bootstrap",
        "hello",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), NEGATIVE);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["paths"].as_array().unwrap().len(), 0);
}

#[test]
fn all_shortest_paths_in_json() {
    let v = json(&abovo(&[
        "path",
        "--type",
        "derivation",
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
        "--type",
        "derivation",
        "hello",
        "guile-bootstrap",
        "--format",
        "json",
    ]));
    assert_eq!(first["paths"][0], paths[0]);
    let limited = json(&abovo(&[
        "path",
        "--type",
        "derivation",
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
    let v = json(&abovo(&[
        "graph",
        "--type",
        "derivation",
        "hello",
        "--format",
        "json",
    ]));
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

    let dot = stdout(&abovo(&[
        "graph",
        "--type",
        "derivation",
        "hello",
        "--format",
        "dot",
    ]));
    assert!(dot.starts_with("digraph "));
    assert_eq!(dot.lines().filter(|l| l.contains("\" -> \"")).count(), 2755);
    assert_eq!(dot.lines().filter(|l| l.contains("[label = ")).count(), 401);

    let graphml = stdout(&abovo(&[
        "graph",
        "--type",
        "derivation",
        "hello",
        "--format",
        "graphml",
    ]));
    assert_eq!(graphml.matches("<node id=").count(), 401);
    assert_eq!(graphml.matches("<edge source=").count(), 2755);

    let text = stdout(&abovo(&["graph", "--type", "derivation", "hello"]));
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
    let dot = stdout(&abovo(&[
        "graph",
        "--type",
        "derivation",
        "python-pytorch",
        "--format",
        "dot",
    ]));
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
        let mut a = vec!["graph", "--type", "derivation", "hello", "--format", "json"];
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
    let v = json(&abovo(&[
        "closure",
        "--type",
        "derivation",
        "hello",
        "-f",
        "json",
    ]));
    assert_eq!(ns, 401 - v["source_count"].as_u64().unwrap());
    let (nf, ef) = count(&["--stop-at-fixed"]);
    assert!(nf < 401 && ef < 2755);
    let o = abovo(&["graph", "--type", "derivation", "hello", "--format", "html"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("invalid value 'html' for '--format <FORMAT>'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn why_explains_each_edge() {
    let o = abovo(&["why", "--type", "derivation", "hello", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("hello@2.12.2 depends on guile-bootstrap@2.0 through 2 edges"),
        "{text}"
    );
    assert_eq!(text.matches("uses output \"out\" of").count(), 2, "{text}");
    let v = json(&abovo(&[
        "why",
        "--type",
        "derivation",
        "hello",
        "guile-bootstrap",
        "--format",
        "json",
    ]));
    assert_eq!(v["length"], 2);
    assert_eq!(v["steps"][0]["outputs"], serde_json::json!(["out"]));
    let o = abovo(&["why", "--type", "derivation", "guile-bootstrap", "hello"]);
    assert_eq!(code(&o), NEGATIVE);
    assert!(stderr(&o).contains("does not depend on"));
}

#[test]
fn dependents_as_guix_refresh_says_it() {
    let o = abovo(&["dependents", "--type", "derivation", "ghc@7.10"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let text = stdout(&o);
    let v = json(&abovo(&[
        "dependents",
        "--type",
        "derivation",
        "ghc@7.10",
        "--format",
        "json",
    ]));
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
    let o = abovo(&["dependents", "--type", "derivation", "python-pytorch"]);
    assert_eq!(code(&o), SUCCESS);
    let t = stdout(&o);
    assert!(
        t.starts_with("No dependents other than itself: python-pytorch@")
            || t.starts_with("A single dependent package: ")
            || t.starts_with("Building the following "),
        "{t}"
    );
}

#[test]
fn closure_counts_and_sizes() {
    let v = json(&abovo(&[
        "closure",
        "--type",
        "derivation",
        "hello",
        "--format",
        "json",
    ]));
    assert_eq!(v["nodes"], 401);
    let d = v["derivation_count"].as_u64().unwrap();
    let s = v["source_count"].as_u64().unwrap();
    assert_eq!(d + s, 401);
    assert!(v["fixed_output_count"].as_u64().unwrap() > 0);
    assert_eq!(v["sized_nodes"], 401);
    assert!(v["known_size"].as_u64().unwrap() > 0);
    let text = stdout(&abovo(&[
        "closure",
        "--type",
        "derivation",
        "hello",
        "--list",
    ]));
    assert!(text.contains("fixed-output derivations:"));
}

/// The keys of `v`, in the order written.
fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Large answers are written node by node, without a JSON value built
/// first: their keys stay in one documented order, optional keys only
/// where they apply, and every node of every list has the same shape.
#[test]
fn json_answers_keep_their_keys_in_order() {
    let node = [
        "path",
        "name",
        "kind",
        "fixed_output",
        "output_kind",
        "packages",
        "nar_size",
    ];
    let package = ["name", "version", "full_name", "derivation", "status"];
    // Each node's keys appear in `order`, the first four always.
    let check = |nodes: &Value, order: &[&str], always: usize| {
        let nodes = nodes.as_array().unwrap();
        assert!(!nodes.is_empty());
        for n in nodes {
            let k = keys(n);
            assert_eq!(k[..always], order[..always], "{n}");
            let mut at = 0;
            for key in &k {
                let found = order[at..].iter().position(|o| o == key);
                assert!(found.is_some(), "{key} out of order in {n}");
                at += found.unwrap() + 1;
            }
        }
    };
    let v = json(&abovo(&["closure", "hello", "--format", "json"]));
    assert_eq!(
        keys(&v),
        [
            "graph",
            "type",
            "roots",
            "nodes",
            "derivation_count",
            "fixed_output_count",
            "source_count",
            "missing_count",
            "known_size",
            "sized_nodes",
            "fixed_output_sizes",
            "derivations",
            "fixed_output",
            "sources",
            "missing"
        ]
    );
    for list in ["roots", "derivations", "fixed_output", "sources"] {
        check(&v[list], &node, 4);
    }
    assert_eq!(v["roots"][0]["packages"][0], "hello@2.12.2");
    assert!(v["sources"][0]["nar_size"].as_u64().unwrap() > 0);

    let graph_keys = [
        "graph",
        "type",
        "title",
        "roots",
        "node_count",
        "edge_count",
        "complete",
        "missing",
        "nodes",
        "edges",
    ];
    let v = json(&abovo(&[
        "graph",
        "hello",
        "--type",
        "derivation",
        "--format",
        "json",
    ]));
    assert_eq!(keys(&v), graph_keys);
    assert!(
        v["roots"][0]
            .as_str()
            .unwrap()
            .ends_with("-hello-2.12.2.drv")
    );
    check(&v["nodes"], &node, 4);
    assert_eq!(keys(&v["edges"][0]), ["from", "to", "outputs"]);
    assert_eq!(v["edges"].as_array().unwrap().len(), v["edge_count"]);

    let v = json(&abovo(&[
        "graph",
        "python-pytorch",
        "--max-depth",
        "1",
        "--format",
        "json",
    ]));
    assert_eq!(keys(&v), graph_keys);
    assert_eq!(v["type"], "package");
    check(&v["roots"], &package, 5);
    check(&v["nodes"], &package, 5);
    assert_eq!(
        keys(&v["edges"][0]),
        ["from", "to", "from_name", "to_name", "uses"]
    );
    assert_eq!(keys(&v["edges"][0]["uses"][0]), ["label", "output", "kind"]);

    let dependents_keys = [
        "graph",
        "type",
        "targets",
        "packages_only",
        "dependent_count",
        "covering_count",
        "covering",
        "dependents",
    ];
    let v = json(&abovo(&[
        "dependents",
        "python-pytorch",
        "--format",
        "json",
    ]));
    assert_eq!(keys(&v), dependents_keys);
    assert_eq!(v["type"], "bag-emerged");
    check(&v["targets"], &package, 5);
    check(&v["dependents"], &package, 5);
    let v = json(&abovo(&[
        "dependents",
        "python-pytorch",
        "--type",
        "derivation",
        "--format",
        "json",
    ]));
    assert_eq!(keys(&v), dependents_keys);
    check(&v["targets"], &node, 4);
    check(&v["dependents"], &node, 4);
    assert_eq!(
        v["dependents"].as_array().unwrap().len(),
        v["dependent_count"]
    );
}

#[test]
fn unknown_and_ambiguous_names() {
    let o = abovo(&["path", "--type", "derivation", "helo", "guile-bootstrap"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("unknown package or derivation `helo`"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("did you mean") && stderr(&o).contains("hello"),
        "{}",
        stderr(&o)
    );
    let o = abovo(&[
        "graph",
        "--type",
        "derivation",
        "/gnu/store/00000000000000000000000000000000-nothing.drv",
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("is not in this graph"));
    // Version prefixes pick the newest matching version.
    let v = json(&abovo(&[
        "closure",
        "--type",
        "derivation",
        "hello@2.12",
        "-f",
        "json",
    ]));
    assert_eq!(v["roots"][0]["name"], "hello-2.12.2");
}

#[test]
fn built_in_snapshot_info() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/guix-1.5.0.abovo-snapshot");
    let o = abovo(&["snapshot", "info", data.to_str().unwrap()]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("derivations   71817 (35359 fixed-output)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o)
            .contains("package graph 31668 nodes; 158825 package edges, 784416 bag-emerged edges"),
        "{}",
        stdout(&o)
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
    // The package-level data: metadata for every package, both graphs.
    assert_eq!(v["packages_with_metadata"], 30_574);
    assert_eq!(v["package_nodes"], 31_668);
    assert_eq!(v["package_edges"], 158_825);
    assert_eq!(v["bag_emerged_edges"], 784_416);
    assert!(v["file_size"].as_u64().unwrap() < 16_000_000);
}

#[test]
fn hand_made_store_and_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B, C], &[S], false);
    write_drv(dir.path(), B, &[C], &[], false);
    write_drv(dir.path(), C, &[], &[S], true);
    let src = dir.path().to_str().unwrap();
    let v = json(&abovo(&[
        "graph",
        "--type",
        "derivation",
        "app",
        "--source",
        src,
        "-f",
        "json",
    ]));
    assert_eq!(v["node_count"], 4);
    assert_eq!(v["edge_count"], 5);
    // Fixed-output derivations answer to their full name only.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "app",
        "base-3.0",
        "--source",
        src,
    ]);
    assert_eq!(
        stdout(&o).lines().count(),
        2,
        "direct edge beats app -> lib -> base"
    );
    assert_eq!(
        code(&abovo(&[
            "path",
            "--type",
            "derivation",
            "app",
            "base",
            "--source",
            src
        ])),
        ERROR
    );
    let o = abovo(&[
        "dependents",
        "--type",
        "derivation",
        "base-3.0.drv",
        "--source",
        src,
    ]);
    assert_eq!(
        stdout(&o).trim(),
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
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let o = abovo(&["snapshot", "info", snap.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("derivations   3 (1 fixed-output)"),
        "{}",
        stdout(&o)
    );
    let o = abovo_command(&["graph", "--type", "derivation", "app", "-f", "json"])
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
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
}

#[test]
fn cycles_and_bad_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[], false);
    write_drv(dir.path(), B, &[A], &[], false);
    let o = abovo(&[
        "graph",
        "--type",
        "derivation",
        "app",
        "--source",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("cycle"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(A) && stderr(&o).contains(B),
        "{}",
        stderr(&o)
    );

    // A broken `.drv`, in a directory and in a tarball.
    let graph_of_base = |source: &Path| {
        let source = source.to_str().unwrap();
        abovo(&["graph", "--type", "derivation", "base", "--source", source])
    };
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join(C), b"Derive([(\"out\",").unwrap();
    let o = graph_of_base(bad.path());
    assert_eq!(code(&o), ERROR);
    // Named by its path on disk, not by its base name alone.
    let on_disk = bad.path().join(C);
    assert!(
        stderr(&o).contains(&format!("`{}`", on_disk.display())) && stderr(&o).contains("at byte"),
        "{}",
        stderr(&o)
    );
    // In a tarball: the tarball and the member's name in it.
    let tarball = dir.path().join("drvs.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
        b.append_path_with_name(&on_disk, format!("gnu/store/{C}"))
            .unwrap();
        b.finish().unwrap();
    }
    let o = graph_of_base(&tarball);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains(&format!("`{}:gnu/store/{C}`", tarball.display())),
        "{}",
        stderr(&o)
    );

    let o = abovo(&[
        "graph",
        "--type",
        "derivation",
        "x",
        "--source",
        "/nonexistent/abovo",
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("/nonexistent/abovo"));
}
