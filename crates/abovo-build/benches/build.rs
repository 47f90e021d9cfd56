//! What one build costs abovo, beyond the builder's own work.
//!
//! * `trivial_derivation`: a derivation whose builder is `busybox sh -c
//!   'echo x > $out'`, built from scratch each iteration. The time is
//!   abovo's overhead per derivation: locks, build directory and chroot,
//!   the helper process and its namespaces, the builder's exec, log,
//!   teardown, canonicalisation, the NAR hash and reference scan, and the
//!   registration transaction. Guards issue 5's budget of 50 ms.
//! * `independent_derivations_20`: twenty such derivations with `jobs` =
//!   the number of cores; guards the scheduler and the shared database
//!   against serialising parallel builds.
//! * `check_local` and `check_foreign`: `--check` of a trivial derivation
//!   that is built already, the first in its own store (opening it, the
//!   rebuild, the comparison), the second against that store taken as
//!   another daemon's, read only (opening its database, creating the
//!   scratch store, checking that the derivation can be checked, the
//!   rebuild with the inputs bound from the other store, the comparison,
//!   deleting the scratch store). Guards issue 10's budget: a check against
//!   a foreign store costs no more than a local one.
//!
//! Needs `/bin/busybox` (Debian's busybox-static); without it the benches
//! say so and measure nothing. The bench program is its own sandbox helper
//! (run as `build __sandbox-helper`), as the `abovo` binary is.

use abovo_build::build::{BuildOptions, Builder, NoReporter};
use abovo_build::foreign::ForeignStore;
use abovo_build::foreign::check::ForeignCheck;
use abovo_build::sandbox::{self, HelperCommand};
use abovo_build::store::add::AddMethod;
use abovo_build::{LocalStore, StoreConfig};
use abovo_store::derivation::{Derivation, Output};
use abovo_store::{StoreDir, StorePath};
use criterion::{BatchSize, Criterion, criterion_group};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

struct Bench {
    _dir: tempfile::TempDir,
    store: LocalStore,
    busybox: StorePath,
}

fn setup() -> Option<Bench> {
    if !std::path::Path::new("/bin/busybox").exists() {
        eprintln!("build benches: skipped: /bin/busybox is missing");
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("abovo-bench-")
        .tempdir_in("/tmp")
        .ok()?;
    let store_dir = StoreDir::new(dir.path().join("store").to_str()?).ok()?;
    let store = LocalStore::open(StoreConfig::new(store_dir, None)).ok()?;
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).ok()?;
    std::fs::copy("/bin/busybox", seed.join("busybox")).ok()?;
    let busybox = store
        .add_path(&seed, AddMethod::Recursive, Some("busybox-static"))
        .ok()?;
    Some(Bench {
        _dir: dir,
        store,
        busybox,
    })
}

static SALT: AtomicU64 = AtomicU64::new(0);

fn trivial(b: &Bench) -> StorePath {
    let n = SALT.fetch_add(1, Ordering::Relaxed);
    let bb = format!("{}/busybox", b.store.display(&b.busybox));
    let drv = Derivation {
        outputs: BTreeMap::from([("out".to_owned(), Output::default())]),
        input_sources: [b.busybox.clone()].into(),
        system: "x86_64-linux".into(),
        builder: bb.clone(),
        arguments: vec![
            b"sh".to_vec(),
            b"-c".to_vec(),
            format!("echo {n} > $out").into_bytes(),
        ],
        ..Derivation::default()
    };
    let mut drv = drv;
    b.store
        .add_derivation(&mut drv, &format!("trivial-{n}"))
        .unwrap_or_else(|e| panic!("cannot add a derivation: {e}"))
}

/// Options of a bench build; build directories go to the bench's own
/// temporary directory, not the shared `/tmp`.
fn options(b: &Bench) -> BuildOptions {
    let mut opts = BuildOptions::new(HelperCommand::reexec(HELPER));
    opts.tmp_dir = b._dir.path().to_owned();
    opts
}

fn benches(c: &mut Criterion) {
    let Some(b) = setup() else {
        return;
    };
    let mut group = c.benchmark_group("build");
    group.sample_size(30);
    group.bench_function("trivial_derivation", |bench| {
        let builder = Builder::new(&b.store, options(&b), &NoReporter);
        bench.iter_batched(
            || trivial(&b),
            |drv| {
                let r = builder.build(&[drv]).expect("plan");
                assert!(r.success(), "{:?}", r.results);
            },
            BatchSize::PerIteration,
        );
    });
    group.sample_size(10);
    group.bench_function("independent_derivations_20", |bench| {
        let builder = Builder::new(&b.store, options(&b), &NoReporter);
        bench.iter_batched(
            || (0..20).map(|_| trivial(&b)).collect::<Vec<_>>(),
            |drvs| {
                let r = builder.build(&drvs).expect("plan");
                assert!(r.success());
            },
            BatchSize::PerIteration,
        );
    });
    group.sample_size(30);
    let built = trivial(&b);
    let r = Builder::new(&b.store, options(&b), &NoReporter)
        .build(std::slice::from_ref(&built))
        .expect("plan");
    assert!(r.success());
    let mut check = options(&b);
    check.check = true;
    group.bench_function("check_local", |bench| {
        bench.iter(|| {
            let store = LocalStore::open_existing(b.store.config().clone()).expect("store");
            let r = Builder::new(&store, check.clone(), &NoReporter)
                .build(std::slice::from_ref(&built))
                .expect("plan");
            assert!(r.success(), "{:?}", r.results);
        });
    });
    let database = b.store.state_dir().join("db/db.sqlite");
    group.bench_function("check_foreign", |bench| {
        bench.iter(|| {
            let foreign =
                ForeignStore::open(b.store.real_dir(), &database, None).expect("foreign store");
            let scratch = ForeignCheck::new(foreign, b._dir.path()).expect("scratch store");
            scratch
                .prepare(std::slice::from_ref(&built))
                .expect("checkable");
            let r = Builder::new(scratch.store(), check.clone(), &NoReporter)
                .build(std::slice::from_ref(&built))
                .expect("plan");
            assert!(r.success(), "{:?}", r.results);
        });
    });
    group.finish();
}

/// The hidden argument that makes this program the sandbox helper.
const HELPER: &str = "__sandbox-helper";

criterion_group!(build, benches);

fn main() {
    if std::env::args().nth(1).as_deref() == Some(HELPER) {
        sandbox::helper::main();
    }
    build();
    Criterion::default().configure_from_args().final_summary();
}
