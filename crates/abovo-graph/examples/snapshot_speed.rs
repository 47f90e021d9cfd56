//! Time reading a snapshot and answering a path query in one process:
//! `cargo run --release -p abovo-graph --example snapshot_speed -- FILE`.
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: snapshot_speed FILE")?;
    let t = Instant::now();
    let bytes = std::fs::read(&path)?;
    println!("read file: {:?}", t.elapsed());
    for _ in 0..3 {
        let t = Instant::now();
        let g = abovo_graph::snapshot::read(&bytes)?;
        let t1 = t.elapsed();
        let a = abovo_graph::resolve::resolve(&g, "hello")?;
        let b = abovo_graph::resolve::resolve(&g, "guile-bootstrap")?;
        let t2 = t.elapsed();
        let p = abovo_graph::query::shortest_path(&g, a, b, &Default::default());
        let t3 = t.elapsed();
        let d = abovo_graph::query::dependents(&g, &[b]);
        let t4 = t.elapsed();
        println!(
            "read {t1:?}, resolve +{:?}, path +{:?} ({} nodes), dependents +{:?} ({} dependents)",
            t2 - t1,
            t3 - t2,
            p.map_or(0, |p| p.len()),
            t4 - t3,
            d.all.len()
        );
    }
    // The package-level sections, as the binary reads them: trusted, each
    // decoded on first use.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    for _ in 0..3 {
        let t = Instant::now();
        let g = abovo_graph::snapshot::read_trusted(bytes)?;
        let t1 = t.elapsed();
        let packages = g.package_graph().len();
        let t2 = t.elapsed();
        let rows = g.package_meta().get(0).is_some();
        let t3 = t.elapsed();
        println!(
            "read trusted {t1:?}, package graphs +{:?} ({packages} nodes), metadata +{:?} ({rows})",
            t2 - t1,
            t3 - t2
        );
    }
    Ok(())
}
