//! Queries on a loaded graph: closures, reverse closures, shortest paths
//! and the `guix refresh -l` dependents summary.
//!
//! Every query works on any [`Dag`]: the derivation graph ([`Graph`]) or a
//! package graph ([`crate::package_graph::PackageView`]). Every walk
//! follows input edges (from a node to what it uses) and is shaped by a
//! [`Walk`]: whether sources are shown, whether the walk goes through
//! fixed-output derivations (it does by default, as `guix graph` does; both
//! only mean something in the derivation graph), and how deep it goes. The
//! trust reports walk with [`Walk::trust`]: they stop at every fixed-output
//! derivation, the target included.
//! Neighbours are visited in id order, which is path order (of the `.drv`
//! files, for packages), so every answer is deterministic.

use crate::dag::{Dag, NodeIndex};
use crate::graph::{Graph, NodeId, NodeKind};
use std::collections::VecDeque;

/// How a walk over input edges proceeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Walk {
    /// Leave input sources out.
    pub hide_sources: bool,
    /// Do not walk into the inputs of fixed-output derivations (other than
    /// the starting nodes): their output is pinned by a hash, so how it is
    /// fetched does not matter for trust.
    pub stop_at_fixed: bool,
    /// With `stop_at_fixed`, stop at fixed-output starting nodes too. A
    /// graph query asked about a fixed-output derivation shows its fetcher;
    /// a trust report does not: to it a fixed-output target is a seed like
    /// any other, pinned by its hash.
    pub stop_at_fixed_starts: bool,
    /// Only nodes at most this many edges away from a starting node.
    pub max_depth: Option<u32>,
}

impl Walk {
    /// The walk of the trust reports (`abovo seeds`, `audit`, `history`):
    /// every node kept, no depth limit, and unless `through_fixed` it stops
    /// at every fixed-output derivation, starting ones included (their
    /// output is pinned by a hash: how it was fetched does not change it).
    pub fn trust(through_fixed: bool) -> Walk {
        Walk {
            hide_sources: false,
            stop_at_fixed: !through_fixed,
            stop_at_fixed_starts: !through_fixed,
            max_depth: None,
        }
    }

    /// Whether the walk keeps node `n` of `g` at all.
    pub fn keeps<D: Dag>(&self, g: &D, n: D::Node) -> bool {
        g.keeps(self, n)
    }

    /// Whether the walk goes on into the inputs of `n` (depth aside), `n`
    /// being a starting node or not.
    pub fn goes_into<D: Dag>(&self, g: &D, n: D::Node, is_start: bool) -> bool {
        (is_start && !self.stop_at_fixed_starts) || g.passes(self, n)
    }

    /// Whether the walk goes on into the inputs of `n`, reached at `depth`.
    fn expands<D: Dag>(&self, g: &D, n: D::Node, depth: u32, is_root: bool) -> bool {
        if self.max_depth.is_some_and(|d| depth >= d) {
            return false;
        }
        self.goes_into(g, n, is_root)
    }
}

/// A part of a graph: nodes and the edges between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subgraph<N = NodeId> {
    /// The nodes, sorted by id.
    pub nodes: Vec<N>,
    /// The edges `(from, to)`, sorted.
    pub edges: Vec<(N, N)>,
}

impl<N> Default for Subgraph<N> {
    fn default() -> Self {
        Subgraph {
            nodes: Vec::new(),
            edges: Vec::new(),
        }
    }
}

