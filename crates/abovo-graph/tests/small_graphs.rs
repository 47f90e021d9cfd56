//! Hand-made graphs with known answers: diamonds, cycles, missing inputs,
//! no-path cases, name resolution, dependents and snapshot round trips.
#![allow(clippy::unwrap_used)]

mod support;

use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::query::{self, Walk};
use abovo_graph::resolve::resolve;
use abovo_graph::{Graph, GraphError, NodeId, NodeKind, ResolveError};
use abovo_store::derivation::FixedOutput;
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::{StoreDir, StorePath};
use support::{record, sp};

/// A derivation with one output, `out`.
fn drv(
    tag: u32,
    name: &str,
    inputs: &[(&StorePath, &[&str])],
    sources: &[&StorePath],
) -> DrvRecord {
    record(tag, name, &["out"], inputs, sources)
}

fn fod(tag: u32, name: &str, inputs: &[(&StorePath, &[&str])]) -> DrvRecord {
    let mut d = drv(tag, name, inputs, &[]);
    d.fixed = Some(FixedOutput {
        recursive: false,
        hash: Hash::new(HashAlgo::Sha256, &[7; 32]).unwrap(),
    });
    d.builder = "builtin:download".into();
    d.env = vec![("url".into(), format!("https://example.org/{name}"))];
    d
}

/// top -> {left, right} -> bottom (a diamond), bottom -> src, plus a
/// fixed-output `tarball` under left that itself uses `fetcher`.
fn diamond() -> Graph {
    let src = sp(1, "build.sh");
    let fetcher = drv(2, "fetcher-1.0", &[], &[]);
    let tarball = fod(3, "thing-1.0.tar.gz", &[(&fetcher.path, &["out"])]);
    let bottom = drv(10, "bottom-1.0", &[], &[&src]);
    let left = drv(
        11,
        "left-2.0",
        &[(&bottom.path, &["out"]), (&tarball.path, &["out"])],
        &[],
    );
    let right = drv(12, "right-3.1", &[(&bottom.path, &["lib", "out"])], &[]);
    let top = drv(
        13,
        "top-1.0",
        &[(&left.path, &["out"]), (&right.path, &["out"])],
        &[&src],
    );
    build_graph(
        StoreDir::default(),
        vec![top, right, left, bottom, tarball, fetcher],
    )
    .unwrap()
}

fn node(g: &Graph, spec: &str) -> NodeId {
    resolve(g, spec).unwrap()
}

#[test]
fn diamond_closure_and_edges() {
    let g = diamond();
    assert_eq!(g.len(), 7);
    assert_eq!(g.derivation_count(), 6);
    let top = node(&g, "top");
    let sub = query::subgraph(&g, &[top], &Walk::default());
    assert_eq!(sub.nodes.len(), 7, "every node is below top");
    // top: left, right, src; left: bottom, tarball; right: bottom;
    // bottom: src; tarball: fetcher.
    assert_eq!(sub.edges.len(), 8);
    assert_eq!(g.edge_count(), 8);
    // Ids follow path order.
    let paths: Vec<String> = g.nodes().map(|n| g.display_path(n)).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    // Edges carry the outputs used.
    let right = node(&g, "right");
    let bottom = node(&g, "bottom");
    let outs: Vec<&str> = g.edge(right, bottom).unwrap().outputs().collect();
    assert_eq!(outs, ["lib", "out"]);
    let src = g.lookup(&sp(1, "build.sh")).unwrap();
    assert_eq!(g.kind(src), NodeKind::Source);
    assert_eq!(g.edge(bottom, src).unwrap().outputs().count(), 0);
    // Topological order puts inputs first.
    let pos: Vec<usize> = {
        let mut p = vec![0; g.len()];
        for (i, n) in g.topological_order().iter().enumerate() {
            p[n.index()] = i;
        }
        p
    };
    for n in g.nodes() {
        for &i in g.inputs(n) {
            assert!(pos[i.index()] < pos[n.index()]);
        }
    }
}

