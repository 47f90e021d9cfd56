//! `abovo graph TARGET…`: the closure of TARGET as nodes and edges, the
//! node and edge sets of `guix graph --type TYPE TARGET` (`package`,
//! `bag-emerged` or `derivation`).
//!
//! One set of writers (text, DOT, GraphML) draws every type: a
//! `Drawing` says how a node of its graph is keyed, named and shaped and
//! what an edge carries. JSON is apart (`graph/json.rs`): one object per graph,
//! a derivation graph's nodes and edges rendered on every core.

use crate::exit;
use crate::output::{Context, Format, dot_quoted, markup_escape, print_json_object, sanitize};
use crate::packages::{GraphKind, choose_kind, type_help, uses_note};
use crate::report::packages::visibility_note;
use crate::report::text::plural;
use crate::source::{QueryArgs, WalkArgs, edge_outputs};
use abovo_graph::dag::NodeIndex;
use abovo_graph::package_graph::{PackageId, PackageView};
use abovo_graph::query::{Subgraph, subgraph};
use abovo_graph::{Graph, NodeId, NodeKind};
use std::io::{BufWriter, Write};
use std::marker::PhantomData;

mod json;

/// Print the graph of TARGET: packages and their inputs (`--type package`,
/// the default, as `guix graph`), packages with the implicit inputs of
/// their build systems (`--type bag-emerged`), or derivations and input
/// sources with the outputs each edge uses (`--type derivation`).
///
/// The node and edge sets are those of `guix graph --type TYPE TARGET`;
/// package nodes are keyed by their derivation, as `guix graph -t
/// bag-emerged` keys them. For derivations the walk goes through
/// fixed-output derivations unless --stop-at-fixed. A source without
/// package-level data is drawn as derivations, with a note.
///
/// When the source lacks some input `.drv` files, the derivation graph is
/// drawn with them as `missing` nodes, a warning says how many there are,
/// JSON lists them under `missing`, and the exit code stays 0.
#[derive(Debug, clap::Args)]
#[command(mut_arg("format", |a| a.value_parser(Format::parser(GRAPH_FORMATS))))]
pub struct Args {
    /// Packages or derivations: `hello`, `hello@2.12`, a `.drv` path or an
    /// output path.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// What the nodes are.
    #[arg(long = "type", short = 't', value_enum, value_name = "TYPE",
          help = type_help!("package"))]
    pub kind: Option<GraphKind>,
    /// Only nodes at most N edges away from a target (the nodes at depth N
    /// are shown without their inputs).
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// How the walk proceeds.
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// What `abovo graph` writes.
const GRAPH_FORMATS: &[Format] = &[Format::Text, Format::Json, Format::Dot, Format::Graphml];

