//! A report that traces only the kinds a summary details
//! ([`Trace::Detailed`]) is the full report less the paths and package
//! trails of the other seeds: the same seeds, verdicts, order and totals,
//! on the Guix 1.5.0 corpus (`ABOVO_GUIX_CORPUS`, with its package graphs).

use super::{Trace, trust_report};
use abovo_graph::query::Walk;

#[test]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
fn a_summary_traces_only_the_kinds_it_details() {
    let Some(g) = crate::test_corpus::guix() else {
        return;
    };
    let seeds = crate::test_corpus::seeds();
    for name in ["hello", "python-pytorch"] {
        let target = abovo_graph::resolve::resolve(&g, name).unwrap();
        let walk = Walk::trust(false);
        let all = trust_report(&g, target, &seeds, &walk, Trace::All).unwrap();
        let detailed = trust_report(&g, target, &seeds, &walk, Trace::Detailed).unwrap();
        let (mut traced, mut untraced) = (0, 0);
        let mut expected = all.clone();
        for e in &mut expected.seeds {
            assert!(!e.path_from_target.is_empty(), "{}", e.facts.store_path);
            if e.class.kind.summarised() {
                e.path_from_target.clear();
                e.package = None;
                untraced += 1;
            } else {
                assert!(e.package.is_some(), "{}", e.facts.store_path);
                traced += 1;
            }
        }
        assert_eq!(
            serde_json::to_value(&detailed).unwrap(),
            serde_json::to_value(&expected).unwrap(),
            "{name}"
        );
        // Both sides occur: binaries are traced, sources are not.
        assert!(
            traced > 0 && untraced > 100,
            "{name}: {traced} traced, {untraced} not"
        );
    }
}
