//! Name resolution when the name does not lead where it was meant: version
//! mismatches list the versions there are, unknown names suggest near ones
//! whatever their case, ambiguities say what tells the candidates apart,
//! and namesakes are found for "no path" answers. Small hand-made graphs
//! with known answers.
#![allow(clippy::unwrap_used)]

mod support;

use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::query::{Walk, closure};
use abovo_graph::resolve::{Preferences, namesakes, resolve, spec_for};
use abovo_graph::{Graph, NodeId, Package, PackageTable, ResolveError};
use abovo_store::{StoreDir, StorePath};
use support::record;

/// A derivation with `outputs`, using the `out` output of each input.
fn drv(tag: u32, name: &str, inputs: &[&StorePath], outputs: &[&str]) -> DrvRecord {
    let inputs: Vec<(&StorePath, &[&str])> = inputs.iter().map(|p| (*p, &["out"][..])).collect();
    record(tag, name, outputs, &inputs, &[])
}

fn node(g: &Graph, spec: &str) -> NodeId {
    resolve(g, spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// `app` uses a bootstrap `libc-2.0` (not the package) and `Widget`; the
/// package table's `libc` is another `libc-2.0`; `twin@1.0` is defined
/// twice, the second time with an extra input and a `doc` output.
fn world() -> Graph {
    let boot_libc = drv(10, "libc-2.0", &[], &["out"]);
    let pkg_libc = drv(11, "libc-2.0", &[], &["out"]);
    let old_libc = drv(12, "libc-1.5", &[], &["out"]);
    let widget = drv(13, "Widget-3.1", &[], &["out"]);
    let extra = drv(14, "extra-0.1", &[], &["out"]);
    let twin_a = drv(20, "twin-1.0", &[&widget.path], &["out"]);
    let twin_b = drv(
        21,
        "twin-1.0",
        &[&widget.path, &extra.path],
        &["doc", "out"],
    );
    let app = drv(30, "app-1.0", &[&boot_libc.path, &widget.path], &["out"]);
    let mut g = build_graph(
        StoreDir::default(),
        vec![
            boot_libc,
            pkg_libc.clone(),
            old_libc,
            widget,
            extra,
            twin_a.clone(),
            twin_b.clone(),
            app,
        ],
    )
    .unwrap();
    let row = |name: &str, version: &str, p: &StorePath, module: &str| Package {
        name: name.into(),
        version: version.into(),
        derivation: p.clone(),
        module: module.into(),
    };
    g.set_packages(PackageTable::new(vec![
        row("libc", "2.0", &pkg_libc.path, "base.scm"),
        row("twin", "1.0", &twin_a.path, "twins.scm"),
        row("twin", "1.0", &twin_b.path, "twins-extra.scm"),
    ]));
    g
}

#[test]
fn a_version_that_matches_nothing_lists_the_versions() {
    let g = world();
    match resolve(&g, "libc@3") {
        Err(e @ ResolveError::NoMatchingVersion { .. }) => {
            assert_eq!(
                e.to_string(),
                "no version of libc matches 3; available: 2.0, 1.5"
            );
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    // A prefix that does match still resolves.
    assert_eq!(g.label(node(&g, "libc@1")), "libc-1.5");
    // A name nothing knows is still unknown, with or without a version.
    assert!(matches!(
        resolve(&g, "nothing@1"),
        Err(ResolveError::Unknown { .. })
    ));
}

#[test]
fn suggestions_ignore_case() {
    let g = world();
    match resolve(&g, "widget") {
        Err(ResolveError::Unknown { suggestions, .. }) => {
            assert_eq!(suggestions.first().map(String::as_str), Some("Widget"))
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    match resolve(&g, "LIBC") {
        Err(ResolveError::Unknown { suggestions, .. }) => {
            assert_eq!(suggestions.first().map(String::as_str), Some("libc"))
        }
        other => panic!("expected unknown, got {other:?}"),
    }
    // Near names stay.
    match resolve(&g, "twn") {
        Err(ResolveError::Unknown { suggestions, .. }) => {
            assert!(suggestions.iter().any(|s| s == "twin"), "{suggestions:?}")
        }
        other => panic!("expected unknown, got {other:?}"),
    }
}

/// A "name" far longer than any package name is unknown at once, with no
/// suggestions (the similarity measure would cost time in the product of
/// the lengths).
#[test]
fn an_absurdly_long_name_gets_no_suggestions() {
    let g = world();
    let long = "libc".repeat(10_000);
    let start = std::time::Instant::now();
    match resolve(&g, &long) {
        Err(ResolveError::Unknown { suggestions, .. }) => assert!(suggestions.is_empty()),
        other => panic!("expected unknown, got {other:?}"),
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn ambiguous_candidates_say_what_tells_them_apart() {
    let g = world();
    let e = resolve(&g, "twin").unwrap_err();
    let ResolveError::Ambiguous { candidates, .. } = &e else {
        panic!("expected ambiguity, got {e:?}");
    };
    assert_eq!(candidates.len(), 2);
    let (a, b) = (&candidates[0], &candidates[1]);
    assert_eq!(a.modules, vec!["twins.scm"]);
    assert_eq!(b.modules, vec!["twins-extra.scm"]);
    assert_eq!(a.outputs, vec!["out"]);
    assert_eq!(b.outputs, vec!["doc", "out"]);
    assert_eq!((a.input_count, b.input_count), (1, 2));
    assert!(a.distinct_inputs.is_empty());
    assert_eq!(b.distinct_inputs.len(), 1);
    assert!(b.distinct_inputs[0].ends_with("-extra-0.1.drv"));
    let text = e.to_string();
    // No two candidate lines are the same, and a .drv path is offered.
    let lines: Vec<&str> = text.lines().collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), lines.len(), "{text}");
    assert!(text.contains("defined in twins-extra.scm"), "{text}");
    assert!(text.contains("outputs doc out"), "{text}");
    assert!(text.contains("inputs the others lack: "), "{text}");
    assert!(
        text.contains("name one by its .drv path, e.g. /gnu/store/"),
        "{text}"
    );
    // And that path does select it.
    assert_eq!(node(&g, &a.path), a.node);
}

#[test]
fn namesakes_find_the_libc_that_app_uses() {
    let g = world();
    let app = node(&g, "app");
    let libc = node(&g, "libc");
    // The package's libc is not the one app uses.
    let in_closure = closure(&g, &[app], &Walk::default());
    assert!(!in_closure.contains(&libc));
    let others = namesakes(&g, libc);
    assert_eq!(others.len(), 2, "the bootstrap libc-2.0 and libc-1.5");
    let used: Vec<NodeId> = others
        .into_iter()
        .filter(|n| in_closure.contains(n))
        .collect();
    assert_eq!(used.len(), 1);
    // `libc@2.0` means the package, so the other is named by its path...
    let spec = spec_for(&g, used[0], &Preferences::new());
    assert!(spec.starts_with("/gnu/store/") && spec.ends_with("-libc-2.0.drv"));
    assert_eq!(node(&g, &spec), used[0]);
    // ...while a derivation with a unique version gets `name@version`.
    assert_eq!(
        spec_for(&g, node(&g, "libc@1.5"), &Preferences::new()),
        "libc@1.5"
    );
    assert_eq!(spec_for(&g, libc, &Preferences::new()), "libc@2.0");
}
