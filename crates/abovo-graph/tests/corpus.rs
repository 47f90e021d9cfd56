//! Corpus-wide acceptance tests on the real Guix data.
//!
//! `ABOVO_GUIX_CORPUS` names the Guix 1.5.0 corpus folder (`drvs.tar.zst`,
//! `packages.tsv.zst`, `store-meta.tsv.zst`), `ABOVO_GUIX_SLICE` the Guix
//! 1.2.0 slice. When unset, each test prints one line saying it was skipped.
#![allow(clippy::unwrap_used)]

/// Prints a line that `cargo test` does not capture: the counts a corpus test
/// checked (or why it was skipped) belong in every CI log.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use abovo_graph::load::{LoadOptions, Silent, read_tarball};
use abovo_graph::query::{self, Walk};
use abovo_graph::resolve::resolve;
use abovo_graph::{Graph, NodeKind};
use abovo_store::StoreDir;
use std::path::PathBuf;
use std::sync::OnceLock;

fn folder(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => None,
    }
}

fn skip(test: &str, var: &str) {
    report!("skipped {test}: {var} is not set");
}

/// The graph of a corpus folder, with what the folder holds besides the
/// `.drv` files.
fn load_folder(dir: &std::path::Path) -> Graph {
    let store = StoreDir::default();
    let opts = LoadOptions::new(&store, &Silent);
    abovo_graph::load::load(dir, opts).unwrap()
}

/// The corpus graph with its package table and store metadata, loaded once.
fn corpus_graph() -> Option<&'static Graph> {
    static GRAPH: OnceLock<Option<Graph>> = OnceLock::new();
    GRAPH
        .get_or_init(|| {
            let dir = folder("ABOVO_GUIX_CORPUS")?;
            Some(load_folder(&dir))
        })
        .as_ref()
}

#[test]
fn every_drv_round_trips_and_every_path_recomputes() {
    let Some(dir) = folder("ABOVO_GUIX_CORPUS") else {
        return skip(
            "every_drv_round_trips_and_every_path_recomputes",
            "ABOVO_GUIX_CORPUS",
        );
    };
    let files = read_tarball(&dir.join("drvs.tar.zst"), &Silent).unwrap();
    let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
    let report = abovo_graph::verify::verify_files(&StoreDir::default(), files, &Silent);
    for m in report.mismatches.iter().take(10) {
        report!(
            "{}: {}: recomputed {} recorded {}",
            m.drv,
            m.what,
            m.recomputed,
            m.recorded
        );
    }
    for u in report.unparsable.iter().take(10) {
        report!("unparsable {}: {}", u.drv, u.error);
    }
    for u in report.unchecked.iter().take(10) {
        report!("unchecked {}: {}", u.drv, u.reason);
    }
    assert!(
        report.is_clean(),
        "{} mismatches, {} unparsable, {} unchecked",
        report.mismatches.len(),
        report.unparsable.len(),
        report.unchecked.len()
    );
    assert_eq!(report.files, 71_817);
    assert_eq!(report.parsed, 71_817);
    assert_eq!(report.round_trips, 71_817);
    assert_eq!(report.drv_paths, 71_817);
    assert_eq!(report.fixed_outputs, 35_359);
    assert_eq!(report.outputs, 77_981);
    report!(
        "checked {} .drv files ({bytes} bytes): {} byte-exact round trips, {} .drv paths, {} output paths ({} fixed, {} input-addressed) in {} waves",
        report.files,
        report.round_trips,
        report.drv_paths,
        report.outputs,
        report.fixed_outputs,
        report.outputs - report.fixed_outputs,
        report.waves
    );
}

#[test]
fn borrowed_and_owned_reductions_give_the_same_records() {
    let Some(dir) = folder("ABOVO_GUIX_CORPUS") else {
        return skip(
            "borrowed_and_owned_reductions_give_the_same_records",
            "ABOVO_GUIX_CORPUS",
        );
    };
    let store = StoreDir::default();
    let files = read_tarball(&dir.join("drvs.tar.zst"), &Silent).unwrap();
    use rayon::prelude::*;
    let differing: Vec<&str> = files
        .par_iter()
        .filter(|f| {
            let fast = abovo_graph::load::parse_record(&store, &f.name, &f.bytes).unwrap();
            let full = abovo_graph::load::parse_record_full(&store, &f.name, &f.bytes).unwrap();
            fast != full
        })
        .map(|f| f.name.as_str())
        .collect();
    assert!(
        differing.is_empty(),
        "{} differ, e.g. {:?}",
        differing.len(),
        differing.first()
    );
    report!(
        "graph records from DerivationRef equal those from the owned Derivation for all {} files",
        files.len()
    );
}

