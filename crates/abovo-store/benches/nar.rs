//! NAR benchmarks. What each one guards:
//!
//! * `nar/hash_tree` — NAR hash and size of a tree on disk ([`nar::hash_path`]):
//!   the cost of registering a build output or checking a store item. The
//!   issue's bar: at least 80% of `sha256sum`'s speed over the same bytes.
//! * `nar/hash_and_scan_tree` — the same pass with reference scanning for
//!   1,000 candidate hashes ([`references::hash_and_scan_path`]), as the
//!   builder runs it after every build.
//! * `nar/read` — strict parsing of an in-memory NAR ([`nar::validate`]): the
//!   cost of checking a downloaded substitute before unpacking it.
//! * `nar/write_tree_to_memory` — serialising an in-memory tree.
//!
//! The default tree is generated in a temporary directory: 48 MiB in 4 large
//! files plus 2,000 small files (1–16 KiB) in 40 directories, with
//! incompressible pseudo-random contents.
//!
//! # The 1 GB measurement against `sha256sum`
//!
//! ```sh
//! export ABOVO_NAR_BENCH_TREE=/tmp/abovo-nar-bench   # created on first run (~1 GiB)
//! cargo bench -p abovo-store --bench nar -- nar/hash_tree_large
//! # the reference, over the same bytes, page cache warm:
//! time (find $ABOVO_NAR_BENCH_TREE -type f -print0 | sort -z | xargs -0 cat | sha256sum)
//! ```

use abovo_store::nar::{self, Tree};
use abovo_store::references::{self, ReferenceScanner};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Deterministic, incompressible bytes (xorshift64*).
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Builds a tree of `large` files of `large_size` bytes and `small` files of
/// 1–16 KiB spread over 40 directories. Returns the total file bytes.
fn make_tree(root: &Path, large: usize, large_size: usize, small: usize) -> u64 {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut total = 0u64;
    std::fs::create_dir_all(root).expect("create the bench tree");
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..large {
        let mut f = std::fs::File::create(root.join(format!("large-{i}.bin"))).expect("create");
        let mut left = large_size;
        while left > 0 {
            let n = left.min(buf.len());
            noise.fill(&mut buf[..n]);
            f.write_all(&buf[..n]).expect("write");
            left -= n;
        }
        total += large_size as u64;
    }
    for i in 0..small {
        let dir = root.join(format!("dir-{:02}", i % 40));
        std::fs::create_dir_all(&dir).expect("create dir");
        let size = 1024 + (i * 7919) % (15 * 1024);
        noise.fill(&mut buf[..size]);
        std::fs::write(dir.join(format!("file-{i}")), &buf[..size]).expect("write");
        total += size as u64;
    }
    total
}

fn tree_bytes(root: &Path) -> u64 {
    walk(root)
}

fn walk(p: &Path) -> u64 {
    let meta = std::fs::symlink_metadata(p).expect("lstat");
    if meta.is_dir() {
        std::fs::read_dir(p)
            .expect("list")
            .map(|e| walk(&e.expect("entry").path()))
            .sum()
    } else {
        meta.len()
    }
}

fn candidates() -> Vec<[u8; 32]> {
    let alphabet = b"0123456789abcdfghijklmnpqrsvwxyz";
    let mut noise = Noise(42);
    (0..1000)
        .map(|_| {
            let mut raw = [0u8; 32];
            noise.fill(&mut raw);
            raw.map(|b| alphabet[(b % 32) as usize])
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("tree");
    let bytes = make_tree(&root, 4, 12 << 20, 2000);
    let nar_size = nar::hash_path(&root).expect("hash").size;

    let mut g = c.benchmark_group("nar");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(nar_size));
    g.bench_function("hash_tree", |b| {
        b.iter(|| black_box(nar::hash_path(&root).expect("hash")))
    });
    let cands = candidates();
    g.bench_function("hash_and_scan_tree", |b| {
        b.iter(|| {
            let scanner = ReferenceScanner::new(cands.iter().copied());
            black_box(references::hash_and_scan_path(&root, scanner).expect("scan"))
        })
    });
    let mut nar_bytes = Vec::with_capacity(nar_size as usize);
    nar::dump_path(&root, &mut nar_bytes).expect("dump");
    g.bench_function("read", |b| {
        b.iter(|| black_box(nar::validate(&nar_bytes[..]).expect("valid")))
    });
    let tree = Tree::from_nar(&nar_bytes).expect("tree");
    g.bench_function("write_tree_to_memory", |b| {
        let mut out = Vec::with_capacity(nar_bytes.len());
        b.iter(|| {
            out.clear();
            nar::write_tree(&tree, &mut out).expect("write");
            black_box(out.len())
        })
    });
    g.finish();
    drop(nar_bytes);
    let _ = bytes;

    if let Some(dir) = std::env::var_os("ABOVO_NAR_BENCH_TREE") {
        let big = Path::new(&dir);
        if !big.exists() {
            // 14 × 64 MiB + 20,000 small files ≈ 1.05 GiB.
            make_tree(big, 14, 64 << 20, 20_000);
        }
        let total = tree_bytes(big);
        let mut g = c.benchmark_group("nar");
        g.sample_size(10).measurement_time(Duration::from_secs(20));
        g.throughput(Throughput::Bytes(total));
        g.bench_function("hash_tree_large", |b| {
            b.iter(|| black_box(nar::hash_path(big).expect("hash")))
        });
        g.finish();
    }
}

criterion_group!(nar_benches, benches);
criterion_main!(nar_benches);
