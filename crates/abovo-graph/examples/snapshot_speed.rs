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
    // The in-place form, mapped (what the binary opens from its cache).
    let graph = abovo_graph::snapshot::read(bytes)?;
    let opts = abovo_graph::snapshot::WriteOptions::default();
    let path = std::env::temp_dir().join(format!("snapshot-speed-{}", std::process::id()));
    std::fs::write(&path, abovo_graph::snapshot::write_in_place(&graph, &opts))?;
    for _ in 0..3 {
        let t = Instant::now();
        let g = abovo_graph::snapshot::open(&path)?;
        let t1 = t.elapsed();
        let a = abovo_graph::resolve::resolve(&g, "hello")?;
        let b = abovo_graph::resolve::resolve(&g, "guile-bootstrap")?;
        let p = abovo_graph::query::shortest_path(&g, a, b, &Default::default());
        let t2 = t.elapsed();
        let d = abovo_graph::query::dependents(&g, &[b]);
        let t3 = t.elapsed();
        let drvs = g.derivations().len();
        let t4 = t.elapsed();
        let rest = (
            g.meta().sized(),
            g.package_graph().len(),
            g.package_meta().get(0).is_some(),
        );
        let t5 = t.elapsed();
        println!(
            "open in place {t1:?}, resolve + path +{:?} ({} nodes), dependents +{:?} ({}), \
             derivations +{:?} ({drvs}), the other sections +{:?} ({rest:?})",
            t2 - t1,
            p.map_or(0, |p| p.len()),
            t3 - t2,
            d.all.len(),
            t4 - t3,
            t5 - t4
        );
    }
    std::fs::remove_file(&path)?;
    Ok(())
}
