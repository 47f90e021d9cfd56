//! Seeds in package terms: for a seed reached through derivations, which
//! package brings it in, and how the target reaches that package in the
//! `bag-emerged` graph (the package graph with the implicit inputs of
//! build systems, where everything a build needs comes from).
//!
//! A derivation is a package's when it is the derivation of a package
//! node, or when it is built for another system under the name of one
//! (Guix's bootstrap builds some packages for `i686-linux` on
//! `x86_64-linux`: `guile-bootstrap-2.0.drv` for i686 is
//! `guile-bootstrap@2.0` for another system, see [`Packages`]). A
//! package's derivation is named after its name and version, so the two
//! derivations have the same name.
//!
//! The package that brings a seed in is the last package on the seed's
//! derivation path: the one whose derivation uses the seed directly or
//! through derivations that are no package's (a repacked tarball, a
//! patched checkout, a module tree). Its package path is a shortest path
//! from the target's package to it in the `bag-emerged` graph, chosen as
//! [`abovo_graph::query::shortest_path`] chooses. Where the derivation
//! path leaves that graph (through the tools that patch an origin, or
//! packages built for another system), the package path ends at the last
//! package of the derivation path that the target reaches there, and the
//! derivations from there to the bringer follow ([`PackageTrail::then`]).
//! For the whole audit, [`Packages::bringers`] gives every package that
//! brings a seed in.
//!
//! All of it needs the graph's package graphs; without them (a store
//! directory) there is no package answer, only the derivation paths.

use crate::report::{Step, steps};
use abovo_graph::package_graph::{GraphType, PackageGraph, PackageId, PackageView, Visibility};
use abovo_graph::query::{ShortestPaths, Walk};
use abovo_graph::strings::StrId;
use abovo_graph::{Graph, NodeId, NodeKind};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::sync::{Arc, OnceLock};

/// A package in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageStep {
    /// `name@version`.
    pub package: String,
    /// Its derivation.
    pub derivation: String,
    /// How visible it is (public, hidden, private).
    pub visibility: Visibility,
    /// The system it is built for, when that is not the package graph's
    /// own (its derivation is then another system's build of the package).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

/// A package build in words: what text shows of a [`PackageStep`]. Its
/// derivation's store path, which text does not show, is left out: making
/// one encodes a hash, and a report in full names packages thousands of
/// times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageName<'g> {
    /// [`PackageStep::package`].
    pub package: String,
    /// [`PackageStep::system`].
    pub system: Option<&'g str>,
    /// [`PackageStep::visibility`].
    pub visibility: Visibility,
}

/// A derivation that is a package's: which package, and for which other
/// system when it is not the package node's own derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageBuild {
    /// The package.
    pub package: PackageId,
    /// The derivation, when it is another system's build of the package.
    pub other_system: Option<NodeId>,
}

impl PackageBuild {
    /// `package` built for the graph's own system (its own derivation).
    pub fn own(package: PackageId) -> PackageBuild {
        PackageBuild {
            package,
            other_system: None,
        }
    }
}

/// Which derivations are packages' (see the [module documentation](self)).
/// A clone shares the index of names, built on first use.
#[derive(Clone)]
pub struct Packages<'g> {
    graph: &'g Graph,
    pg: &'g PackageGraph,
    /// The package nodes whose derivation the graph has, by their
    /// derivation's name ([`Graph::name_id`]): what a derivation for
    /// another system is named after. Keyed by interned ids, it is built
    /// without reading a name; and only when a derivation that is no
    /// package node's own is met.
    by_name: Arc<OnceLock<FxHashMap<StrId, PackageId>>>,
}

