//! The package graphs on the real Guix 1.5.0 data (`ABOVO_GUIX_CORPUS`):
//! the node and edge sets of `guix graph --type package` and `--type
//! bag-emerged`, checked against walks of the corpus's edge tables that
//! this file does itself (its own reading of the TSV files, not abovo's),
//! the path from R's Seurat to Pandoc, the metadata of `guix show`, and a
//! snapshot round trip of all of it. When the variable is unset, each test
//! prints one line saying it was skipped.
#![allow(clippy::unwrap_used)]

use abovo_graph::Graph;
use abovo_graph::load::{LoadOptions, Silent};
use abovo_graph::package_graph::{GraphType, PackageId, Visibility};
use abovo_graph::query::{self, Walk};
use abovo_store::StoreDir;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::OnceLock;

macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => None,
    }
}

fn skip(test: &str) {
    report!("skipped {test}: ABOVO_GUIX_CORPUS is not set");
}

/// The corpus folder's graph, with every table beside it, loaded once.
fn corpus_graph() -> Option<&'static Graph> {
    static GRAPH: OnceLock<Option<Graph>> = OnceLock::new();
    GRAPH
        .get_or_init(|| {
            let dir = corpus()?;
            let store = StoreDir::default();
            Some(abovo_graph::load::load(&dir, LoadOptions::new(&store, &Silent)).unwrap())
        })
        .as_ref()
}

/// The rows of an edge table, read here with nothing of abovo's: each
/// row's nine fields.
fn rows(file: &str) -> Vec<Vec<String>> {
    let path = corpus().unwrap().join(file);
    let bytes = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    bytes
        .lines()
        .map(|l| l.unwrap().split('\t').map(str::to_owned).collect())
        .collect()
}

/// The nodes and edges (by `.drv` path) that a walk of the table's rows
/// reaches from `root`, leaving out inputs that are not packages, as
/// `guix graph` does.
fn walk_rows(rows: &[Vec<String>], root: &str) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut inputs: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in rows {
        let status = r[8].split(',').next().unwrap();
        if ["origin", "file-like", "file"].contains(&status) {
            continue;
        }
        inputs.entry(&r[1]).or_default().push(&r[3]);
    }
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

/// The same sets from abovo's package graph.
fn abovo_sets(
    g: &Graph,
    ty: GraphType,
    root: PackageId,
) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let view = g.package_view(ty).unwrap();
    let sub = query::subgraph(&view, &[root], &Walk::default());
    let path = |p| view.display_drv_path(p);
    (
        sub.nodes.iter().map(|&p| path(p)).collect(),
        sub.edges.iter().map(|&(a, b)| (path(a), path(b))).collect(),
    )
}

fn package(g: &Graph, name: &str) -> PackageId {
    let drv = abovo_graph::resolve::resolve(g, name).unwrap();
    g.package_graph().by_drv(drv).unwrap()
}

#[test]
fn package_and_bag_emerged_graphs_equal_walks_of_the_edge_tables() {
    let Some(g) = corpus_graph() else {
        return skip("package_and_bag_emerged_graphs_equal_walks_of_the_edge_tables");
    };
    let mut counts = Vec::new();
    for (ty, file) in [
        (GraphType::Package, "package-edges.tsv.zst"),
        (GraphType::BagEmerged, "bag-emerged-edges.tsv.zst"),
    ] {
        let table = rows(file);
        for name in ["hello", "pandoc", "r-seurat", "python-pytorch"] {
            let root = package(g, name);
            let drv = g.package_graph().display_drv_path(g, root);
            let want = walk_rows(&table, &drv);
            let got = abovo_sets(g, ty, root);
            assert_eq!(got.0, want.0, "{} nodes of {name}", ty.name());
            assert_eq!(got.1, want.1, "{} edges of {name}", ty.name());
            counts.push(format!(
                "{name} {}: {}/{}",
                ty.name(),
                got.0.len(),
                got.1.len()
            ));
        }
    }
    // GNU Hello takes no package as an explicit input: its `package` graph
    // is itself alone; with the implicit inputs it reaches the bootstrap.
    assert!(
        counts.contains(&"hello package: 1/0".to_owned()),
        "{counts:?}"
    );
    // Guix's own r-seurat graph has 1,748 nodes, four of them package
    // objects that share a derivation with another (see the data's
    // README): 1,744 by derivation.
    assert!(
        counts
            .iter()
            .any(|c| c.starts_with("r-seurat package: 1744/")),
        "{counts:?}"
    );
    report!(
        "package graphs equal walks of the edge tables: {}",
        counts.join(", ")
    );
}