/// Runs `abovo graph`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, roots) = args
        .query
        .open(ctx, "graph", GRAPH_FORMATS, &args.targets)?;
    let kind = choose_kind(&graph, args.kind, GraphKind::Package, ctx);
    let walk = args.walk.walk(args.max_depth);
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let format = args.query.format;
    match kind.package_graph() {
        Some(ty) => {
            let view = crate::packages::package_view(&graph, ty)?;
            let roots = crate::packages::packages_of(&view, &roots, &args.targets)?;
            let sub = subgraph(&view, &roots, &walk);
            let names: Vec<String> = roots.iter().map(|&r| view.full_name(r)).collect();
            let title = format!(
                "{} graph of {} ({})",
                ty.name(),
                names.join(", "),
                graph.description()
            );
            if format == Format::Json {
                drop(out);
                print_json_object(|json| json::write_packages(json, &view, &roots, &sub, &title))?;
                return Ok(exit::SUCCESS);
            }
            write(&mut out, format, &Packages(view), &sub, &title, ctx)?;
        }
        None => {
            // The JSON of the nodes needs parts of the snapshot decoded
            // whole on first use: decoded on another core during the walk.
            let sub = std::thread::scope(|scope| {
                if format == Format::Json {
                    scope.spawn(|| json::warm_up(&graph, &roots));
                }
                subgraph(&*graph, &roots, &walk)
            });
            let missing: Vec<NodeId> = sub
                .nodes
                .iter()
                .copied()
                .filter(|&n| graph.kind(n) == NodeKind::Missing)
                .collect();
            if let Some(&example) = missing.first() {
                ctx.warn(&format!(
                    "the graph is incomplete: {} missing from the source (e.g. {})",
                    plural(
                        missing.len(),
                        "input derivation is",
                        "input derivations are"
                    ),
                    graph.display_path(example)
                ));
            }
            crate::source::warn_dynamic(ctx, &graph, || &sub.edges);
            let title = format!(
                "derivation graph of {} ({})",
                roots
                    .iter()
                    .map(|&r| graph.label(r))
                    .collect::<Vec<_>>()
                    .join(", "),
                graph.description()
            );
            if format == Format::Json {
                drop(out);
                print_json_object(|json| {
                    json::write_derivations(json, &graph, &roots, &sub, &missing, &title)
                })?;
                return Ok(exit::SUCCESS);
            }
            write(&mut out, format, &Derivations(&graph), &sub, &title, ctx)?;
        }
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// How the writers see the nodes and edges of one type of graph.
trait Drawing {
    /// A node id of the graph.
    type Node: NodeIndex;
    /// What identifies a node in DOT and GraphML: its (`.drv`) path.
    fn key(&self, n: Self::Node) -> String;
    /// The node as the text lists it.
    fn title(&self, n: Self::Node) -> String;
    /// What the text adds after it: ` (source)`, ` (private)`, …
    fn tag(&self, n: Self::Node) -> &'static str;
    /// Its DOT label.
    fn label(&self, n: Self::Node) -> String;
    /// Its DOT shape (and style).
    fn shape(&self, n: Self::Node) -> &'static str;
    /// Its GraphML kind, and whether it is a fixed-output derivation.
    fn kind(&self, n: Self::Node) -> (&'static str, bool);
    /// The GraphML name of what an edge carries.
    fn edge_data(&self) -> &'static str;
    /// What the edge `a -> b` carries (empty for nothing).
    fn edge(&self, a: Self::Node, b: Self::Node) -> String;
}

struct Derivations<'g>(&'g Graph);

impl Drawing for Derivations<'_> {
    type Node = NodeId;

    fn key(&self, n: NodeId) -> String {
        self.0.display_path(n)
    }

    fn title(&self, n: NodeId) -> String {
        self.0.display_path(n)
    }

    fn tag(&self, n: NodeId) -> &'static str {
        match self.0.kind(n) {
            NodeKind::Source => " (source)",
            NodeKind::Missing => " (missing)",
            NodeKind::Derivation if self.0.is_fixed_output(n) => " (fixed-output)",
            NodeKind::Derivation => "",
        }
    }

    fn label(&self, n: NodeId) -> String {
        self.0.name(n).to_owned()
    }

    fn shape(&self, n: NodeId) -> &'static str {
        match self.0.kind(n) {
            NodeKind::Source => "ellipse",
            NodeKind::Missing => "octagon",
            NodeKind::Derivation if self.0.is_fixed_output(n) => "box, style = dashed",
            NodeKind::Derivation => "box",
        }
    }

    fn kind(&self, n: NodeId) -> (&'static str, bool) {
        let kind = match self.0.kind(n) {
            NodeKind::Source => "source",
            NodeKind::Missing => "missing",
            NodeKind::Derivation => "derivation",
        };
        (kind, self.0.is_fixed_output(n))
    }

    fn edge_data(&self) -> &'static str {
        "outputs"
    }

    fn edge(&self, a: NodeId, b: NodeId) -> String {
        edge_outputs(self.0, a, b).join(",")
    }
}

struct Packages<'g>(PackageView<'g>);

impl Drawing for Packages<'_> {
    type Node = PackageId;

    fn key(&self, p: PackageId) -> String {
        self.0.display_drv_path(p)
    }

    fn title(&self, p: PackageId) -> String {
        self.0.full_name(p)
    }

    fn tag(&self, p: PackageId) -> &'static str {
        visibility_note(self.0.packages().status(p).visibility)
    }

    fn label(&self, p: PackageId) -> String {
        self.0.full_name(p)
    }

    fn shape(&self, _: PackageId) -> &'static str {
        "box"
    }

    fn kind(&self, p: PackageId) -> (&'static str, bool) {
        (self.0.packages().status(p).visibility.name(), false)
    }

    fn edge_data(&self) -> &'static str {
        "uses"
    }

    fn edge(&self, a: PackageId, b: PackageId) -> String {
        uses_note(&self.0, a, b)
    }
}

/// Writes the graph in `format` (text, DOT or GraphML).
fn write<D: Drawing>(
    out: &mut impl Write,
    format: Format,
    d: &D,
    sub: &Subgraph<D::Node>,
    title: &str,
    ctx: &Context,
) -> std::io::Result<()> {
    match format {
        Format::Dot => write_dot(out, d, sub, title),
        Format::Graphml => write_graphml(out, d, sub, title),
        _ => write_text(out, d, sub, title, ctx),
    }
}

/// What a writer prints for each node of a subgraph (its escaped key or
/// title), made once per node: the edges name each node again and again
/// (the derivation graph of python-pytorch has ten edges a node). Every
/// edge of a [`Subgraph`] joins two of its nodes, so every end has its
/// text. (Found by the node's index: a binary search in the sorted nodes
/// cost a tenth of the DOT graph's time, and a hash map's probes, missing
/// the cache, a fifth of the JSON edges'.)
struct PerNode<N> {
    /// By node index, where the node's text is in `texts` (`u32::MAX`
    /// for none).
    at: Vec<u32>,
    texts: Vec<String>,
    node: PhantomData<N>,
}