#[test]
fn walk_options_shape_the_closure() {
    let g = diamond();
    let top = node(&g, "top");
    let hide = Walk {
        hide_sources: true,
        ..Walk::default()
    };
    let sub = query::subgraph(&g, &[top], &hide);
    assert_eq!(sub.nodes.len(), 6);
    assert_eq!(sub.edges.len(), 6);
    let stop = Walk {
        stop_at_fixed: true,
        ..Walk::default()
    };
    let sub = query::subgraph(&g, &[top], &stop);
    assert_eq!(
        sub.nodes.len(),
        6,
        "fetcher is behind the fixed-output derivation"
    );
    let depth1 = Walk {
        max_depth: Some(1),
        ..Walk::default()
    };
    let sub = query::subgraph(&g, &[top], &depth1);
    assert_eq!(sub.nodes.len(), 4, "top, left, right, src");
    assert_eq!(sub.edges.len(), 3);
    // The fixed-output derivation as a root is walked through even when
    // stopping at fixed outputs.
    let tarball = node(&g, "thing-1.0.tar.gz");
    assert_eq!(query::closure(&g, &[tarball], &stop).len(), 2);
    // The trust walk stops there too: a fixed-output target is a seed.
    assert_eq!(
        query::closure(&g, &[tarball], &Walk::trust(false)),
        [tarball]
    );
    assert_eq!(query::closure(&g, &[tarball], &Walk::trust(true)).len(), 2);
    assert_eq!(query::closure(&g, &[top], &Walk::trust(false)).len(), 6);
}

#[test]
fn shortest_path_tree_visits_breadth_first() {
    let g = diamond();
    let (top, bottom) = (node(&g, "top"), node(&g, "bottom"));
    let tree = query::ShortestPaths::tree(&g, top, &Walk::default());
    let reached = tree.reached();
    assert_eq!(reached[0], top);
    assert_eq!(
        reached.len(),
        query::closure(&g, &[top], &Walk::default()).len()
    );
    // Layer by layer: no node comes before one nearer the start.
    let depth = |n| tree.path_to(n).unwrap().len();
    assert!(reached.windows(2).all(|w| depth(w[0]) <= depth(w[1])));
    assert_eq!(tree.path_to(bottom).unwrap().len(), 3);
    // Each node's parent is the node before it on its path; the start
    // has none.
    assert_eq!(tree.parent(top), None);
    for &n in &reached[1..] {
        let path = tree.path_to(n).unwrap();
        assert_eq!(tree.parent(n), Some(path[path.len() - 2]));
    }
    assert_eq!(tree.parent(bottom), Some(node(&g, "left")));
    // Nothing is reached from the bottom: no parents there.
    let from_bottom = query::ShortestPaths::tree(&g, bottom, &Walk::default());
    assert_eq!(from_bottom.parent(top), None);
    assert_eq!(from_bottom.path_to(top), None);
}

#[test]
fn shortest_paths_are_deterministic() {
    let g = diamond();
    let top = node(&g, "top");
    let bottom = node(&g, "bottom");
    let path = query::shortest_path(&g, top, bottom, &Walk::default()).unwrap();
    // Two paths of length 2; left has the smaller path.
    assert_eq!(path, vec![top, node(&g, "left"), bottom]);
    let all = query::all_shortest_paths(&g, top, bottom, &Walk::default(), 10);
    assert_eq!(
        all,
        vec![
            vec![top, node(&g, "left"), bottom],
            vec![top, node(&g, "right"), bottom]
        ]
    );
    assert_eq!(
        query::all_shortest_paths(&g, top, bottom, &Walk::default(), 1).len(),
        1
    );
    // Source reached directly from top: length 1 beats length 3.
    let src = g.lookup(&sp(1, "build.sh")).unwrap();
    assert_eq!(
        query::shortest_path(&g, top, src, &Walk::default()).unwrap(),
        vec![top, src]
    );
    // No path upwards, and none to a hidden source.
    assert_eq!(
        query::shortest_path(&g, bottom, top, &Walk::default()),
        None
    );
    assert!(query::all_shortest_paths(&g, bottom, top, &Walk::default(), 10).is_empty());
    let hide = Walk {
        hide_sources: true,
        ..Walk::default()
    };
    assert_eq!(query::shortest_path(&g, top, src, &hide), None);
    // Stopping at fixed outputs cuts the way to the fetcher.
    let fetcher = node(&g, "fetcher");
    assert!(query::shortest_path(&g, top, fetcher, &Walk::default()).is_some());
    let stop = Walk {
        stop_at_fixed: true,
        ..Walk::default()
    };
    assert_eq!(query::shortest_path(&g, top, fetcher, &stop), None);
}

