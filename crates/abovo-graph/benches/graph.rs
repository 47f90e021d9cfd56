//! Criterion benchmarks of abovo-graph: parsing, loading, verifying and
//! querying the real Guix 1.5.0 graph.
//!
//! Run with `ABOVO_GUIX_CORPUS=../shared/data/guix-1.5.0 cargo bench -p
//! abovo-graph` (the corpus benchmarks are skipped, with a note, without
//! it; the snapshot and query benchmarks use the built-in snapshot in
//! `data/`). Like the `abovo` binary, the benchmarks use mimalloc.

use abovo_graph::Graph;
use abovo_graph::load::{DrvFile, LoadOptions, Silent, graph_of_files, read_tarball};
use abovo_graph::query::{self, Walk};
use abovo_graph::resolve::resolve;
use abovo_store::StoreDir;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn snapshot_bytes() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/guix-1.5.0.abovo-snapshot");
    std::fs::read(path).expect("the built-in snapshot in data/")
}

fn corpus_files() -> Option<Vec<DrvFile>> {
    let dir = std::env::var_os("ABOVO_GUIX_CORPUS").filter(|v| !v.is_empty())?;
    let dir = std::path::PathBuf::from(dir);
    Some(read_tarball(&dir.join("drvs.tar.zst"), &Silent).expect("corpus tarball"))
}

/// Guards loading from `.drv` files held in memory (all 71,817 of the
/// corpus). The parser's own throughput is guarded by `abovo-store`'s
/// `aterm` bench.
fn parse_corpus(c: &mut Criterion, files: &[DrvFile]) {
    let store = StoreDir::default();
    let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
    let mut g = c.benchmark_group("corpus");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(bytes as u64));
    // Guards what graph loading does per file: `abovo-store`'s zero-copy
    // reader (`DerivationRef`) reduced to a graph record (`parse_record`).
    g.bench_function("scan all .drv for the graph (one core)", |b| {
        b.iter(|| {
            for f in files {
                black_box(
                    abovo_graph::load::parse_record(&store, &f.name, &f.bytes).expect("parses"),
                );
            }
        })
    });
    // Guards graph building from parsed files (the in-memory part of
    // loading a store directory: parallel parse, numbering, adjacency,
    // topological order).
    g.bench_function("graph from in-memory .drv files", |b| {
        b.iter_batched(
            || files.to_vec(),
            |files| graph_of_files(files, LoadOptions::new(&store, &Silent)).expect("graph"),
            BatchSize::PerIteration,
        )
    });
    // Guards `abovo verify --all` minus file reading: parse, round trip,
    // .drv paths, memoised derivation hashes and every output path.
    g.bench_function("verify all .drv (in memory)", |b| {
        b.iter_batched(
            || files.to_vec(),
            |files| {
                let r = abovo_graph::verify::verify_files(&store, files, &Silent);
                assert!(r.is_clean());
                r
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Guards loading the whole corpus graph from the built-in snapshot
/// (issue 3: at most 0.3 s): fully checked; trusted, as the binary reads
/// its built-in snapshot before a `path` or `graph` query (derivation facts
/// and store metadata left for first use); and trusted with those decoded
/// too, as `closure` or `seeds` need them.
fn load_snapshot(c: &mut Criterion) {
    // The trusted reader keeps the static sections it decodes later.
    let bytes: &'static [u8] = Box::leak(snapshot_bytes().into_boxed_slice());
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("read (checked)", |b| {
        b.iter(|| abovo_graph::snapshot::read(bytes).expect("reads"))
    });
    g.bench_function("read trusted (built-in)", |b| {
        b.iter(|| abovo_graph::snapshot::read_trusted(bytes).expect("reads"))
    });
    g.bench_function("read trusted, then every section", |b| {
        b.iter(|| {
            let graph = abovo_graph::snapshot::read_trusted(bytes).expect("reads");
            black_box((graph.derivations().len(), graph.meta().sized()));
            graph
        })
    });
    // The in-place form, as the binary opens its cached copy: mapped, the
    // sections every query reads checked (checksums and ids) and borrowed.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("in-place.abovo-snapshot");
    let graph = abovo_graph::snapshot::read(bytes).expect("reads");
    let opts = abovo_graph::snapshot::WriteOptions::default();
    std::fs::write(&path, abovo_graph::snapshot::write_in_place(&graph, &opts))
        .expect("writes the in-place form");
    g.bench_function("open in place (mapped)", |b| {
        b.iter(|| abovo_graph::snapshot::open(&path).expect("opens"))
    });
    g.bench_function("open in place, then every section", |b| {
        b.iter(|| {
            let graph = abovo_graph::snapshot::open(&path).expect("opens");
            black_box((graph.derivations().len(), graph.meta().sized()));
            black_box((
                graph.package_graph().len(),
                graph.package_meta().get(0).is_some(),
            ));
            graph
        })
    });
    g.finish();
}

/// Guards single queries on the loaded full graph (issue 3: each at most
/// 20 ms).
fn queries(c: &mut Criterion, graph: &Graph) {
    let walk = Walk::default();
    let hello = resolve(graph, "hello").expect("hello");
    let seed = resolve(graph, "guile-bootstrap").expect("guile-bootstrap");
    let torch = resolve(graph, "python-pytorch").expect("python-pytorch");
    let ghc = resolve(graph, "ghc@7.10").expect("ghc@7.10");
    let _ = graph.dependents(hello); // build the reverse adjacency once
    let _ = graph.topological_order();
    let mut g = c.benchmark_group("query");
    g.bench_function("resolve hello", |b| {
        b.iter(|| resolve(graph, black_box("hello")))
    });
    g.bench_function("path hello -> guile-bootstrap", |b| {
        b.iter(|| query::shortest_path(graph, hello, seed, &walk))
    });
    g.bench_function("all shortest paths hello -> guile-bootstrap", |b| {
        b.iter(|| query::all_shortest_paths(graph, hello, seed, &walk, 100))
    });
    g.bench_function("graph python-pytorch", |b| {
        b.iter(|| query::subgraph(graph, &[torch], &walk))
    });
    g.bench_function("closure summary python-pytorch", |b| {
        b.iter(|| query::closure_summary(graph, &[torch], &walk))
    });
    g.bench_function("dependents ghc@7.10", |b| {
        b.iter(|| query::dependents(graph, &[ghc]))
    });
    g.bench_function("dependents guile-bootstrap (most of the graph)", |b| {
        b.iter(|| query::dependents(graph, &[seed]))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    load_snapshot(c);
    let graph = abovo_graph::snapshot::read(&snapshot_bytes()).expect("built-in snapshot");
    queries(c, &graph);
    match corpus_files() {
        Some(files) => parse_corpus(c, &files),
        None => eprintln!("skipped the corpus benchmarks: ABOVO_GUIX_CORPUS is not set"),
    }
}

criterion_group!(graph_benches, benches);
criterion_main!(graph_benches);
