//! The Guix 1.5.0 corpus for the unit tests that run on it.

use crate::classify::Seeds;
use crate::knowledge::KnowledgeBase;
use abovo_graph::Graph;
use std::path::PathBuf;

/// The corpus graph (with its package graphs), when `ABOVO_GUIX_CORPUS`
/// names it; otherwise says in one line that the test is skipped.
pub(crate) fn guix() -> Option<Graph> {
    let Some(dir) = std::env::var_os("ABOVO_GUIX_CORPUS").map(PathBuf::from) else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return None;
    };
    let store = abovo_store::StoreDir::default();
    let opts = abovo_graph::load::LoadOptions::new(&store, &abovo_graph::load::Silent);
    Some(abovo_graph::load::load(&dir, opts).expect("the corpus loads"))
}

/// Seeds classified with the built-in knowledge base alone: no store is
/// looked in, so answers do not depend on the machine.
pub(crate) fn seeds() -> Seeds {
    let mut seeds = Seeds::new(KnowledgeBase::built_in().expect("the built-in knowledge base"));
    seeds.use_store = false;
    seeds
}
