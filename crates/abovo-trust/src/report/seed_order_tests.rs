//! A report lists each store item once, as the first of its seeds the walk
//! reached, in the report's order; on the Guix 1.5.0 corpus
//! (`ABOVO_GUIX_CORPUS`), where a package built for two systems reaches
//! most of its sources through a derivation of each.

use super::{untraced_report, walk};
use crate::classify::SeedFacts;
use abovo_graph::query::Walk;
use rustc_hash::FxHashMap;

#[test]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
fn each_store_item_is_one_seed_the_first_reached_in_report_order() {
    let Some(g) = crate::test_corpus::guix() else {
        return;
    };
    let seeds = crate::test_corpus::seeds();
    let mut shared = 0;
    for (name, through_fixed) in [
        ("hello", false),
        ("python-pytorch", false),
        ("python-pytorch", true),
        // Built for x86_64 and i686: most of its sources are fetched by a
        // derivation of each system.
        ("wine64", false),
    ] {
        let target = abovo_graph::resolve::resolve(&g, name).unwrap();
        let how = Walk::trust(through_fixed);
        // The first seed reached of each store item, by store path.
        let walked = walk(&g, target, &how);
        let mut first = FxHashMap::default();
        for &n in &walked.seeds {
            first.entry(SeedFacts::store_path_of(&g, n)).or_insert(n);
        }
        shared += walked.seeds.len() - first.len();
        let (report, _) = untraced_report(&g, target, &seeds, &how).unwrap();
        assert_eq!(report.seeds.len(), first.len(), "{name}");
        for e in &report.seeds {
            let path = &e.facts.store_path;
            assert_eq!(first.get(path), Some(&e.facts.node), "{name}: {path}");
        }
        let key = |e: &super::SeedEntry| {
            (
                e.class.kind,
                e.class.size.is_none(),
                std::cmp::Reverse(e.class.size),
                e.facts.name.clone(),
                e.facts.store_path.clone(),
            )
        };
        assert!(
            report.seeds.windows(2).all(|w| key(&w[0]) < key(&w[1])),
            "{name}: seeds out of order"
        );
    }
    // Some store items are reached through more than one derivation, so
    // the test sees seeds dropped.
    assert!(shared > 0, "no store item reached twice");
}
