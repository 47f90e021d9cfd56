//! [`crate::classify::Seeds::plain_kind`], the audit's short way, against
//! [`crate::classify::Seeds::classify`] on every seed of the Guix 1.5.0 corpus.

use crate::classify::SeedFacts;
use crate::report::is_seed;
use abovo_graph::NodeId;

use crate::test_corpus::seeds;

/// The base name of a store path.
fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[test]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
fn plain_kinds_are_what_classification_gives() {
    let Some(g) = crate::test_corpus::guix() else {
        return;
    };
    let nodes: Vec<NodeId> = g.nodes().filter(|&n| is_seed(&g, n)).collect();
    let paths: Vec<String> = nodes
        .iter()
        .map(|&n| SeedFacts::store_path_of(&g, n))
        .collect();
    // A fetch cache with a record of one fixed output, a narinfo directory
    // with a narinfo of one input source: neither is plain any more (their
    // bytes or size may be there, the narinfo may be refused).
    let fixed = nodes.iter().position(|&n| g.is_fixed_output(n)).unwrap();
    let source = nodes
        .iter()
        .position(|&n| g.derivation(n).is_none())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = abovo_fetch::cache::Cache::new(dir.path().join("cache"));
    std::fs::create_dir_all(dir.path().join("cache/meta")).unwrap();
    std::fs::write(
        dir.path()
            .join(format!("cache/meta/{}.json", base(&paths[fixed]))),
        "{}",
    )
    .unwrap();
    let narinfos = dir.path().join("narinfo");
    std::fs::create_dir_all(&narinfos).unwrap();
    let hash = base(&paths[source]).split('-').next().unwrap();
    std::fs::write(narinfos.join(format!("{hash}.narinfo")), "").unwrap();

    let mut s = seeds();
    s.cache = Some(cache);
    s.sizes.add_narinfo_dir(&narinfos).unwrap();
    // Outside a batch, every seed asks the file system on its own.
    assert_eq!(s.plain_kind(&g, nodes[fixed]), None);
    let mut plain = 0;
    let mut binary = 0;
    s.batch(|| {
        for (&n, path) in nodes.iter().zip(&paths) {
            let facts = SeedFacts::of(&g, n);
            assert_eq!(*path, facts.store_path);
            // The audit counts store items by the hash part alone.
            let hash = facts.hash_part().unwrap().as_bytes();
            assert_eq!(SeedFacts::store_hash_of(&g, n), hash, "{path}");
            let kind = s.plain_kind(&g, n);
            if n == nodes[fixed] || n == nodes[source] {
                assert_eq!(kind, None, "{path}");
                continue;
            }
            // An empty narinfo is refused: only a seed that is not plain
            // may read it.
            let class = s.classify(&g, &facts).unwrap();
            match kind {
                Some(k) => {
                    assert_eq!(k, class.kind, "{path}");
                    plain += 1;
                    binary += usize::from(k.carries_binaries());
                }
                None => assert!(
                    g.derivation(n).is_none_or(|d| d.is_impure())
                        && g.kind(n) != abovo_graph::NodeKind::Source,
                    "{path} is not plain"
                ),
            }
        }
    });
    // Nearly every seed is plain; some of them carry binaries.
    assert!(plain > nodes.len() - 100, "{plain} of {}", nodes.len());
    assert!(binary > 0);

    // With a seed directory every seed is looked for there.
    let mut s = seeds();
    s.seed_dirs = vec![dir.path().to_owned()];
    s.batch(|| {
        assert_eq!(s.plain_kind(&g, nodes[source]), None);
        assert_eq!(s.plain_kind(&g, nodes[fixed]), None);
    });
    // Without anything outside the graph, the two test seeds are plain.
    let s = seeds();
    s.batch(|| {
        for i in [fixed, source] {
            let facts = SeedFacts::of(&g, nodes[i]);
            let class = s.classify(&g, &facts).unwrap();
            assert_eq!(s.plain_kind(&g, nodes[i]), Some(class.kind));
        }
    });
}