#[test]
fn graphs_match_guix_derivation_graphs() {
    let Some(g) = corpus_graph() else {
        return skip("graphs_match_guix_derivation_graphs", "ABOVO_GUIX_CORPUS");
    };
    assert_eq!(g.derivation_count(), 71_817);
    assert_eq!(g.len(), 71_817 + 37_945);
    assert_eq!(g.packages().len(), 30_574);
    assert_eq!(g.packages().unmatched(), 0);
    assert_eq!(g.meta().sized(), g.len(), "every node has a store-meta row");
    // guix graph -t derivation: hello 401 nodes / 2,755 edges; python-pytorch
    // 4,063 / 42,473 (the reference figures); pandoc as measured here
    // (the sets themselves are checked against a walk of the .drv files in
    // graph_sets_equal_a_walk_of_the_drv_files).
    for (name, nodes, edges) in [
        ("hello", 401, 2_755),
        ("python-pytorch", 4_063, 42_473),
        ("pandoc", 1_971, 18_317),
    ] {
        let n = resolve(g, name).unwrap();
        let sub = query::subgraph(g, &[n], &Walk::default());
        report!(
            "{name}: {} nodes, {} edges",
            sub.nodes.len(),
            sub.edges.len()
        );
        assert_eq!((sub.nodes.len(), sub.edges.len()), (nodes, edges), "{name}");
        // Every edge of the subgraph is an edge of the graph, and every
        // input of every derivation in it is in it.
        for &(a, b) in &sub.edges {
            assert!(g.edge(a, b).is_some());
        }
        for &x in &sub.nodes {
            for &y in g.inputs(x) {
                assert!(sub.nodes.binary_search(&y).is_ok());
            }
        }
    }
    let hello = g.derivation(resolve(g, "hello").unwrap()).unwrap();
    assert_eq!(hello.name(), "hello-2.12.2");
    assert_eq!(g.label(resolve(g, "hello@2.12").unwrap()), "hello-2.12.2");
}

/// `guix graph -t derivation` as its definition reads, computed without the
/// graph: start at the target's `.drv` file, parse it, and follow every
/// input derivation (an edge, then its file) and every input source (an
/// edge to a leaf). The node and edge sets, as store base names, must be
/// exactly those `abovo graph` answers from the loaded graph, which builds
/// its dense ids, interned names and adjacency arrays on its own.
#[test]
fn graph_sets_equal_a_walk_of_the_drv_files() {
    use abovo_store::derivation::Derivation;
    use std::collections::{BTreeSet, HashMap, VecDeque};
    let (Some(g), Some(dir)) = (corpus_graph(), folder("ABOVO_GUIX_CORPUS")) else {
        return skip(
            "graph_sets_equal_a_walk_of_the_drv_files",
            "ABOVO_GUIX_CORPUS",
        );
    };
    let store = StoreDir::default();
    let files: HashMap<String, Vec<u8>> = read_tarball(&dir.join("drvs.tar.zst"), &Silent)
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.bytes))
        .collect();
    for name in ["hello", "python-pytorch", "pandoc"] {
        let root = resolve(g, name).unwrap();
        let sub = query::subgraph(g, &[root], &Walk::default());
        let from_graph_nodes: BTreeSet<String> =
            sub.nodes.iter().map(|&n| g.base_name(n)).collect();
        let from_graph_edges: BTreeSet<(String, String)> = sub
            .edges
            .iter()
            .map(|&(a, b)| (g.base_name(a), g.base_name(b)))
            .collect();

        let mut nodes = BTreeSet::from([g.base_name(root)]);
        let mut edges = BTreeSet::new();
        let mut queue = VecDeque::from([g.base_name(root)]);
        while let Some(drv) = queue.pop_front() {
            let d = Derivation::parse(&store, &files[&drv]).unwrap();
            let inputs = d.input_derivations.keys().chain(&d.input_sources);
            for input in inputs {
                let input = input.to_string();
                edges.insert((drv.clone(), input.clone()));
                if nodes.insert(input.clone()) && input.ends_with(".drv") {
                    queue.push_back(input);
                }
            }
        }
        assert_eq!(from_graph_nodes, nodes, "{name}: node sets");
        assert_eq!(from_graph_edges, edges, "{name}: edge sets");
        report!(
            "{name}: abovo graph's {} nodes and {} edges equal a walk of the .drv files",
            nodes.len(),
            edges.len()
        );
    }
}

