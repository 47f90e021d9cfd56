//! Tracing a report's seeds after the report is made: each seed's
//! shortest path from the target and its package trail, from what the
//! walk keeps ([`Tracer`]).
//!
//! A report traces its seeds as text ([`SeedEntry::path_from_target`],
//! [`SeedEntry::package`]): strings for every step of thousands of paths
//! that share most of their steps. A writer that renders what paths share
//! once (every form of `abovo seeds`) asks the tracer for the same answers
//! by id instead, seed by seed as it writes them ([`Tracer::path`],
//! [`Tracer::parent`], [`Tracer::trail_ids`]).

use super::{SeedEntry, Step, steps};
use crate::packages::{PackageTrail, TrailIds, Trails};
use abovo_graph::query::ShortestPaths;
use abovo_graph::{Graph, NodeId};
use rayon::prelude::*;

/// What tracing a report's seeds needs: the walk's shortest paths from the
/// target and the package trails (see the module docs of `report::tracer`).
pub struct Tracer<'g> {
    graph: &'g Graph,
    paths: ShortestPaths<NodeId>,
    trails: Option<Trails<'g>>,
}

impl<'g> Tracer<'g> {
    /// The tracer of a walk's `paths`, with the trails of its target
    /// (`None` when the graph has no package graphs).
    pub(super) fn new(
        graph: &'g Graph,
        paths: ShortestPaths<NodeId>,
        trails: Option<Trails<'g>>,
    ) -> Self {
        Tracer {
            graph,
            paths,
            trails,
        }
    }

    /// The graph walked.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// Every node the walk reached, in visiting order: every node of every
    /// seed's path is one of them.
    pub fn reached(&self) -> &[NodeId] {
        self.paths.reached()
    }

    /// The trails, when the graph has package graphs.
    pub fn trails(&self) -> Option<&Trails<'g>> {
        self.trails.as_ref()
    }

    /// The shortest path from the target to `n`, both ends included
    /// (empty when the walk did not reach it).
    pub fn path(&self, n: NodeId) -> Vec<NodeId> {
        self.paths.path_to(n).unwrap_or_default()
    }

    /// The node before `n` on its shortest path from the target; `None`
    /// for the target and for a node the walk did not reach.
    pub fn parent(&self, n: NodeId) -> Option<NodeId> {
        self.paths.parent(n)
    }

    /// [`SeedEntry::package`] for a seed whose path is `path`, by ids.
    pub fn trail_ids<'p>(&self, path: &'p [NodeId]) -> Option<TrailIds<'p>> {
        self.trails.as_ref()?.trail_ids(path)
    }

    /// A seed's path and package trail as text.
    fn traced(&self, n: NodeId) -> (Vec<Step>, Option<PackageTrail>) {
        let path = self.path(n);
        let trail = self.trails.as_ref().and_then(|t| t.trail(&path));
        (steps(self.graph, &path), trail)
    }

    /// Traces every one of `seeds`, in parallel.
    pub fn trace(&self, seeds: &mut [SeedEntry]) {
        seeds.par_iter_mut().for_each(|e| {
            (e.path_from_target, e.package) = self.traced(e.facts.node);
        });
    }
}