impl<'g> Packages<'g> {
    /// The packages of `g`; `None` when it has no package graphs.
    pub fn new(g: &'g Graph) -> Option<Packages<'g>> {
        let pg = g.package_graph();
        if pg.is_empty() {
            return None;
        }
        Some(Packages {
            graph: g,
            pg,
            by_name: Arc::default(),
        })
    }

    /// The package node whose derivation has `n`'s name (the last one by
    /// id, when several have).
    fn by_name(&self, n: NodeId) -> Option<PackageId> {
        let (g, pg) = (self.graph, self.pg);
        let index = self.by_name.get_or_init(|| {
            let ids = pg.ids();
            let mut index = FxHashMap::with_capacity_and_hasher(ids.len(), Default::default());
            for p in ids {
                if let Some(own) = pg.drv(p) {
                    index.insert(g.name_id(own), p);
                }
            }
            index
        });
        index.get(&g.name_id(n)).copied()
    }

    /// The package whose build derivation `n` is, if any.
    pub fn build_of(&self, n: NodeId) -> Option<PackageBuild> {
        if let Some(package) = self.pg.by_drv(n) {
            return Some(PackageBuild::own(package));
        }
        // Names and systems are read in place: a walk asks this of every
        // derivation it meets, and decoding their facts would cost more
        // than the walk.
        let g = self.graph;
        if g.kind(n) != NodeKind::Derivation {
            return None;
        }
        let package = self.by_name(n)?;
        let own = self.pg.drv(package)?;
        (g.system(own) != g.system(n)).then_some(PackageBuild {
            package,
            other_system: Some(n),
        })
    }

    /// A package build in a report.
    pub fn step(&self, b: PackageBuild) -> PackageStep {
        let PackageName {
            package,
            system,
            visibility,
        } = self.name(b);
        let derivation = match b.other_system {
            Some(n) => self.graph.display_path(n),
            None => self.pg.display_drv_path(self.graph, b.package),
        };
        PackageStep {
            package,
            derivation,
            visibility,
            system: system.map(str::to_owned),
        }
    }

    /// The `name@version` of `package`.
    pub fn full_name(&self, package: PackageId) -> String {
        self.pg.full_name(package)
    }

    /// A package build in words ([`PackageStep`] less its derivation).
    pub fn name(&self, b: PackageBuild) -> PackageName<'g> {
        PackageName {
            package: self.full_name(b.package),
            system: b.other_system.and_then(|n| self.graph.system(n)),
            visibility: self.pg.status(b.package).visibility,
        }
    }

    /// Every package build that brings one of `seeds` in: whose derivation
    /// uses it directly or through derivations that are no package's,
    /// sorted (packages of the graph's own system first, by id).
    pub fn bringers(&self, seeds: &[NodeId]) -> Vec<PackageBuild> {
        let g = self.graph;
        let mut seen = vec![false; g.len()];
        let mut stack = seeds.to_vec();
        let mut found = Vec::new();
        while let Some(x) = stack.pop() {
            for &d in g.dependents(x) {
                if std::mem::replace(&mut seen[d.index()], true) {
                    continue;
                }
                match self.build_of(d) {
                    Some(b) => found.push(b),
                    None => stack.push(d),
                }
            }
        }
        found.sort_unstable_by_key(|b| (b.other_system.is_some(), b.package, b.other_system));
        found.dedup();
        found
    }
}

/// Which package brings a seed in, and how the target reaches it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageTrail {
    /// The last package on the seed's derivation path.
    pub brought_in_by: PackageStep,
    /// A shortest path from the target's package in the `bag-emerged`
    /// graph, both ends included, to the bringer, or, when the target does
    /// not reach it there, to the last package of the derivation path that
    /// it reaches; empty when the target is no package.
    pub package_path: Vec<PackageStep>,
    /// When the package path stops short of the bringer: the derivations
    /// from its last package (excluded) to the bringer (included), outside
    /// the `bag-emerged` graph.
    pub then: Vec<Step>,
}

/// The package trails of one target's seeds: the target's package and the
/// shortest paths from it in the `bag-emerged` graph.
pub struct Trails<'g> {
    packages: Packages<'g>,
    view: PackageView<'g>,
    tree: Option<ShortestPaths<PackageId>>,
}

