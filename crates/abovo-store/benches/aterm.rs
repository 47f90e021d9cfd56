//! ATerm benchmarks: reading `.drv` files and hashing derivations. What each
//! one guards:
//!
//! * `aterm/parse_borrowed` — [`DerivationRef::parse`], the one reader of
//!   the grammar, without copying: what graph loading and `abovo verify`
//!   run on every file. Issue 2's bar: at least 400 MB/s on one core over
//!   the corpus.
//! * `aterm/parse_owned` — [`Derivation::parse`]: the same reader, then a
//!   copy into owned maps (what `abovo show`, the builder and the JSON form
//!   use).
//! * `aterm/parse_and_hash_spliced` — read borrowed, then both derivation
//!   hashes spliced from the canonical bytes ([`DerivationRef::hashes`]):
//!   the per-derivation work of `abovo verify`.
//! * `aterm/parse_and_hash_written` — the same hashes the reference way:
//!   owned form, modulo texts written out ([`Derivation::hashes`]). Splicing
//!   exists because it beats this; the pair shows by how much.
//!
//! Inputs: every `.drv` of `$ABOVO_GUIX_CORPUS/drvs.tar.zst` when the
//! variable is set (read once, in the setup), else the sample files in
//! `benches/data/` (real Guix 1.5.0 derivations: GNU Hello, its source
//! tarball, a git checkout, python-pytorch). Input hashes are a constant:
//! the cost of hashing does not depend on their values.
//!
//! ```sh
//! ABOVO_GUIX_CORPUS=../shared/data/guix-1.5.0 cargo bench -p abovo-store --bench aterm
//! ```

use abovo_store::StoreDir;
use abovo_store::derivation::{Derivation, DerivationRef};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

/// The corpus, or the committed samples, and what they are called.
fn inputs() -> (String, Vec<Vec<u8>>) {
    if let Some(dir) = std::env::var_os("ABOVO_GUIX_CORPUS").filter(|v| !v.is_empty()) {
        let tarball = std::path::Path::new(&dir).join("drvs.tar.zst");
        let file = std::fs::File::open(&tarball).expect("drvs.tar.zst");
        let mut archive = tar::Archive::new(zstd::Decoder::new(file).expect("zstd"));
        let mut files = Vec::new();
        for entry in archive.entries().expect("tar") {
            let mut entry = entry.expect("tar entry");
            let is_drv = entry
                .path()
                .map(|p| p.extension().is_some_and(|e| e == "drv"))
                .unwrap_or(false);
            if is_drv && entry.header().entry_type().is_file() {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).expect("member");
                files.push(bytes);
            }
        }
        return (format!("corpus ({} files)", files.len()), files);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("benches/data")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("sample"))
        .collect();
    (format!("samples ({} files)", files.len()), files)
}

fn aterm(c: &mut Criterion) {
    let (what, files) = inputs();
    let bytes: usize = files.iter().map(Vec::len).sum();
    eprintln!("aterm benches over the {what}, {bytes} bytes");
    let store = StoreDir::default();
    let mut g = c.benchmark_group("aterm");
    g.throughput(Throughput::Bytes(bytes as u64));
    if bytes > 10_000_000 {
        g.sample_size(10).measurement_time(Duration::from_secs(15));
    }
    g.bench_function("parse_borrowed", |b| {
        b.iter(|| {
            for f in &files {
                black_box(DerivationRef::parse(&store, f).expect("parses"));
            }
        })
    });
    g.bench_function("parse_owned", |b| {
        b.iter(|| {
            for f in &files {
                black_box(Derivation::parse(&store, f).expect("parses"));
            }
        })
    });
    g.bench_function("parse_and_hash_spliced", |b| {
        b.iter(|| {
            for f in &files {
                let drv = DerivationRef::parse(&store, f).expect("parses");
                black_box(drv.hashes(&store, |_| Ok([7u8; 32])).expect("hashes"));
            }
        })
    });
    g.bench_function("parse_and_hash_written", |b| {
        b.iter(|| {
            for f in &files {
                let drv = Derivation::parse(&store, f).expect("parses");
                black_box(drv.hashes(&store, |_| Ok([7u8; 32])).expect("hashes"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, aterm);
criterion_main!(benches);
