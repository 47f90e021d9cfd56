//! One-core parse throughput over the corpus: `cargo run --release -p
//! abovo-graph --example parse_speed -- DIR|TARBALL [borrowed|owned|record|full]`
//! (all four readers by default; one of them, repeated, for profiling).
use abovo_graph::load::{Silent, SourceKind, detect, read_directory, read_tarball};
use abovo_store::derivation::{Derivation, DerivationRef};
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
    let mut args = std::env::args().skip(1);
    let path =
        std::path::PathBuf::from(args.next().ok_or("usage: parse_speed DIR|TARBALL [MODE]")?);
    let only = args.next();
    let files = match detect(&path)? {
        SourceKind::Directory => read_directory(&path, &Silent)?,
        _ => read_tarball(&path, &Silent)?,
    };
    let total: usize = files.iter().map(|f| f.bytes.len()).sum();
    let store = abovo_store::StoreDir::default();
    let mb = total as f64 / 1e6;
    println!("{} files, {mb:.1} MB", files.len());
    let time = |label: &str, run: &dyn Fn() -> Result<(), Box<dyn std::error::Error>>| {
        if only.as_deref().is_some_and(|o| o != label) {
            return Ok::<(), Box<dyn std::error::Error>>(());
        }
        let rounds = if only.is_some() { 5 } else { 1 };
        for _ in 0..rounds {
            let (t, c) = (Instant::now(), cpu());
            run()?;
            let (e, c) = (t.elapsed().as_secs_f64(), cpu() - c);
            println!(
                "{label:>9}: wall {e:.3}s ({:.0} MB/s), cpu {c:.3}s ({:.0} MB/s)",
                mb / e,
                mb / c
            );
        }
        Ok(())
    };
    time("borrowed", &|| {
        for f in &files {
            std::hint::black_box(DerivationRef::parse(&store, &f.bytes)?);
        }
        Ok(())
    })?;
    time("owned", &|| {
        for f in &files {
            std::hint::black_box(Derivation::parse(&store, &f.bytes)?);
        }
        Ok(())
    })?;
    time("record", &|| {
        for f in &files {
            std::hint::black_box(abovo_graph::load::parse_record(&store, &f.name, &f.bytes)?);
        }
        Ok(())
    })?;
    time("full", &|| {
        for f in &files {
            std::hint::black_box(abovo_graph::load::parse_record_full(
                &store, &f.name, &f.bytes,
            )?);
        }
        Ok(())
    })?;
    Ok(())
}
