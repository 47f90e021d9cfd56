//! Benchmarks of the trust analysis.
//!
//! - `audit/all-packages` guards issue 4's budget: the whole-distribution
//!   audit (classification of every seed reached, per-node bitsets in
//!   topological order, counts, leaves, ranking, each package's seed ids,
//!   the unknown seeds) over every package of the Guix 1.5.0 corpus must
//!   stay well under 3 s on 2 cores (the graph is loaded once, outside the
//!   measurement).
//! - `seeds/hello` and `seeds/pandoc` guard `abovo seeds` on a loaded graph:
//!   one walk, classification and shortest paths for every seed.
//!
//! They need the corpus: set ABOVO_GUIX_CORPUS to the folder holding
//! drvs.tar.zst (as .ci/run does); without it they print one line and do
//! nothing. Run: `ABOVO_GUIX_CORPUS=../shared/data/guix-1.5.0 cargo bench -p abovo-trust`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_graph::query::Walk;
use abovo_trust::audit::{audit, table_packages};
use abovo_trust::classify::Seeds;
use abovo_trust::knowledge::KnowledgeBase;
use abovo_trust::report::trust_report;
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::PathBuf;

fn bench(c: &mut Criterion) {
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS").map(PathBuf::from) else {
        eprintln!("abovo-trust benches skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let store = abovo_store::StoreDir::default();
    let opts = abovo_graph::load::LoadOptions::new(&store, &abovo_graph::load::Silent);
    let g = abovo_graph::load::load(&corpus, opts).expect("the corpus loads");
    let mut seeds = Seeds::new(KnowledgeBase::built_in().expect("built-in knowledge base"));
    seeds.use_store = false;
    let packages = table_packages(&g);
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.bench_function("all-packages", |b| {
        b.iter(|| audit(&g, &packages, &seeds, &Walk::trust(false), 20).unwrap())
    });
    group.finish();
    let mut group = c.benchmark_group("seeds");
    for name in ["hello", "pandoc"] {
        let target = abovo_graph::resolve::resolve(&g, name).expect("target resolves");
        group.bench_function(name, |b| {
            b.iter(|| trust_report(&g, target, &seeds, &Walk::trust(false)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
