//! One-core parse throughput over the corpus: `cargo run --release -p
//! abovo-graph --example parse_speed -- DIR|TARBALL`.
use abovo_graph::load::{Silent, SourceKind, detect, read_directory, read_tarball};
use std::time::Instant;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of this thread (immune to other processes on the machine).
fn cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: parse_speed DIR|TARBALL")?,
    );
    let files = match detect(&path)? {
        SourceKind::Directory => read_directory(&path, &Silent)?,
        _ => read_tarball(&path, &Silent)?,
    };
    let total: usize = files.iter().map(|f| f.bytes.len()).sum();
    let store = abovo_store::StoreDir::default();
    let mb = total as f64 / 1e6;
    let (t, c) = (Instant::now(), cpu());
    for f in &files {
        abovo_store::derivation::Derivation::parse(&store, &f.bytes)?;
    }
    let (e, c) = (t.elapsed().as_secs_f64(), cpu() - c);
    println!(
        "Derivation::parse: {} files, {mb:.1} MB: wall {e:.3}s ({:.0} MB/s), cpu {c:.3}s ({:.0} MB/s)",
        files.len(),
        mb / e,
        mb / c
    );
    let (t, c) = (Instant::now(), cpu());
    for f in &files {
        abovo_graph::load::parse_record(&store, &f.name, &f.bytes)?;
    }
    let (e, c) = (t.elapsed().as_secs_f64(), cpu() - c);
    println!(
        "parse_record: wall {e:.3}s ({:.0} MB/s), cpu {c:.3}s ({:.0} MB/s)",
        mb / e,
        mb / c
    );
    let (t, c) = (Instant::now(), cpu());
    for f in &files {
        abovo_graph::load::parse_record_full(&store, &f.name, &f.bytes)?;
    }
    let (e, c) = (t.elapsed().as_secs_f64(), cpu() - c);
    println!(
        "parse_record_full: wall {e:.3}s ({:.0} MB/s), cpu {c:.3}s ({:.0} MB/s)",
        mb / e,
        mb / c
    );
    Ok(())
}