impl<'g> Trails<'g> {
    /// The trails from `target` on `g`; `None` when `g` has no
    /// `bag-emerged` graph.
    pub fn new(g: &'g Graph, target: NodeId) -> Option<Trails<'g>> {
        Trails::with(&Packages::new(g)?, target)
    }

    /// The trails from `target` on the graph of `packages` (which many
    /// targets' trails share: an audit has one per seed's example).
    pub fn with(packages: &Packages<'g>, target: NodeId) -> Option<Trails<'g>> {
        let view = packages.graph.package_view(GraphType::BagEmerged)?;
        let tree = view
            .packages()
            .by_drv(target)
            .map(|t| ShortestPaths::tree(&view, t, &Walk::default()));
        Some(Trails {
            packages: packages.clone(),
            view,
            tree,
        })
    }

    /// The package of the target, when it is one.
    pub fn target(&self) -> Option<PackageStep> {
        let package = self.tree.as_ref()?.start();
        Some(self.packages.step(PackageBuild::own(package)))
    }

    /// Every package of the graph's own system that the target's package
    /// reaches in the `bag-emerged` graph: every package of every
    /// [`PackageTrail::package_path`] is one of them.
    pub fn reached(&self) -> &[PackageId] {
        self.tree.as_ref().map_or(&[], ShortestPaths::reached)
    }

    /// The packages the trails are in.
    pub fn packages(&self) -> &Packages<'g> {
        &self.packages
    }

    /// The trail of a seed whose derivation path (target first, seed last)
    /// is `path`; `None` when no node of it is a package's.
    pub fn trail(&self, path: &[NodeId]) -> Option<PackageTrail> {
        let ids = self.trail_ids(path)?;
        Some(PackageTrail {
            brought_in_by: self.packages.step(ids.brought_in_by),
            package_path: ids
                .package_path
                .into_iter()
                .map(|p| self.packages.step(PackageBuild::own(p)))
                .collect(),
            then: steps(self.view.derivations(), ids.then),
        })
    }

    /// [`Trails::trail`] by ids: what a writer that renders each package
    /// and derivation once needs, where [`PackageTrail`] has them as text
    /// for every seed.
    ///
    /// A path whose last node is no package's build has the trail of the
    /// path without it: only the nodes that are builds, and where they are,
    /// count. A writer may share one trail between the seeds of a parent
    /// (and the tests check it on the corpus).
    pub fn trail_ids<'p>(&self, path: &'p [NodeId]) -> Option<TrailIds<'p>> {
        // The package builds of the derivation path, with their places.
        let on_path: Vec<(usize, PackageBuild)> = path
            .iter()
            .enumerate()
            .filter_map(|(i, &n)| Some((i, self.packages.build_of(n)?)))
            .collect();
        let &(at, bringer) = on_path.last()?;
        // The last of them, of the graph's own system, that the target's
        // package reaches.
        let reached = self.tree.as_ref().and_then(|t| {
            on_path
                .iter()
                .rev()
                .filter(|(_, b)| b.other_system.is_none())
                .find_map(|&(i, b)| Some((i, t.path_to(b.package)?)))
        });
        let (package_path, then) = match reached {
            Some((i, packages)) => (packages, &path[(i + 1).min(at + 1)..=at]),
            None => (Vec::new(), &[][..]),
        };
        Some(TrailIds {
            brought_in_by: bringer,
            package_path,
            then,
        })
    }
}

/// A [`PackageTrail`] by ids ([`Trails::trail_ids`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailIds<'p> {
    /// [`PackageTrail::brought_in_by`].
    pub brought_in_by: PackageBuild,
    /// [`PackageTrail::package_path`]: packages of the graph's own system.
    pub package_path: Vec<PackageId>,
    /// [`PackageTrail::then`]: part of the derivation path asked about.
    pub then: &'p [NodeId],
}

#[cfg(test)]
mod tests;