/// Breadth-first search from `roots`; returns, per node reached, its depth
/// (`u32::MAX` for nodes not reached), and the nodes in visiting order.
fn bfs<D: Dag>(g: &D, roots: &[D::Node], walk: &Walk) -> (Vec<u32>, Vec<D::Node>) {
    let mut depth = vec![u32::MAX; g.node_count()];
    let mut order = Vec::new();
    let mut queue = VecDeque::new();
    let mut is_root = vec![false; 0];
    if !roots.is_empty() {
        is_root = vec![false; g.node_count()];
    }
    for &r in roots {
        is_root[r.index()] = true;
        if depth[r.index()] == u32::MAX {
            depth[r.index()] = 0;
            order.push(r);
            queue.push_back(r);
        }
    }
    while let Some(x) = queue.pop_front() {
        let d = depth[x.index()];
        if !walk.expands(g, x, d, is_root[x.index()]) {
            continue;
        }
        for &y in g.inputs(x) {
            if depth[y.index()] == u32::MAX && walk.keeps(g, y) {
                depth[y.index()] = d + 1;
                order.push(y);
                queue.push_back(y);
            }
        }
    }
    (depth, order)
}

/// The closure of `roots` (roots included), sorted by id.
pub fn closure<D: Dag>(g: &D, roots: &[D::Node], walk: &Walk) -> Vec<D::Node> {
    let (_, mut order) = bfs(g, roots, walk);
    order.sort_unstable();
    order
}

/// The closure of `roots` as nodes and edges: the node and edge sets of
/// `guix graph -t derivation` (or `-t package`, `-t bag-emerged`, on a
/// package graph) when `walk` is the default. With a depth limit, nodes at
/// the limit are kept but their inputs are not.
pub fn subgraph<D: Dag>(g: &D, roots: &[D::Node], walk: &Walk) -> Subgraph<D::Node> {
    let (depth, mut nodes) = bfs(g, roots, walk);
    nodes.sort_unstable();
    let mut edges = Vec::new();
    for &x in &nodes {
        let is_root = roots.contains(&x);
        if !walk.expands(g, x, depth[x.index()], is_root) {
            continue;
        }
        for &y in g.inputs(x) {
            if depth[y.index()] != u32::MAX {
                edges.push((x, y));
            }
        }
    }
    Subgraph { nodes, edges }
}

/// Every node that depends on one of `targets`, directly or not (targets
/// excluded unless one depends on another), sorted by id.
pub fn reverse_closure<D: Dag>(g: &D, targets: &[D::Node]) -> Vec<D::Node> {
    let mut seen = vec![false; g.node_count()];
    let mut stack: Vec<D::Node> = targets.to_vec();
    let mut out = Vec::new();
    while let Some(x) = stack.pop() {
        for &d in g.dependents(x) {
            if !seen[d.index()] {
                seen[d.index()] = true;
                out.push(d);
                stack.push(d);
            }
        }
    }
    out.sort_unstable();
    out
}

/// A shortest path from `from` to `to` over input edges, both ends
/// included; `None` when there is none. Among equally short paths it is the
/// one whose sequence of store paths is smallest, compared from `from`.
pub fn shortest_path<D: Dag>(
    g: &D,
    from: D::Node,
    to: D::Node,
    walk: &Walk,
) -> Option<Vec<D::Node>> {
    ShortestPaths::search(g, from, walk, Some(to)).path_to(to)
}

/// The shortest paths from one node to every node it reaches: the
/// breadth-first tree of [`shortest_path`], with the same choice among
/// equally short paths, for a question about many ends (the package that
/// brings in each seed of a trust report, the path from a target to each of
/// its seeds).
#[derive(Debug, Clone)]
pub struct ShortestPaths<N> {
    from: N,
    /// Per node, the node it was first reached from (`u32::MAX`: not
    /// reached; `from` points to itself).
    parent: Vec<u32>,
    /// The nodes reached, in visiting order (`from` first).
    order: Vec<N>,
}

impl<N: NodeIndex> ShortestPaths<N> {
    /// The tree of every node `from` reaches by `walk`.
    pub fn tree<D: Dag<Node = N>>(g: &D, from: N, walk: &Walk) -> ShortestPaths<N> {
        ShortestPaths::search(g, from, walk, None)
    }

