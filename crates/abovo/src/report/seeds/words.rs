//! The seeds' paths from the target and their package trails in the words
//! of the text and HTML reports ([`Words`]), traced by ids as each seed is
//! written, and each part that seeds share made once.
//!
//! A traced report's steps ([`SeedEntry::path_from_target`]) hold each
//! step's store path, which the text never shows and the HTML only for
//! the picture's nodes: making 15,000 of them for python-pytorch's 2,717
//! seeds was a third of the report's time. And most seeds share the path
//! to their parent with others (python-pytorch's 2,717 seeds have 1,147
//! parents): the path before a seed and the trail it gives are made once
//! per parent ([`PathWords`]).
//!
//! [`SeedEntry::path_from_target`]: abovo_trust::report::SeedEntry::path_from_target

use crate::report::packages::package_lines_by_ids;
use crate::report::text::ARROW;
use abovo_graph::NodeId;
use abovo_graph::package_graph::PackageId;
use abovo_trust::report::Tracer;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::OnceLock;

/// The words of a report's seeds (see the module docs), shared by the
/// threads that write them.
pub(super) struct Words<'t, 'g> {
    tracer: &'t Tracer<'g>,
    /// The words of the path to the parent of each seed the words are
    /// made for, keyed by the parent: made on first use, by the first
    /// thread that needs them. (A hash map, as the JSON writer's pieces,
    /// rather than an array as long as the graph.)
    by_parent: FxHashMap<NodeId, OnceLock<PathWords>>,
    /// The `name@version` of each package the target's package reaches,
    /// made on first use: the packages of every package path.
    full_names: FxHashMap<PackageId, OnceLock<String>>,
}

/// A path from the target in words, with the package trail it gives.
#[derive(Clone, Default)]
pub(super) struct PathWords {
    /// How many nodes it has.
    pub steps: usize,
    /// The labels of its nodes joined by [`ARROW`], as they are (each
    /// report escapes them as it escapes any text).
    pub labels: String,
    /// The package lines of its trail ([`package_lines_by_ids`]), when the
    /// graph has package graphs and a node of it is a package's.
    pub package: Option<(String, Option<String>)>,
}

/// A seed's path and trail in words.
pub(super) struct SeedWords<'w> {
    /// The path before the seed (empty when the seed is the target), with
    /// the seed's own trail.
    pub before: Cow<'w, PathWords>,
    /// The seed's label, last on its path.
    pub label: &'w str,
}

impl<'t, 'g> Words<'t, 'g> {
    /// The words of `seeds`, which `tracer` traces.
    pub fn new(tracer: &'t Tracer<'g>, seeds: impl Iterator<Item = NodeId>) -> Self {
        Words {
            tracer,
            by_parent: seeds
                .filter_map(|n| tracer.parent(n))
                .map(|parent| (parent, OnceLock::new()))
                .collect(),
            full_names: tracer
                .trails()
                .map_or(&[][..], |t| t.reached())
                .iter()
                .map(|&p| (p, OnceLock::new()))
                .collect(),
        }
    }

    /// Seed `n` (one of the seeds the words were made for) in words.
    pub fn seed(&self, n: NodeId) -> SeedWords<'_> {
        let (g, trails) = (self.tracer.graph(), self.tracer.trails());
        // The trail of a seed that is no package's build is that of the
        // path before it (see `Trails::trail_ids`).
        let own_build = trails.is_some_and(|t| t.packages().build_of(n).is_some());
        let shared = match self.tracer.parent(n) {
            Some(parent) if !own_build => self.by_parent.get(&parent).map(|w| (parent, w)),
            _ => None,
        };
        if let Some((parent, words)) = shared {
            let before = words.get_or_init(|| {
                let path = self.tracer.path(parent);
                self.path_words(&path, &path)
            });
            return SeedWords {
                before: Cow::Borrowed(before),
                label: g.label(n),
            };
        }
        let path = self.tracer.path(n);
        match path.split_last() {
            Some((&seed, before)) => SeedWords {
                before: Cow::Owned(self.path_words(before, &path)),
                label: g.label(seed),
            },
            // Not reached (no seed is): no path.
            None => SeedWords {
                before: Cow::Owned(PathWords::default()),
                label: "",
            },
        }
    }

    /// The words of `path`, with the trail of `trail_path` (`path` itself,
    /// or `path` and the seed after it).
    fn path_words(&self, path: &[NodeId], trail_path: &[NodeId]) -> PathWords {
        let g = self.tracer.graph();
        let mut labels = String::with_capacity(32 * path.len());
        for (i, &n) in path.iter().enumerate() {
            if i > 0 {
                labels.push_str(ARROW);
            }
            labels.push_str(g.label(n));
        }
        let package = self.tracer.trails().and_then(|trails| {
            let ids = trails.trail_ids(trail_path)?;
            let full_name = |p| {
                let name = || trails.packages().full_name(p);
                match self.full_names.get(&p) {
                    Some(made) => Cow::Borrowed(made.get_or_init(name).as_str()),
                    None => Cow::Owned(name()),
                }
            };
            Some(package_lines_by_ids(g, trails, &ids, full_name))
        });
        PathWords {
            steps: path.len(),
            labels,
            package,
        }
    }
}