/// `guix refresh -l` as its definition reads, computed without the graph:
/// the dependents of ghc@7.10 are the packages (rows of `packages.tsv`)
/// from which the .drv files lead to it; the ones to build are those that no
/// other package depends on. Both lists must be exactly `abovo dependents`'s.
#[test]
fn dependents_equal_a_reverse_walk_of_the_drv_files() {
    use abovo_store::derivation::Derivation;
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::io::BufRead;
    let (Some(g), Some(dir)) = (corpus_graph(), folder("ABOVO_GUIX_CORPUS")) else {
        return skip(
            "dependents_equal_a_reverse_walk_of_the_drv_files",
            "ABOVO_GUIX_CORPUS",
        );
    };
    let store = StoreDir::default();
    // input .drv -> the .drv files that use it.
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for f in read_tarball(&dir.join("drvs.tar.zst"), &Silent).unwrap() {
        let d = Derivation::parse(&store, &f.bytes).unwrap();
        for input in d.input_derivations.keys() {
            users
                .entry(input.to_string())
                .or_default()
                .push(f.name.clone());
        }
    }
    let table = std::fs::File::open(dir.join("packages.tsv.zst")).unwrap();
    let packages: HashSet<String> = std::io::BufReader::new(zstd::Decoder::new(table).unwrap())
        .lines()
        .skip(1)
        .map(|l| {
            let l = l.unwrap();
            let path = l.split('\t').nth(2).unwrap().to_owned();
            path.rsplit('/').next().unwrap().to_owned()
        })
        .collect();
    // Everything above a .drv, itself excluded.
    let above = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.to_owned()];
        while let Some(x) = stack.pop() {
            for u in users.get(&x).into_iter().flatten() {
                if seen.insert(u.clone()) {
                    stack.push(u.clone());
                }
            }
        }
        seen
    };

    let ghc = resolve(g, "ghc@7.10").unwrap();
    let d = query::dependents(g, &[ghc]);
    let abovo_all: BTreeSet<String> = d.all.iter().map(|&n| g.base_name(n)).collect();
    let abovo_covering: BTreeSet<String> = d.covering.iter().map(|&n| g.base_name(n)).collect();

    let all: BTreeSet<String> = above(&g.base_name(ghc))
        .into_iter()
        .filter(|x| packages.contains(x))
        .collect();
    // A package to build: no package above it (stop at the first one).
    let package_above = |start: &str| -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![start.to_owned()];
        while let Some(x) = stack.pop() {
            for u in users.get(&x).into_iter().flatten() {
                if packages.contains(u) {
                    return true;
                }
                if seen.insert(u.clone()) {
                    stack.push(u.clone());
                }
            }
        }
        false
    };
    let covering: BTreeSet<String> = all.iter().filter(|x| !package_above(x)).cloned().collect();
    assert_eq!(abovo_all, all, "dependent packages");
    assert_eq!(abovo_covering, covering, "packages to build");
    report!(
        "ghc@7.10: abovo's {} dependent packages and {} to build equal a reverse walk of the .drv files",
        all.len(),
        covering.len()
    );
}