    /// Breadth-first from `from`, layer by layer, inputs in id order; done
    /// as soon as `until` is reached.
    fn search<D: Dag<Node = N>>(g: &D, from: N, walk: &Walk, until: Option<N>) -> Self {
        let mut parent = vec![u32::MAX; g.node_count()];
        parent[from.index()] = from.index() as u32;
        let mut order = vec![from];
        // The frontier is the tail of `order` from `start`.
        let mut start = 0;
        let mut depth = 0;
        while start < order.len() && until != Some(from) {
            let end = order.len();
            for i in start..end {
                let x = order[i];
                if !walk.expands(g, x, depth, x == from) {
                    continue;
                }
                for &y in g.inputs(x) {
                    if parent[y.index()] == u32::MAX && walk.keeps(g, y) {
                        parent[y.index()] = x.index() as u32;
                        order.push(y);
                        if until == Some(y) {
                            return ShortestPaths {
                                from,
                                parent,
                                order,
                            };
                        }
                    }
                }
            }
            start = end;
            depth += 1;
        }
        ShortestPaths {
            from,
            parent,
            order,
        }
    }

    /// The nodes reached, in visiting order (breadth first, inputs in id
    /// order; the start first).
    pub fn reached(&self) -> &[N] {
        &self.order
    }

    /// Where the paths start.
    pub fn start(&self) -> N {
        self.from
    }

    /// The node before `to` on its shortest path from the start; `None`
    /// for the start and for a node not reached.
    pub fn parent(&self, to: N) -> Option<N> {
        let parent = *self.parent.get(to.index())?;
        (parent != u32::MAX && to != self.from).then(|| N::from_index(parent as usize))
    }

    /// A shortest path from the start to `to`, both ends included; `None`
    /// when `to` is not reached.
    pub fn path_to(&self, to: N) -> Option<Vec<N>> {
        if *self.parent.get(to.index())? == u32::MAX {
            return None;
        }
        let mut path = vec![to];
        let mut cur = to;
        while cur != self.from {
            cur = N::from_index(self.parent[cur.index()] as usize);
            path.push(cur);
        }
        path.reverse();
        Some(path)
    }
}

/// The shortest paths from every node to a set of targets: the
/// breadth-first tree up the dependents of the targets, for a question
/// about many starts (every package that rests on one seed). The targets
/// are one end together (a download built for several systems). Among
/// equally short paths it is the one found first: targets in the order
/// given, dependents in id order. Every node of a path but the target is
/// one `walk` keeps and passes through, the start included; `walk`'s depth
/// limit does not apply.
#[derive(Debug, Clone)]
pub struct PathsTo<N> {
    /// Per node, the next node towards a target (`u32::MAX`: no path; a
    /// target points to itself).
    next: Vec<u32>,
    node: std::marker::PhantomData<N>,
}

impl<N: NodeIndex> PathsTo<N> {
    /// The tree of every node that reaches one of `targets` by `walk`.
    pub fn tree<D: Dag<Node = N>>(g: &D, targets: &[N], walk: &Walk) -> PathsTo<N> {
        let mut next = vec![u32::MAX; g.node_count()];
        let mut queue = VecDeque::new();
        for &t in targets {
            next[t.index()] = t.index() as u32;
            queue.push_back(t);
        }
        while let Some(x) = queue.pop_front() {
            for &d in g.dependents(x) {
                if next[d.index()] == u32::MAX && walk.keeps(g, d) && g.passes(walk, d) {
                    next[d.index()] = x.index() as u32;
                    queue.push_back(d);
                }
            }
        }
        PathsTo {
            next,
            node: std::marker::PhantomData,
        }
    }

    /// A shortest path from `from` to a target, both ends included; `None`
    /// when `from` reaches none.
    pub fn path_from(&self, from: N) -> Option<Vec<N>> {
        if *self.next.get(from.index())? == u32::MAX {
            return None;
        }
        let mut path = vec![from];
        let mut cur = from;
        loop {
            let n = N::from_index(self.next[cur.index()] as usize);
            if n == cur {
                return Some(path);
            }
            path.push(n);
            cur = n;
        }
    }
}

