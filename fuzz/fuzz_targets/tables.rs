//! The tables that come with a corpus (`--packages`, `--meta`, a corpus
//! folder, `snapshot create`): `packages.tsv`, `store-meta.tsv`,
//! `package-edges.tsv` and `bag-emerged-edges.tsv`, plain or zstd, read for
//! a graph of two real derivations (GNU Hello and its source tarball). The
//! first byte picks the table. Never a panic; what is read is consistent
//! with the graph (a package row's node is its derivation, every
//! reference is a node); and a snapshot of the graph keeps all of it.
#![no_main]
use abovo_graph::load::{DrvFile, LoadOptions, Silent, graph_of_files};
use abovo_graph::package_graph::GraphType;
use abovo_graph::{Graph, PackageTable, StoreMeta};
use abovo_store::StoreDir;
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

const HELLO: (&str, &[u8]) = (
    "2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv",
    include_bytes!(
        "../../crates/abovo-store/benches/data/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv"
    ),
);
const HELLO_TARBALL: (&str, &[u8]) = (
    "w6bkxpsp34j667d04z7n1jiksd86dfjc-hello-2.12.2.tar.gz.drv",
    include_bytes!(
        "../../crates/abovo-store/benches/data/w6bkxpsp34j667d04z7n1jiksd86dfjc-hello-2.12.2.tar.gz.drv"
    ),
);

fn graph(store: &StoreDir) -> Graph {
    let files = [HELLO, HELLO_TARBALL]
        .iter()
        .map(|(name, bytes)| DrvFile {
            name: (*name).into(),
            bytes: bytes.to_vec(),
        })
        .collect();
    graph_of_files(files, LoadOptions::new(store, &Silent)).expect("Hello's graph loads")
}

/// The counts a snapshot must keep.
fn counts(g: &Graph) -> (usize, usize, usize, Option<usize>, Option<usize>) {
    let edges = |ty| {
        let p = g.package_graph();
        p.has(ty).then(|| p.edge_count(ty))
    };
    (
        g.packages().len(),
        g.meta().sized(),
        g.package_graph().len(),
        edges(GraphType::Package),
        edges(GraphType::BagEmerged),
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    // The readers take a file, as the command line gives them.
    let path = std::env::temp_dir().join(format!("abovo-fuzz-table-{}.tsv", std::process::id()));
    std::fs::write(&path, rest).expect("write the input");
    let store = StoreDir::default();
    let mut g = graph(&store);
    match pick % 4 {
        0 => {
            let Ok(table) = PackageTable::read(&path, &store) else {
                return;
            };
            g.set_packages(table);
            let table = g.packages();
            for (i, row) in table.rows().iter().enumerate() {
                if let Some(n) = table.node(i) {
                    assert_eq!(g.path(n), row.derivation);
                }
            }
        }
        1 => {
            let Ok(meta) = StoreMeta::read(&path, &g) else {
                return;
            };
            assert!(meta.sized() <= g.len());
            for n in g.nodes() {
                assert!(meta.references(n).iter().all(|r| r.index() < g.len()));
            }
            g.set_meta(meta);
        }
        p => {
            let (edges, bag) = if p == 2 {
                (Some(path.as_path()), None)
            } else {
                (None, Some(path.as_path()))
            };
            let Ok(packages) = abovo_graph::package_graph::read(&g, edges, bag) else {
                return;
            };
            g.set_package_graph(packages);
        }
    }
    let (_, again) = common::snapshot_round_trip(&g);
    assert_eq!(counts(&again), counts(&g), "the snapshot lost table rows");
});
