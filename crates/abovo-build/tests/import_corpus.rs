//! Importing Guix 1.5.0's real derivations (`ABOVO_GUIX_CORPUS`): every
//! one of the 71,817 `.drv` files checked as an import checks them, and
//! GNU Hello's whole closure written into a store and verified.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_build::foreign::import::{Importer, Target};
use abovo_build::foreign::place::Place;
use abovo_build::{LocalStore, StoreConfig};
use abovo_store::StoreDir;
use std::path::PathBuf;

fn corpus(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("{test}: skipped: ABOVO_GUIX_CORPUS is not set (.ci/run sets it)");
            None
        }
    }
}

/// Every `.drv` of the corpus as a target of one import: each path
/// recomputes from its bytes, each output from its content through its
/// inputs' hashes, and every input source is found in `sources.tar.zst`.
/// Then Hello's closure is written into a store whose paths name
/// `/gnu/store`: Guix's 401 items (228 derivations, 173 sources: builder
/// scripts as text items, module trees as recursive ones, patches and the
/// mirror lists as flat files), each checked against its path, and the
/// store verifies.
#[test]
fn the_whole_guix_corpus_imports() {
    let Some(dir) = corpus("the_whole_guix_corpus_imports") else {
        return;
    };
    let places = [
        Place::open(&dir.join("drvs.tar.zst")).unwrap(),
        Place::open(&dir.join("sources.tar.zst")).unwrap(),
    ];
    let store_dir = StoreDir::new("/gnu/store").unwrap();
    let targets: Vec<Target> = places[0]
        .derivation_names()
        .unwrap()
        .map(|n| Target::Named(n.to_owned()))
        .collect();
    assert_eq!(targets.len(), 71_817);
    let plan = Importer::new(&places, &store_dir, None)
        .plan(&targets)
        .unwrap();
    assert_eq!(plan.derivations().count(), 71_817);
    let sources = plan.sources().count();
    eprintln!("the_whole_guix_corpus_imports: 71817 derivations and {sources} sources check");
    assert_eq!(
        sources, 37_945,
        "every source of store-meta is an input source"
    );

    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(StoreConfig::with_real_dir(
        store_dir.clone(),
        tmp.path().join("store"),
        None,
    ))
    .unwrap();
    let hello = Target::Named("2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv".into());
    let plan = Importer::new(&places, &store_dir, Some(&store))
        .plan(&[hello])
        .unwrap();
    let added = plan.apply(&store, &places).unwrap();
    assert_eq!((added.derivations, added.sources), (228, 173));
    let report = store.verify(&mut |_, _| {}).unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
    assert_eq!(report.checked, 401);
    // A second import finds everything valid and adds nothing.
    let again = Importer::new(&places, &store_dir, Some(&store))
        .plan(&[Target::Named(
            "2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv".into(),
        )])
        .unwrap();
    assert_eq!(again.derivations().count(), 0);
    assert_eq!(again.apply(&store, &places).unwrap().derivations, 0);
}