/// Every shortest path from `from` to `to`, in lexicographic order of their
/// store paths, at most `limit` of them. Empty when there is no path.
pub fn all_shortest_paths<D: Dag>(
    g: &D,
    from: D::Node,
    to: D::Node,
    walk: &Walk,
    limit: usize,
) -> Vec<Vec<D::Node>> {
    if from == to {
        return vec![vec![from]];
    }
    // Distances from `from`, layer by layer, until `to` is reached.
    let mut dist = vec![u32::MAX; g.node_count()];
    dist[from.index()] = 0;
    let mut frontier = vec![from];
    let mut depth = 0u32;
    let mut found = false;
    while !frontier.is_empty() && !found {
        let mut next = Vec::new();
        for &x in &frontier {
            if !walk.expands(g, x, depth, x == from) {
                continue;
            }
            for &y in g.inputs(x) {
                if dist[y.index()] == u32::MAX && walk.keeps(g, y) {
                    dist[y.index()] = depth + 1;
                    found |= y == to;
                    next.push(y);
                }
            }
        }
        frontier = next;
        depth += 1;
    }
    if !found {
        return Vec::new();
    }
    // Nodes that lie on some shortest path: walk back from `to`.
    let mut on_path = vec![false; g.node_count()];
    on_path[to.index()] = true;
    let mut layer = vec![to];
    while let Some(&first) = layer.first() {
        if first == from {
            break;
        }
        let mut prev = Vec::new();
        for &y in &layer {
            for &x in g.dependents(y) {
                let dx = dist[x.index()];
                if dx != u32::MAX && dx + 1 == dist[y.index()] && !on_path[x.index()] {
                    on_path[x.index()] = true;
                    prev.push(x);
                }
            }
        }
        layer = prev;
    }
    // Enumerate forward from `from` in id order (depth-first, so paths come
    // out sorted).
    let mut paths = Vec::new();
    let mut stack = vec![from];
    enumerate(g, to, &dist, &on_path, walk, &mut stack, &mut paths, limit);
    paths
}

#[allow(clippy::too_many_arguments)]
fn enumerate<D: Dag>(
    g: &D,
    to: D::Node,
    dist: &[u32],
    on_path: &[bool],
    walk: &Walk,
    stack: &mut Vec<D::Node>,
    paths: &mut Vec<Vec<D::Node>>,
    limit: usize,
) {
    if paths.len() >= limit {
        return;
    }
    let Some(&x) = stack.last() else { return };
    if x == to {
        paths.push(stack.clone());
        return;
    }
    for &y in g.inputs(x) {
        if on_path[y.index()] && dist[y.index()] == dist[x.index()] + 1 && walk.keeps(g, y) {
            stack.push(y);
            enumerate(g, to, dist, on_path, walk, stack, paths, limit);
            stack.pop();
            if paths.len() >= limit {
                return;
            }
        }
    }
}

/// Counts and lists of a closure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosureSummary {
    /// Every node of the closure, sorted by id.
    pub nodes: Vec<NodeId>,
    /// Its derivations (fixed-output ones included).
    pub derivations: Vec<NodeId>,
    /// Its fixed-output derivations.
    pub fixed_output: Vec<NodeId>,
    /// Its input sources.
    pub sources: Vec<NodeId>,
    /// Input derivations that were not loaded.
    pub missing: Vec<NodeId>,
    /// The sum of the known NAR sizes.
    pub known_size: u64,
    /// How many nodes have a known size.
    pub sized: usize,
}

/// The closure of `roots` with counts by kind and the total known size.
pub fn closure_summary(g: &Graph, roots: &[NodeId], walk: &Walk) -> ClosureSummary {
    let nodes = closure(g, roots, walk);
    let mut s = ClosureSummary::default();
    for &n in &nodes {
        match g.kind(n) {
            NodeKind::Derivation => {
                s.derivations.push(n);
                if g.is_fixed_output(n) {
                    s.fixed_output.push(n);
                }
            }
            NodeKind::Source => s.sources.push(n),
            NodeKind::Missing => s.missing.push(n),
        }
        if let Some(size) = g.nar_size(n) {
            s.known_size += size;
            s.sized += 1;
        }
    }
    s.nodes = nodes;
    s
}

