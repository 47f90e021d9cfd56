//! [`Packages::build_of`] on every derivation of the Guix 1.5.0 corpus,
//! against its definition by names and versions.

use super::{PackageBuild, Packages};
use abovo_graph::NodeKind;
use abovo_graph::package_graph::PackageId;
use rustc_hash::FxHashMap;

/// A derivation built for another system is a package's when a package
/// node (with a derivation in the graph) has its name and version: the
/// definition, by text, that the index of derivation names stands for.
#[test]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
fn other_systems_builds_are_found_by_name_and_version() {
    let Some(g) = crate::test_corpus::guix() else {
        return;
    };
    let packages = Packages::new(&g).unwrap();
    let pg = g.package_graph();
    let mut by_text: FxHashMap<(&str, &str), PackageId> = FxHashMap::default();
    for p in pg.ids().filter(|&p| pg.drv(p).is_some()) {
        by_text.insert((pg.name(p), pg.version(p)), p);
    }
    let (mut own, mut other) = (0, 0);
    for n in g.nodes().filter(|&n| g.kind(n) == NodeKind::Derivation) {
        let expected = match pg.by_drv(n) {
            Some(package) => Some(PackageBuild {
                package,
                other_system: None,
            }),
            None => {
                let name = g.name(n).strip_suffix(".drv").unwrap();
                name.match_indices('-')
                    .find_map(|(i, _)| by_text.get(&(&name[..i], &name[i + 1..])))
                    .filter(|&&p| g.system(pg.drv(p).unwrap()) != g.system(n))
                    .map(|&package| PackageBuild {
                        package,
                        other_system: Some(n),
                    })
            }
        };
        let got = packages.build_of(n);
        assert_eq!(got, expected, "{}", g.display_path(n));
        match got {
            Some(PackageBuild {
                other_system: None, ..
            }) => own += 1,
            Some(_) => other += 1,
            None => {}
        }
    }
    // Both kinds occur (the bootstrap's i686 builds among the others).
    assert!(own > 10_000, "{own} package derivations");
    assert!(other > 10, "{other} builds for another system");
    println!("{own} package derivations, {other} builds for another system");
}

/// The rule [`super::Trails::trail_ids`] states for writers that share a
/// trail between the seeds of one parent: on the corpus, for every node
/// that python-pytorch and hello reach (through fixed outputs too) and
/// that is no package's build, its path has the trail of the path
/// without it.
#[test]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
fn a_node_that_is_no_build_has_its_parents_trail() {
    let Some(g) = crate::test_corpus::guix() else {
        return;
    };
    let packages = Packages::new(&g).unwrap();
    let (mut checked, mut with_trail) = (0, 0);
    for name in ["python-pytorch", "hello"] {
        let target = abovo_graph::resolve::resolve(&g, name).unwrap();
        let trails = super::Trails::with(&packages, target).unwrap();
        let walk = abovo_graph::query::Walk::trust(true);
        let tree = abovo_graph::query::ShortestPaths::tree(&g, target, &walk);
        for &n in &tree.reached()[1..] {
            if packages.build_of(n).is_some() {
                continue;
            }
            let path = tree.path_to(n).unwrap();
            let before = &path[..path.len() - 1];
            let (whole, parents) = (trails.trail_ids(&path), trails.trail_ids(before));
            assert_eq!(whole, parents, "{name}: {}", g.display_path(n));
            checked += 1;
            with_trail += usize::from(whole.is_some());
        }
    }
    assert!(
        checked > 3000 && with_trail > 3000,
        "{checked}, {with_trail}"
    );
}