impl<N: NodeIndex> PerNode<N> {
    fn new(nodes: &[N], make: impl Fn(N) -> String) -> Self {
        let len = nodes.iter().map(|n| n.index() + 1).max().unwrap_or(0);
        let mut at = vec![u32::MAX; len];
        let mut texts = Vec::with_capacity(nodes.len());
        for &n in nodes {
            if let Some(slot) = at.get_mut(n.index()) {
                *slot = texts.len() as u32;
            }
            texts.push(make(n));
        }
        PerNode {
            at,
            texts,
            node: PhantomData,
        }
    }

    /// The text of `n`, one of the nodes.
    fn get(&self, n: N) -> &str {
        self.at
            .get(n.index())
            .and_then(|&i| self.texts.get(i as usize))
            .map_or("", String::as_str)
    }
}

fn write_text<D: Drawing>(
    out: &mut impl Write,
    d: &D,
    sub: &Subgraph<D::Node>,
    title: &str,
    ctx: &Context,
) -> std::io::Result<()> {
    writeln!(
        out,
        "# {}: {}, {}",
        sanitize(title),
        plural(sub.nodes.len(), "node", "nodes"),
        plural(sub.edges.len(), "edge", "edges")
    )?;
    let titles = PerNode::new(&sub.nodes, |n| sanitize(&d.title(n)).into_owned());
    let mut edges = sub.edges.iter().peekable();
    for &n in &sub.nodes {
        writeln!(out, "{}{}", ctx.style("1", titles.get(n)), d.tag(n))?;
        while let Some(&&(a, b)) = edges.peek() {
            if a != n {
                break;
            }
            edges.next();
            let note = d.edge(a, b);
            let to = titles.get(b);
            if note.is_empty() {
                for part in ["  -> ", to, "\n"] {
                    out.write_all(part.as_bytes())?;
                }
            } else {
                writeln!(out, "  -> {to} [{}]", sanitize(&note))?;
            }
        }
    }
    Ok(())
}

fn write_dot<D: Drawing>(
    out: &mut impl Write,
    d: &D,
    sub: &Subgraph<D::Node>,
    title: &str,
) -> std::io::Result<()> {
    writeln!(out, "digraph \"{}\" {{", dot_quoted(title))?;
    let keys = PerNode::new(&sub.nodes, |n| dot_quoted(&d.key(n)).into_owned());
    for &n in &sub.nodes {
        writeln!(
            out,
            "  \"{}\" [label = \"{}\", shape = {}];",
            keys.get(n),
            dot_quoted(&d.label(n)),
            d.shape(n)
        )?;
    }
    for &(a, b) in &sub.edges {
        for part in ["  \"", keys.get(a), "\" -> \"", keys.get(b), "\";\n"] {
            out.write_all(part.as_bytes())?;
        }
    }
    writeln!(out, "}}")
}

fn write_graphml<D: Drawing>(
    out: &mut impl Write,
    d: &D,
    sub: &Subgraph<D::Node>,
    title: &str,
) -> std::io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns">"#
    )?;
    let edge_data = d.edge_data();
    for (id, on, name, kind) in [
        ("label", "node", "label", "string"),
        ("kind", "node", "kind", "string"),
        ("fixed", "node", "fixed_output", "boolean"),
        (edge_data, "edge", edge_data, "string"),
    ] {
        writeln!(
            out,
            r#"  <key id="{id}" for="{on}" attr.name="{name}" attr.type="{kind}"/>"#
        )?;
    }
    writeln!(
        out,
        r#"  <graph id="{}" edgedefault="directed">"#,
        markup_escape(title)
    )?;
    let keys = PerNode::new(&sub.nodes, |n| markup_escape(&d.key(n)).into_owned());
    for &n in &sub.nodes {
        let (kind, fixed) = d.kind(n);
        writeln!(
            out,
            r#"    <node id="{}"><data key="label">{}</data><data key="kind">{kind}</data><data key="fixed">{fixed}</data></node>"#,
            keys.get(n),
            markup_escape(&d.label(n)),
        )?;
    }
    for &(a, b) in &sub.edges {
        writeln!(
            out,
            r#"    <edge source="{}" target="{}"><data key="{edge_data}">{}</data></edge>"#,
            keys.get(a),
            keys.get(b),
            markup_escape(&d.edge(a, b))
        )?;
    }
    writeln!(out, "  </graph>")?;
    writeln!(out, "</graphml>")
}