#[test]
fn paths_to_targets_go_up_the_dependents() {
    let g = diamond();
    let (top, left, bottom) = (node(&g, "top"), node(&g, "left"), node(&g, "bottom"));
    let (tarball, fetcher) = (node(&g, "thing-1.0.tar.gz"), node(&g, "fetcher"));
    let to_bottom = query::PathsTo::tree(&g, &[bottom], &Walk::default());
    // As long as the shortest path from `top`, and through the smaller id
    // (`left`, tag 11) first.
    let path = to_bottom.path_from(top).unwrap();
    assert_eq!(
        path,
        query::shortest_path(&g, top, bottom, &Walk::default()).unwrap()
    );
    assert_eq!(path, [top, left, bottom]);
    assert_eq!(to_bottom.path_from(bottom).unwrap(), [bottom]);
    assert_eq!(to_bottom.path_from(tarball), None);
    // Two targets are one end; between two as near, the first given.
    let either = query::PathsTo::tree(&g, &[bottom, tarball], &Walk::default());
    assert_eq!(either.path_from(left).unwrap(), [left, bottom]);
    // Stopping at fixed-output derivations: nothing goes up through the
    // tarball to `fetcher`'s dependents.
    let stop = Walk {
        stop_at_fixed: true,
        ..Walk::default()
    };
    let to_fetcher = query::PathsTo::tree(&g, &[fetcher], &stop);
    assert_eq!(to_fetcher.path_from(top), None);
    assert!(
        query::PathsTo::tree(&g, &[fetcher], &Walk::default())
            .path_from(top)
            .is_some()
    );
}

#[test]
fn dependents_and_covering_set() {
    let g = diamond();
    let bottom = node(&g, "bottom");
    let d = query::dependents(&g, &[bottom]);
    assert!(!d.packages_only);
    let names: Vec<&str> = d.all.iter().map(|&n| g.label(n)).collect();
    assert_eq!(names.len(), 3);
    assert!(
        names.contains(&"left-2.0") && names.contains(&"right-3.1") && names.contains(&"top-1.0")
    );
    assert_eq!(d.covering, vec![node(&g, "top")]);
    let top = node(&g, "top");
    assert!(query::dependents(&g, &[top]).all.is_empty());
    assert_eq!(query::reverse_closure(&g, &[node(&g, "fetcher")]).len(), 3);
}

#[test]
fn closure_summary_counts_kinds() {
    let g = diamond();
    let s = query::closure_summary(&g, &[node(&g, "top")], &Walk::default());
    assert_eq!(s.derivations.len(), 6);
    assert_eq!(s.fixed_output.len(), 1);
    assert_eq!(s.sources.len(), 1);
    assert!(s.missing.is_empty());
    assert_eq!(s.sized, 0);
}

#[test]
fn cycles_are_rejected_with_the_cycle_named() {
    let a = sp(20, "a-1.0.drv");
    let b = sp(21, "b-1.0.drv");
    let c = sp(22, "c-1.0.drv");
    let mut da = drv(20, "a-1.0", &[(&b, &["out"])], &[]);
    da.path = a.clone();
    let db = drv(21, "b-1.0", &[(&c, &["out"])], &[]);
    let dc = drv(22, "c-1.0", &[(&a, &["out"])], &[]);
    let err = build_graph(StoreDir::default(), vec![da, db, dc]).unwrap_err();
    let GraphError::Cycle(cycle) = &err else {
        panic!("expected a cycle, got {err}");
    };
    assert_eq!(cycle.len(), 4, "{err}");
    assert_eq!(cycle.first(), cycle.last());
    assert!(err.to_string().contains("cycle"));
    // A self-loop too.
    let s = drv(30, "self-1.0", &[(&sp(30, "self-1.0.drv"), &["out"])], &[]);
    assert!(matches!(
        build_graph(StoreDir::default(), vec![s]),
        Err(GraphError::Cycle(_))
    ));
}