#[test]
fn paths_closures_and_dependents_on_the_corpus() {
    let Some(g) = corpus_graph() else {
        return skip(
            "paths_closures_and_dependents_on_the_corpus",
            "ABOVO_GUIX_CORPUS",
        );
    };
    let hello = resolve(g, "hello").unwrap();
    let seed = resolve(g, "guile-bootstrap").unwrap();
    let walk = Walk::default();
    let path = query::shortest_path(g, hello, seed, &walk).unwrap();
    assert_eq!(path.first(), Some(&hello));
    assert_eq!(path.last(), Some(&seed));
    for w in path.windows(2) {
        assert!(g.edge(w[0], w[1]).is_some());
    }
    // No shorter path exists: the BFS depth of the seed equals the length.
    let depth1 = query::subgraph(
        g,
        &[hello],
        &Walk {
            max_depth: Some(path.len() as u32 - 2),
            ..walk
        },
    );
    assert!(depth1.nodes.binary_search(&seed).is_err());
    let all = query::all_shortest_paths(g, hello, seed, &walk, 1000);
    assert!(all.contains(&path));
    assert!(all.iter().all(|p| p.len() == path.len()));
    assert_eq!(
        all[0], path,
        "the first of all shortest paths is the shortest path"
    );
    assert_eq!(query::shortest_path(g, seed, hello, &walk), None);
    report!(
        "hello -> guile-bootstrap: {} edges, {} shortest paths",
        path.len() - 1,
        all.len()
    );

    // The closure counts add up, and sizes come from the store metadata.
    let s = query::closure_summary(g, &[hello], &walk);
    assert_eq!(s.nodes.len(), 401);
    assert_eq!(s.derivations.len() + s.sources.len(), 401);
    assert!(s.missing.is_empty());
    assert_eq!(s.sized, 401);
    assert!(s.known_size > 0);
    let stop = query::closure_summary(
        g,
        &[hello],
        &Walk {
            stop_at_fixed: true,
            ..walk
        },
    );
    assert!(stop.nodes.len() < s.nodes.len());

    // Dependents: every dependent reaches the target; the covering set is
    // exactly the dependents no other dependent depends on.
    let ghc = resolve(g, "ghc@7.10").unwrap();
    let d = query::dependents(g, &[ghc]);
    assert!(d.packages_only);
    assert!(d.all.len() > 1000, "{} dependents", d.all.len());
    for &x in d.all.iter().step_by(97) {
        assert!(query::shortest_path(g, x, ghc, &walk).is_some());
    }
    let covered = query::closure(g, &d.covering, &walk);
    for &x in &d.all {
        assert!(
            covered.binary_search(&x).is_ok(),
            "covering set misses {}",
            g.display_path(x)
        );
    }
    for &c in d.covering.iter().step_by(53) {
        let above = query::reverse_closure(g, &[c]);
        assert!(!above.iter().any(|&y| y != c && g.packages().is_package(y)));
    }
    report!(
        "ghc@7.10: building {} packages rebuilds {} dependent packages",
        d.covering.len(),
        d.all.len()
    );
}

