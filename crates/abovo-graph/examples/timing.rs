//! Whole-process timing of loading and querying: `cargo run --release -p
//! abovo-graph --example timing -- SOURCE [SNAPSHOT-OUT]`.
use abovo_graph::load::{LoadOptions, Silent, load};
use abovo_graph::query::{Walk, subgraph};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let store = abovo_store::StoreDir::default();
    let t = Instant::now();
    let g = load(
        std::path::Path::new(&args[1]),
        LoadOptions::new(&store, &Silent),
    )?;
    println!(
        "loaded {} nodes, {} edges, {} drvs in {:?}",
        g.len(),
        g.edge_count(),
        g.derivation_count(),
        t.elapsed()
    );
    for name in ["hello", "python-pytorch", "pandoc"] {
        let t = Instant::now();
        let n = abovo_graph::resolve::resolve(&g, name)?;
        let s = subgraph(&g, &[n], &Walk::default());
        println!(
            "{name}: {} nodes {} edges ({:?})",
            s.nodes.len(),
            s.edges.len(),
            t.elapsed()
        );
    }
    if let Some(out) = args.get(2) {
        let t = Instant::now();
        let bytes = abovo_graph::snapshot::write(&g, &Default::default())?;
        std::fs::write(out, &bytes)?;
        println!("snapshot {} bytes in {:?}", bytes.len(), t.elapsed());
        let t = Instant::now();
        let g2 = abovo_graph::snapshot::read(&bytes)?;
        println!("snapshot read {} nodes in {:?}", g2.len(), t.elapsed());
    }
    Ok(())
}