#[test]
fn seurat_reaches_pandoc_through_two_packages() {
    let Some(g) = corpus_graph() else {
        return skip("seurat_reaches_pandoc_through_two_packages");
    };
    let view = g.package_view(GraphType::Package).unwrap();
    let (seurat, pandoc) = (package(g, "r-seurat"), package(g, "pandoc"));
    let all = query::all_shortest_paths(&view, seurat, pandoc, &Walk::default(), 100);
    let names: HashSet<Vec<String>> = all
        .iter()
        .map(|p| {
            p.iter()
                .map(|&n| view.packages().name(n).to_owned())
                .collect()
        })
        .collect();
    let want: HashSet<Vec<String>> = [
        ["r-seurat", "r-reticulate", "r-rmarkdown", "pandoc"],
        ["r-seurat", "r-rspectra", "r-rmarkdown", "pandoc"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(names, want);
    // The derivation graph flattens the propagated inputs: one edge.
    let (a, b) = (
        abovo_graph::resolve::resolve(g, "r-seurat").unwrap(),
        abovo_graph::resolve::resolve(g, "pandoc").unwrap(),
    );
    assert_eq!(
        query::shortest_path(g, a, b, &Walk::default())
            .unwrap()
            .len(),
        2
    );
    // How each step is taken.
    let first = &all[0];
    let uses: Vec<String> = view
        .uses(first[2], first[3])
        .map(|u| format!("{} {} {}", u.kind.name(), u.label, u.output))
        .collect();
    assert_eq!(uses, ["propagated-input pandoc out"]);
    report!(
        "r-seurat reaches pandoc through {} shortest package paths of 3 edges",
        all.len()
    );
}

#[test]
fn metadata_statuses_and_dependents_on_the_corpus() {
    let Some(g) = corpus_graph() else {
        return skip("metadata_statuses_and_dependents_on_the_corpus");
    };
    let table = g.packages();
    let row = (0..table.len())
        .find(|&i| table.rows()[i].name == "guile-bootstrap")
        .unwrap();
    let info = g.package_meta().get(row).unwrap();
    assert_eq!(info.synopsis(), "Bootstrap Guile");
    assert_eq!(info.location(), "gnu/packages/bootstrap.scm:596:3");
    assert_eq!(info.licenses().collect::<Vec<_>>(), ["LGPL 3+"]);
    assert!(info.systems().any(|s| s == "x86_64-linux"));
    let superseded = (0..table.len())
        .filter(|&i| g.package_meta().get(i).unwrap().superseded_by().is_some())
        .count();
    assert_eq!(superseded, 215);
    assert_eq!(
        (0..table.len())
            .filter(|&i| g.package_meta().get(i).is_some())
            .count(),
        30_574
    );
    // Statuses: the bootstrap packages are private, some hidden.
    let pg = g.package_graph();
    let by_visibility = |v| pg.ids().filter(|&p| pg.status(p).visibility == v).count();
    assert!(by_visibility(Visibility::Private) > 500);
    assert!(by_visibility(Visibility::Hidden) > 100);
    let stage0 = pg.ids().find(|&p| pg.name(p) == "stage0-posix").unwrap();
    assert_eq!(pg.status(stage0).visibility, Visibility::Private);
    // `guix refresh -l ghc@7.10.3` walks the bag graph: every package
    // that builds with that GHC, public or not.
    let view = g.package_view(GraphType::BagEmerged).unwrap();
    let ghc = package(g, "ghc@7.10");
    let d = query::dependents_where(&view, &[ghc], true, |_| true);
    let public = d
        .all
        .iter()
        .filter(|&&p| pg.status(p).visibility == Visibility::Public)
        .count();
    // The derivation graph counts the same public packages.
    let drv_level = query::dependents(g, &[pg.drv(ghc).unwrap()]);
    assert_eq!(public, drv_level.all.len());
    report!(
        "guile-bootstrap metadata, {superseded} superseded packages; ghc@7.10 has {} bag-emerged \
         dependents ({public} public)",
        d.all.len()
    );
}

#[test]
fn package_data_survives_a_snapshot_round_trip() {
    let Some(g) = corpus_graph() else {
        return skip("package_data_survives_a_snapshot_round_trip");
    };
    let bytes = abovo_graph::snapshot::write(
        g,
        &abovo_graph::snapshot::WriteOptions {
            level: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let checked = abovo_graph::snapshot::read(&bytes).unwrap();
    let trusted = abovo_graph::snapshot::read_trusted(Box::leak(bytes.into_boxed_slice())).unwrap();
    for h in [&checked, &trusted] {
        same_packages(g, h);
    }
    // The built-in snapshot carries the same, as the binary reads it.
    let built_in = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/guix-1.5.0.abovo-snapshot");
    let data = std::fs::read(&built_in).unwrap();
    same_packages(g, &abovo_graph::snapshot::read(&data).unwrap());
    same_packages(
        g,
        &abovo_graph::snapshot::read_trusted(Box::leak(data.into_boxed_slice())).unwrap(),
    );
    report!(
        "package nodes, both edge sets and metadata survive a snapshot round trip, \
         and the built-in snapshot carries them"
    );
}

/// Node by node and edge by edge, the package-level data of `a` and `b`
/// are the same.
pub fn same_packages(a: &Graph, b: &Graph) {
    let (x, y) = (a.package_graph(), b.package_graph());
    assert_eq!(x.len(), y.len());
    for p in x.ids() {
        assert_eq!(x.full_name(p), y.full_name(p));
        assert_eq!(x.status(p), y.status(p));
        assert_eq!(x.display_drv_path(a, p), y.display_drv_path(b, p));
    }
    for ty in GraphType::ALL {
        let (v, w) = (a.package_view(ty).unwrap(), b.package_view(ty).unwrap());
        assert_eq!(v.edge_count(), w.edge_count());
        for p in x.ids() {
            use abovo_graph::dag::Dag;
            assert_eq!(v.inputs(p), w.inputs(p));
            for &q in v.inputs(p) {
                assert!(v.uses(p, q).eq(w.uses(p, q)));
            }
        }
    }
    for i in 0..a.packages().len() {
        let (m, n) = (a.package_meta().get(i), b.package_meta().get(i));
        assert_eq!(m.is_some(), n.is_some());
        if let (Some(m), Some(n)) = (m, n) {
            assert_eq!(
                (m.location(), m.home_page(), m.synopsis(), m.description()),
                (n.location(), n.home_page(), n.synopsis(), n.description())
            );
            assert!(m.licenses().eq(n.licenses()) && m.systems().eq(n.systems()));
            assert_eq!(
                (m.hidden(), m.superseded_by()),
                (n.hidden(), n.superseded_by())
            );
        }
    }
}