impl SeedWords<'_> {
    /// The whole path's labels as `escape` makes them, joined by
    /// [`ARROW`], pushed onto `out`.
    pub fn push_path(&self, out: &mut String, escape: impl Fn(&str) -> Cow<'_, str>) {
        if self.before.steps > 0 {
            out.push_str(&escape(&self.before.labels));
            out.push_str(ARROW);
        }
        out.push_str(&escape(self.label));
    }

    /// The package lines of the seed's trail.
    pub fn package(&self) -> Option<&(String, Option<String>)> {
        self.before.package.as_ref()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::report::packages::package_lines;
    use abovo_graph::query::Walk;
    use abovo_graph::resolve::resolve_with;
    use abovo_trust::report::{trust_report, untraced_report};

    /// A seed's whole path in words, as they are.
    fn path(seed: &SeedWords<'_>) -> String {
        let mut path = String::new();
        seed.push_path(&mut path, |s| Cow::Borrowed(s));
        path
    }

    /// The labels of a traced seed's path, joined as in words.
    fn joined(traced: &abovo_trust::report::SeedEntry) -> String {
        let labels: Vec<&str> = traced
            .path_from_target
            .iter()
            .map(|s| s.label.as_str())
            .collect();
        labels.join(ARROW)
    }

    /// On the built-in snapshot, for targets large and small, through
    /// fixed-output derivations or not: every seed's path and package
    /// lines in words are those of the report traced whole (its steps'
    /// labels joined, `package_lines` of its trail), whether they come
    /// from the words its parent shares or are made for it alone.
    #[test]
    fn words_are_those_of_the_report_traced_whole() {
        let (g, seeds, prefs) = super::super::built_in_for_tests();
        let (mut shared, mut alone, mut trails) = (0, 0, 0);
        for (name, through_fixed) in [
            ("python-pytorch", false),
            ("python-pytorch", true),
            ("hello", false),
            ("guile-bootstrap", false),
            ("ghc@7.10.3", false),
        ] {
            let target = resolve_with(&g, name, &prefs).unwrap().node;
            let walk = Walk::trust(through_fixed);
            let whole = trust_report(&g, target, &seeds, &walk).unwrap();
            let (report, tracer) = untraced_report(&g, target, &seeds, &walk).unwrap();
            let words = Words::new(&tracer, report.seeds.iter().map(|e| e.facts.node));
            assert_eq!(whole.seeds.len(), report.seeds.len(), "{name}");
            for (traced, e) in whole.seeds.iter().zip(&report.seeds) {
                let n = e.facts.node;
                assert_eq!(traced.facts.node, n, "{name}: the same order");
                let seed = words.seed(n);
                assert_eq!(
                    path(&seed),
                    joined(traced),
                    "{name}: {}",
                    e.facts.store_path
                );
                let lines = traced.package.as_ref().map(package_lines);
                assert_eq!(
                    seed.package(),
                    lines.as_ref(),
                    "{name}: {}",
                    e.facts.store_path
                );
                match seed.before {
                    Cow::Borrowed(_) => shared += 1,
                    Cow::Owned(_) => alone += 1,
                }
                trails += usize::from(lines.is_some_and(|(_, then)| then.is_some()));
            }
        }
        // Most seeds share their parent's words; every seed with a trail
        // beyond its bringer was checked too.
        assert!(shared > 5000, "{shared} shared, {alone} alone");
        assert!(trails > 5000, "{trails}");
    }

    /// On a graph without package graphs (hello's closure read from its
    /// `.drv` files, the built-in items): the same paths as the report
    /// traced whole, and no package lines.
    #[test]
    fn words_without_package_graphs_have_paths_alone() {
        let items = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/guix-1.5.0-hello-items.tar.zst"
        );
        let store = abovo_store::StoreDir::default();
        let opts = abovo_graph::load::LoadOptions::new(&store, &abovo_graph::load::Silent);
        let g = abovo_graph::load::load(std::path::Path::new(items), opts).unwrap();
        assert!(g.package_graph().is_empty());
        let (_, seeds, _) = super::super::built_in_for_tests();
        let target = abovo_graph::resolve::resolve(&g, "hello").unwrap();
        let walk = Walk::trust(false);
        let whole = trust_report(&g, target, &seeds, &walk).unwrap();
        let (report, tracer) = untraced_report(&g, target, &seeds, &walk).unwrap();
        let words = Words::new(&tracer, report.seeds.iter().map(|e| e.facts.node));
        assert!(report.seeds.len() > 100, "{}", report.seeds.len());
        for (traced, e) in whole.seeds.iter().zip(&report.seeds) {
            let seed = words.seed(e.facts.node);
            assert_eq!(path(&seed), joined(traced));
            assert!(seed.package().is_none() && traced.package.is_none());
        }
    }

    /// A node that is no seed of the words, and one the walk never
    /// reached, still get their words, made for them alone: the path, and
    /// no path at all.
    #[test]
    fn words_of_other_nodes_are_made_alone() {
        let (g, seeds, prefs) = super::super::built_in_for_tests();
        let hello = resolve_with(&g, "hello", &prefs).unwrap().node;
        let pytorch = resolve_with(&g, "python-pytorch", &prefs).unwrap().node;
        let (_, tracer) = untraced_report(&g, hello, &seeds, &Walk::trust(false)).unwrap();
        let words = Words::new(&tracer, std::iter::empty());
        let reached = tracer.reached()[1];
        let seed = words.seed(reached);
        assert!(matches!(seed.before, Cow::Owned(_)));
        let expected: Vec<&str> = tracer.path(reached).iter().map(|&n| g.label(n)).collect();
        assert_eq!(path(&seed), expected.join(ARROW));
        assert_eq!(expected.len(), 2);
        let seed = words.seed(pytorch);
        assert_eq!((path(&seed).as_str(), seed.package()), ("", None));
    }
}