/// The answer of `guix refresh -l`: who would be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependents<N = NodeId> {
    /// Whether the lists are restricted to packages (a package table is
    /// known, or the graph is a package graph); otherwise they hold every
    /// dependent derivation.
    pub packages_only: bool,
    /// Every dependent, sorted by id.
    pub all: Vec<N>,
    /// The dependents that no other dependent depends on: building them
    /// rebuilds all the others.
    pub covering: Vec<N>,
}

impl<N> Default for Dependents<N> {
    fn default() -> Self {
        Dependents {
            packages_only: false,
            all: Vec::new(),
            covering: Vec::new(),
        }
    }
}

/// The dependents of `targets` in the derivation graph (the targets
/// themselves excluded), restricted to package derivations when the graph
/// has a package table.
pub fn dependents(g: &Graph, targets: &[NodeId]) -> Dependents {
    let packages_only = !g.packages().is_empty();
    dependents_where(g, targets, packages_only, |n| {
        g.kind(n) == NodeKind::Derivation && (!packages_only || g.packages().is_package(n))
    })
}

/// The dependents of `targets` (the targets themselves excluded) that
/// `counted` counts; `packages_only` says whether those are packages. A
/// dependent is covering when no other counted dependent depends on it.
pub fn dependents_where<D: Dag>(
    g: &D,
    targets: &[D::Node],
    packages_only: bool,
    counted: impl Fn(D::Node) -> bool,
) -> Dependents<D::Node> {
    let counted = |n: D::Node| !targets.contains(&n) && counted(n);
    let rev = reverse_closure(g, targets);
    let all: Vec<D::Node> = rev.iter().copied().filter(|&n| counted(n)).collect();
    let above = above_counted(g, &all, counted);
    let covering = all
        .iter()
        .copied()
        .filter(|n| above[n.index()] != Above::Yes)
        .collect();
    Dependents {
        packages_only,
        all,
        covering,
    }
}

/// Whether some counted dependent stands above a node: unknown yet, no,
/// yes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Above {
    Unknown,
    No,
    Yes,
}

/// For each node of `from` (and the nodes it had to look at), whether some
/// `counted` node other than itself depends on it: a counted node among
/// its dependents, or one above one of them. Resolved depth first from
/// `from` alone, with an explicit stack: a node usually resolves at its
/// first dependent, so the walk reads no order of the whole graph (a
/// store's is 300,000 nodes) and few rows.
fn above_counted<D: Dag>(g: &D, from: &[D::Node], counted: impl Fn(D::Node) -> bool) -> Vec<Above> {
    let mut above = vec![Above::Unknown; g.node_count()];
    // A node, and how many of its dependents are known not to be above it.
    let mut stack: Vec<(D::Node, usize)> = Vec::new();
    for &start in from {
        if above[start.index()] != Above::Unknown {
            continue;
        }
        stack.push((start, 0));
        while let Some(&(n, first)) = stack.last() {
            let deps = g.dependents(n);
            let mut i = first;
            let mut verdict = Some(Above::No);
            while let Some(&d) = deps.get(i) {
                if counted(d) {
                    verdict = Some(Above::Yes);
                    break;
                }
                match above[d.index()] {
                    Above::Yes => {
                        verdict = Some(Above::Yes);
                        break;
                    }
                    Above::No => i += 1,
                    // Resolved first, then looked at again (a graph
                    // without cycles never comes back to a node on the
                    // stack).
                    Above::Unknown => {
                        verdict = None;
                        break;
                    }
                }
            }
            match verdict {
                Some(v) => {
                    above[n.index()] = v;
                    stack.pop();
                }
                None => {
                    if let Some(top) = stack.last_mut() {
                        top.1 = i;
                    }
                    stack.push((deps[i], 0));
                }
            }
        }
    }
    above
}
