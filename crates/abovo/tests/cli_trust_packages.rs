//! `abovo seeds` and `abovo audit` in package terms (issue 18): for each
//! seed, which package brings it in and the package path to it in the
//! `bag-emerged` graph, beside the derivation path, in JSON, text and
//! HTML; on the corpus when ABOVO_GUIX_CORPUS is set, else on the built-in
//! snapshot.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;
mod cli_trust_support;

use cli_support::*;
use cli_trust_support::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The `package` names of a list of package steps.
fn names(steps: &Value) -> Vec<&str> {
    steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["package"].as_str().unwrap())
        .collect()
}

/// Whether the derivation `derivation` is on the seed's derivation path.
fn on_path(seed: &Value, derivation: &str) -> bool {
    seed["path_from_target"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["path"] == derivation)
}

#[test]
fn seeds_say_which_package_brings_each_in() {
    let r = json(&on_guix(&["seeds", "hello", "--format", "json"]));
    assert_eq!(r["target_package"]["package"], "hello@2.12.2");
    let bash = seed(&r, "bash")[0];
    assert_eq!(
        bash["package"]["brought_in_by"]["package"],
        "guile-bootstrap@2.0"
    );
    assert_eq!(
        names(&bash["package"]["package_path"]),
        ["hello@2.12.2", "patch@2.7.6", "guile-bootstrap@2.0"]
    );
    // The Coreutils & co tarball comes in through patch's own source
    // (repacked with patches): the package path stops at patch, and the
    // derivations outside the package graph follow.
    let statics: Vec<&Value> = seed(&r, "static-binaries.tar.xz");
    let t = &statics[0]["package"];
    assert_eq!(t["brought_in_by"]["package"], "bootstrap-binaries@0");
    assert_eq!(names(&t["package_path"]), ["hello@2.12.2", "patch@2.7.6"]);
    let then: Vec<&str> = t["then"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(then, ["patch-2.7.6.tar.xz", "bootstrap-binaries-0"]);
    // Every trail holds together: the bringer is on the derivation path,
    // and every step of the package path is an edge of hello's
    // bag-emerged graph.
    let g = json(&on_guix(&[
        "graph",
        "-t",
        "bag-emerged",
        "hello",
        "-f",
        "json",
    ]));
    let edges: BTreeSet<(&str, &str)> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    let mut trails = 0;
    for s in r["seeds"].as_array().unwrap() {
        let Some(t) = s.get("package") else {
            continue;
        };
        trails += 1;
        let bringer = t["brought_in_by"]["derivation"].as_str().unwrap();
        assert!(on_path(s, bringer), "{s}");
        let path = t["package_path"].as_array().unwrap();
        assert_eq!(path[0]["package"], "hello@2.12.2", "{s}");
        for w in path.windows(2) {
            let pair = (
                w[0]["derivation"].as_str().unwrap(),
                w[1]["derivation"].as_str().unwrap(),
            );
            assert!(edges.contains(&pair), "{pair:?} in {s}");
        }
        match t["then"].as_array().unwrap().last() {
            Some(last) => assert_eq!(last["path"], bringer, "{s}"),
            None => assert_eq!(path.last().unwrap()["derivation"], bringer, "{s}"),
        }
    }
    assert!(trails > 200, "{trails} seeds have a package trail");
    // Text and HTML say the same.
    let text = stdout(&on_guix(&["seeds", "hello"]));
    assert!(text.contains("  package:    hello@2.12.2\n"), "{text}");
    assert!(
        text.contains(
            "    package:  guile-bootstrap@2.0 brings it in\n              hello@2.12.2 → \
             patch@2.7.6 → guile-bootstrap@2.0 (bag-emerged graph)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "then patch-2.7.6.tar.xz → bootstrap-binaries-0 (derivations outside the \
             bag-emerged graph)"
        ),
        "{text}"
    );
    let html = stdout(&on_guix(&["seeds", "hello", "--format", "html"]));
    assert!(
        html.contains("package: guile-bootstrap@2.0 brings it in; hello@2.12.2 → patch@2.7.6"),
        "{html}"
    );
    assert!(html.contains("(package <code>hello@2.12.2</code>)"));
}

#[test]
fn the_audit_says_who_brings_each_binary_seed_in() {
    let r = json(&on_guix(&["audit", "--format", "json", "--top", "3"]));
    let core = r["core"].as_array().unwrap();
    let bash = core.iter().find(|s| s["name"] == "bash").unwrap();
    let by: Vec<(&str, Option<&str>)> = bash["brought_in_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["package"].as_str().unwrap(), p["system"].as_str()))
        .collect();
    assert!(by.contains(&("guile-bootstrap@2.0", None)), "{by:?}");
    // The i686 build of the bootstrap Guile is that package too, for
    // another system.
    assert!(
        by.contains(&("guile-bootstrap@2.0", Some("i686-linux"))),
        "{by:?}"
    );
    let others = r["others"].as_array().unwrap();
    let ghc = others
        .iter()
        .find(|s| s["name"] == "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz")
        .unwrap();
    assert_eq!(names(&ghc["brought_in_by"]), ["ghc@7.10.3"]);
    // The example starts at the first leaf and ends at the seed, in
    // derivations and in packages.
    let e = &ghc["example"];
    assert_eq!(e["package"], ghc["leaves"][0]);
    let path = e["path"].as_array().unwrap();
    assert_eq!(path.last().unwrap()["label"], ghc["name"]);
    assert_eq!(e["trail"]["brought_in_by"]["package"], "ghc@7.10.3");
    let packages = names(&e["trail"]["package_path"]);
    assert_eq!(packages.first(), e["package"].as_str().as_ref());
    assert_eq!(packages.last(), Some(&"ghc@7.10.3"));
    // Text and HTML.
    let text = stdout(&on_guix(&["audit", "--top", "3"]));
    assert!(text.contains("brought in by: ghc@7.10.3\n"), "{text}");
    assert!(text.contains("package: ghc@7.10.3 brings it in"), "{text}");
    let html = stdout(&on_guix(&["audit", "--top", "3", "--format", "html"]));
    assert!(html.contains("brought in by: ghc@7.10.3</div>"), "{html}");
}

#[test]
fn without_package_graphs_the_reports_stay_in_derivations() {
    let dir = tempfile::tempdir().unwrap();
    write_drv(dir.path(), A, &[B], &[S], false);
    write_drv(dir.path(), B, &[], &[], true);
    let src = dir.path().to_str().unwrap();
    let r = json(&abovo(&[
        "seeds",
        "app",
        "--source",
        src,
        "--no-store",
        "-f",
        "json",
    ]));
    assert!(r.get("target_package").is_none(), "{r}");
    assert!(!r["seeds"].as_array().unwrap().is_empty());
    for s in r["seeds"].as_array().unwrap() {
        assert!(s.get("package").is_none(), "{s}");
    }
    let text = stdout(&abovo(&["seeds", "app", "--source", src, "--no-store"]));
    assert!(!text.contains("package:"), "{text}");
}