#[test]
fn duplicates_and_missing_inputs() {
    let a = drv(40, "a-1.0", &[], &[]);
    assert!(matches!(
        build_graph(StoreDir::default(), vec![a.clone(), a]),
        Err(GraphError::Duplicate(_))
    ));
    let gone = sp(41, "gone-1.0.drv");
    let b = drv(42, "b-1.0", &[(&gone, &["out"])], &[]);
    let g = build_graph(StoreDir::default(), vec![b]).unwrap();
    assert_eq!(g.kind(g.lookup(&gone).unwrap()), NodeKind::Missing);
    assert!(g.derivation(g.lookup(&gone).unwrap()).is_none());
}

#[test]
fn name_resolution() {
    let v1 = drv(50, "tool-1.9", &[], &[]);
    let v2 = drv(51, "tool-1.10", &[], &[]);
    let v3 = drv(52, "tool-2.0-checkout", &[], &[]);
    let twin_a = drv(53, "twin-1.0", &[], &[]);
    let twin_b = drv(54, "twin-1.0", &[], &[]);
    let g = build_graph(
        StoreDir::default(),
        vec![v1.clone(), v2.clone(), v3, twin_a, twin_b],
    )
    .unwrap();
    // Newest version wins; checkouts only when nothing else matches.
    assert_eq!(g.path(node(&g, "tool")), v2.path);
    assert_eq!(g.path(node(&g, "tool@1.9")), v1.path);
    assert_eq!(g.path(node(&g, "tool@1")), v2.path);
    assert!(matches!(
        resolve(&g, "tool@1.1"),
        Err(ResolveError::NoMatchingVersion { .. })
    ));
    assert_eq!(g.label(node(&g, "tool@2")), "tool-2.0-checkout");
    // Paths and base names.
    let full = g.store_dir().display(&v1.path);
    assert_eq!(g.path(node(&g, &full)), v1.path);
    assert_eq!(g.path(node(&g, &v1.path.to_string())), v1.path);
    // Output paths, also with a file inside.
    let out = g.store_dir().display(&sp(1050, "tool-1.9"));
    assert_eq!(g.path(node(&g, &out)), v1.path);
    assert_eq!(g.path(node(&g, &format!("{out}/bin/tool"))), v1.path);
    assert!(matches!(
        resolve(&g, &g.store_dir().display(&sp(999, "nothing"))),
        Err(ResolveError::NotInGraph(_))
    ));
    // Ambiguity lists the candidates.
    match resolve(&g, "twin") {
        Err(ResolveError::Ambiguous { candidates, .. }) => assert_eq!(candidates.len(), 2),
        other => panic!("expected ambiguity, got {other:?}"),
    }
    // Unknown names suggest near ones.
    match resolve(&g, "tol") {
        Err(ResolveError::Unknown { suggestions, .. }) => {
            assert_eq!(suggestions.first().map(String::as_str), Some("tool"))
        }
        other => panic!("expected unknown, got {other:?}"),
    }
}

#[test]
fn package_table_drives_resolution_and_dependents() {
    let mut g = diamond();
    let table = abovo_graph::PackageTable::new(vec![
        abovo_graph::Package {
            name: "the-top".into(),
            version: "1.0".into(),
            derivation: sp(13, "top-1.0.drv"),
            module: "m.scm".into(),
        },
        abovo_graph::Package {
            name: "the-right".into(),
            version: "3.1".into(),
            derivation: sp(12, "right-3.1.drv"),
            module: "m.scm".into(),
        },
    ]);
    g.set_packages(table);
    assert_eq!(g.label(node(&g, "the-top")), "top-1.0");
    // Names the table lacks still resolve through derivation names.
    assert_eq!(g.label(node(&g, "left")), "left-2.0");
    let d = query::dependents(&g, &[node(&g, "bottom")]);
    assert!(d.packages_only);
    assert_eq!(d.all.len(), 2, "left is not a package");
    assert_eq!(d.covering, vec![node(&g, "the-top")]);
}

