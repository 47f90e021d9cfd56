//! Loading a derivation graph from a source given on the command line
//! (`abovo graph --source X.tar.zst`, `snapshot create --from`, `audit
//! --against`): the bytes are a stream that is detected (tar, zstd tar or
//! snapshot), its `.drv` members read within their limits, parsed, and
//! built into a graph. Never a panic; a graph that loads is acyclic, its
//! edges point at nodes, and its snapshot reads back to the same counts.
#![no_main]
use abovo_graph::Graph;
use abovo_graph::input::Input;
use abovo_graph::load::{LoadOptions, Silent, load_input};
use abovo_store::StoreDir;
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

fn counts(g: &Graph) -> (usize, usize, usize, usize) {
    let fixed = g.derivations().filter(|d| d.is_fixed_output()).count();
    (g.len(), g.edge_count(), g.derivation_count(), fixed)
}

fuzz_target!(|data: &[u8]| {
    let input = Input::Stream {
        path: "fuzz.tar.zst".into(),
        bytes: data.to_vec(),
    };
    let store = StoreDir::default();
    let Ok(g) = load_input(&input, LoadOptions::new(&store, &Silent)) else {
        return;
    };
    assert_eq!(
        g.topological_order().len(),
        g.len(),
        "a cycle or a lost node"
    );
    for n in g.nodes() {
        assert!(g.inputs(n).iter().all(|i| i.index() < g.len()));
    }
    let (_, again) = common::snapshot_round_trip(&g);
    assert_eq!(counts(&again), counts(&g));
});