#[test]
fn snapshot_round_trip_and_built_in_snapshot_match_the_corpus() {
    let Some(g) = corpus_graph() else {
        return skip(
            "snapshot_round_trip_and_built_in_snapshot_match_the_corpus",
            "ABOVO_GUIX_CORPUS",
        );
    };
    let bytes = abovo_graph::snapshot::write(
        g,
        &abovo_graph::snapshot::WriteOptions {
            level: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let h = abovo_graph::snapshot::read(&bytes).unwrap();
    assert_same(g, &h, true);
    let built_in = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/guix-1.5.0.abovo-snapshot");
    let data = std::fs::read(&built_in).unwrap();
    assert!(
        data.len() < 16_000_000,
        "built-in snapshot is {} bytes",
        data.len()
    );
    let b = abovo_graph::snapshot::read(&data).unwrap();
    assert_same(g, &b, false);
    // As the binary reads it: trusted, derivations and metadata decoded on
    // first use.
    let t =
        abovo_graph::snapshot::read_trusted(Box::leak(data.clone().into_boxed_slice())).unwrap();
    assert_same(g, &t, false);
    report!(
        "snapshot: {} bytes (level 3), built-in {} bytes; both equal the corpus graph",
        bytes.len(),
        data.len()
    );
}

/// Node by node and edge by edge, `a` and `b` hold the same graph.
fn assert_same(a: &Graph, b: &Graph, nar_hashes: bool) {
    assert_eq!(a.len(), b.len());
    assert_eq!(a.edge_count(), b.edge_count());
    for n in a.nodes() {
        assert_eq!(a.hash_part(n), b.hash_part(n));
        assert_eq!(a.name(n), b.name(n));
        assert_eq!(a.kind(n), b.kind(n));
        assert_eq!(a.inputs(n), b.inputs(n));
        assert_eq!(a.nar_size(n), b.nar_size(n));
        if nar_hashes {
            assert_eq!(a.meta().nar_hash(n), b.meta().nar_hash(n));
        }
        for (x, y) in a.input_edges(n).zip(b.input_edges(n)) {
            assert!(x.outputs().eq(y.outputs()));
        }
        if let (Some(x), Some(y)) = (a.derivation(n), b.derivation(n)) {
            assert!(x.outputs().eq(y.outputs()), "{}", a.display_path(n));
            assert!(x.env_vars().eq(y.env_vars()));
            assert_eq!(x.fixed_output(), y.fixed_output());
            // Guix's kinds (input-addressed, fixed) have tag bits of 0, as
            // before Nix's kinds had bits: the built-in bytes are unchanged.
            assert_eq!(x.kind(), y.kind());
            assert_eq!((x.builder(), x.system()), (y.builder(), y.system()));
        } else {
            assert!(a.derivation(n).is_none() && b.derivation(n).is_none());
        }
    }
    assert_eq!(a.packages().rows(), b.packages().rows());
    for i in 0..a.packages().len() {
        assert_eq!(a.packages().node(i), b.packages().node(i));
    }
}

#[test]
fn fixed_output_facts_on_the_corpus() {
    let Some(g) = corpus_graph() else {
        return skip("fixed_output_facts_on_the_corpus", "ABOVO_GUIX_CORPUS");
    };
    let (mut download, mut git, mut other) = (0, 0, 0);
    for d in g.derivations().filter(|d| d.is_fixed_output()) {
        match d.builtin() {
            Some("download") => {
                download += 1;
                assert!(d.env("url").is_some_and(|u| !u.is_empty()));
            }
            Some("git-download") => {
                git += 1;
                assert!(d.env("url").is_some() && d.env("commit").is_some());
            }
            _ => other += 1,
        }
        // The output path leads back to a fixed-output derivation promising
        // the same content (several may fetch the same file).
        let out = d.output_path("out").unwrap();
        let (n, o) = g.lookup_output(&out).unwrap();
        assert_eq!(o, "out");
        let other = g.derivation(n).unwrap();
        assert!(n <= d.node());
        assert_eq!(other.fixed_output(), d.fixed_output());
        assert_eq!(other.fixed_output_path(), Some(out));
    }
    assert_eq!((download, git), (18_806, 11_894));
    assert_eq!(download + git + other, 35_359);
    // Output paths resolve to their derivation, also with a file inside.
    let hello = g.derivation(resolve(g, "hello").unwrap()).unwrap();
    let out = g.store_dir().display(&hello.output_path("out").unwrap());
    assert_eq!(
        resolve(g, &format!("{out}/bin/hello")).unwrap(),
        hello.node()
    );
    assert!(g.nodes().all(|n| g.kind(n) != NodeKind::Missing));
}

#[test]
fn guix_1_2_slice_verifies_and_loads() {
    let Some(dir) = folder("ABOVO_GUIX_SLICE") else {
        return skip("guix_1_2_slice_verifies_and_loads", "ABOVO_GUIX_SLICE");
    };
    let files = read_tarball(&dir.join("drvs.tar.zst"), &Silent).unwrap();
    let report = abovo_graph::verify::verify_files(&StoreDir::default(), files, &Silent);
    assert!(report.is_clean(), "{:?}", report.mismatches.first());
    assert_eq!(report.files, 3_605);
    let g = load_folder(&dir);
    assert_eq!(g.derivation_count(), 3_605);
    assert_eq!(g.label(resolve(&g, "hello").unwrap()), "hello-2.10");
    let hello = resolve(&g, "hello").unwrap();
    let sub = query::subgraph(&g, &[hello], &Walk::default());
    report!(
        "Guix 1.2.0 slice: {} .drv files verified ({} output paths); hello 2.10 graph: {} nodes, {} edges",
        report.files,
        report.outputs,
        sub.nodes.len(),
        sub.edges.len()
    );
}