#[test]
fn fixed_output_facts() {
    let g = diamond();
    let t = g.derivation(node(&g, "thing-1.0.tar.gz")).unwrap();
    assert!(t.is_fixed_output());
    assert_eq!(t.builtin(), Some("download"));
    assert_eq!(t.env("url"), Some("https://example.org/thing-1.0.tar.gz"));
    assert_eq!(t.output_path("out"), Some(sp(1003, "thing-1.0.tar.gz")));
    let (n, out) = g.lookup_output(&sp(1003, "thing-1.0.tar.gz")).unwrap();
    assert_eq!((n, out), (t.node(), "out"));
}

#[test]
fn snapshots_round_trip_and_reject_corruption() {
    let g = diamond();
    let bytes = abovo_graph::snapshot::write(
        &g,
        &abovo_graph::snapshot::WriteOptions {
            level: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let h = abovo_graph::snapshot::read(&bytes).unwrap();
    assert_eq!(h.len(), g.len());
    assert_eq!(h.edge_count(), g.edge_count());
    for n in g.nodes() {
        assert_eq!(g.path(n), h.path(n));
        assert_eq!(g.kind(n), h.kind(n));
        assert_eq!(g.inputs(n), h.inputs(n));
        let eo: Vec<Vec<&str>> = g.input_edges(n).map(|e| e.outputs().collect()).collect();
        let ho: Vec<Vec<&str>> = h.input_edges(n).map(|e| e.outputs().collect()).collect();
        assert_eq!(eo, ho);
        match (g.derivation(n), h.derivation(n)) {
            (Some(a), Some(b)) => {
                assert_eq!(a.fixed_output(), b.fixed_output());
                assert_eq!(
                    a.outputs().collect::<Vec<_>>(),
                    b.outputs().collect::<Vec<_>>()
                );
                assert_eq!(
                    a.env_vars().collect::<Vec<_>>(),
                    b.env_vars().collect::<Vec<_>>()
                );
                assert_eq!(a.builder(), b.builder());
                assert_eq!(a.system(), b.system());
            }
            (None, None) => {}
            _ => panic!("derivation mismatch at {}", g.display_path(n)),
        }
    }
    let info = abovo_graph::snapshot::info(&bytes).unwrap();
    assert_eq!(info.derivations, 6);
    assert_eq!(info.fixed_output, 1);
    assert_eq!(info.edges, 8);
    // Any flipped byte is caught, by the checksum or the header checks.
    for at in [0, 9, 15, 30, 60, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        assert!(abovo_graph::snapshot::read(&bad).is_err(), "byte {at}");
    }
    assert!(abovo_graph::snapshot::read(&bytes[..bytes.len() - 3]).is_err());
    assert!(abovo_graph::snapshot::read(b"ABOVOSNP").is_err());
}

/// A trusted snapshot decodes its derivation facts and store metadata on
/// first use: the same graph; and a damaged section that is decoded late
/// reads as empty rather than panicking.
#[test]
fn trusted_snapshots_decode_derivations_on_first_use() {
    let g = diamond();
    let bytes = abovo_graph::snapshot::write(&g, &Default::default()).unwrap();
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let t = abovo_graph::snapshot::read_trusted(bytes).unwrap();
    // Edges and names are there before any derivation fact is asked for.
    let top = g.lookup(&g.path(node(&g, "top"))).unwrap();
    assert_eq!(t.inputs(top), g.inputs(top));
    assert_eq!(t.derivation_count(), g.derivation_count());
    for n in g.nodes() {
        assert_eq!(
            g.derivation(n).map(|d| (d.builder(), d.fixed_output())),
            t.derivation(n).map(|d| (d.builder(), d.fixed_output()))
        );
    }
    assert_eq!(t.topological_order(), g.topological_order());

    // Section 3 (derivations) starts after the header, the section table
    // and sections 0 to 2.
    let len = |i: usize| {
        let at = 56 + 8 * i;
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
    };
    let start = 56 + 8 * 11 + len(0) + len(1) + len(2);
    let mut damaged = bytes.to_vec();
    for b in &mut damaged[start + 4..start + len(3)] {
        *b ^= 0x5a;
    }
    let damaged: &'static [u8] = Box::leak(damaged.into_boxed_slice());
    let d = abovo_graph::snapshot::read_trusted(damaged).unwrap();
    assert_eq!(d.len(), g.len());
    // Counted from the node kinds until decoded, then from what decoded.
    assert_eq!(d.derivation_count(), g.derivation_count());
    assert_eq!(d.derivations().len(), 0);
    assert_eq!(d.derivation_count(), 0);
    assert!(d.nodes().all(|n| d.derivation(n).is_none()));
    assert!(
        abovo_graph::snapshot::read(damaged).is_err(),
        "the checked reader refuses it"
    );
}

/// Nix's kinds whose output paths are known only after a build are read
/// from the `.drv` text and kept by a snapshot; Guix's stay as they were
/// (their snapshot tag is unchanged).
#[test]
fn output_kinds_of_nix_s_derivations_survive_a_snapshot() {
    use abovo_store::derivation::{Derivation, DerivationKind};
    let store = StoreDir::new("/nix/store").unwrap();
    let placeholder = abovo_store::derivation::output::hash_placeholder("out");
    let texts = [
        (
            "floating",
            format!(
                r#"Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],[("out","{placeholder}")])"#
            ),
            DerivationKind::Floating,
        ),
        (
            "impure",
            format!(
                r#"Derive([("out","","r:sha256","impure")],[],[],"x86_64-linux","/bin/sh",[],[("out","{placeholder}")])"#
            ),
            DerivationKind::Impure,
        ),
        (
            "deferred",
            r#"Derive([("out","","","")],[],[],"x86_64-linux","/bin/sh",[],[("out","")])"#
                .to_owned(),
            DerivationKind::Deferred,
        ),
        (
            "ia",
            r#"Derive([("out","/nix/store/00000000000000000000000000000009-ia","","")],[],[],"x86_64-linux","/bin/sh",[],[("out","/nix/store/00000000000000000000000000000009-ia")])"#
                .to_owned(),
            DerivationKind::InputAddressed,
        ),
    ];
    let mut records = Vec::new();
    for (i, (name, text, _)) in texts.iter().enumerate() {
        let path = sp(i as u32 + 1, &format!("{name}.drv"));
        let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
        let borrowed =
            abovo_store::derivation::DerivationRef::parse(&store, text.as_bytes()).unwrap();
        let owned = DrvRecord::new(path.clone(), drv).unwrap();
        assert_eq!(
            DrvRecord::from_ref(path, &borrowed).unwrap(),
            owned,
            "{name}"
        );
        records.push(owned);
    }
    let mut fixed = fod(9, "thing.tar.gz", &[]);
    fixed.kind = DerivationKind::InputAddressed; // the pinned hash decides
    records.push(fixed);
    let g = build_graph(store, records).unwrap();
    let bytes = abovo_graph::snapshot::write(&g, &Default::default()).unwrap();
    let h = abovo_graph::snapshot::read(&bytes).unwrap();
    for graph in [&g, &h] {
        for (i, (name, _, kind)) in texts.iter().enumerate() {
            let d = graph
                .derivation(
                    graph
                        .lookup(&sp(i as u32 + 1, &format!("{name}.drv")))
                        .unwrap(),
                )
                .unwrap();
            assert_eq!(d.kind(), *kind, "{name}");
            assert_eq!(d.is_impure(), *name == "impure");
            assert!(!d.is_fixed_output());
        }
        let t = graph
            .derivation(graph.lookup(&sp(9, "thing.tar.gz.drv")).unwrap())
            .unwrap();
        assert_eq!(t.kind(), DerivationKind::Fixed);
    }
}

/// The output names of a graph's edges, asked as a whole, are those its
/// edges give one by one.
#[test]
fn edge_output_names_are_those_of_the_edges() {
    let g = diamond();
    let mut by_edge: Vec<&str> = g
        .nodes()
        .flat_map(|n| g.inputs(n).iter().map(move |&m| (n, m)))
        .flat_map(|(n, m)| g.edge(n, m).unwrap().outputs().collect::<Vec<_>>())
        .collect();
    by_edge.sort_unstable();
    by_edge.dedup();
    let mut all: Vec<&str> = g.edge_output_names().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, by_edge);
    assert_eq!(all, ["lib", "out"]);
}
